"""Debian's `prometheus` package (prometheus, promtool) for the rules tests: a test skips where
it is missing, except in CI (CI=true), where scripts/install.sh installs it and a missing one
is a failure."""

from __future__ import annotations

import os
import shutil

import pytest


def need_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        message = f"{name} is not on PATH (Debian package prometheus; scripts/install.sh installs it as root)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found
