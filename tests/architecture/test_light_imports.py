"""What `slogate` imports before it has work for them: neither scipy nor matplotlib nor jinja2
(~3 s together on these machines) load to parse the command line, read every shipped
scenario or start a run's target. `slogate validate` took 4 s when they did, and `slogate
run` started its server only after them; the runner now imports them while its target
starts (harness/session/runner.py, CONCLUSION_MODULES).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEAR = ("scipy", "matplotlib", "jinja2")
PROBE = """
import json, sys
from pathlib import Path
import harness.entry.cli
import harness.session.runner
from harness.scenario.loader import load_scenario
for path in sorted(Path("scenarios").glob("*.yaml")):
    load_scenario(path)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules} & set(sys.argv[1:]))))
"""


def test_reading_every_scenario_and_starting_a_run_imports_no_dear_module() -> None:
    probe = subprocess.run([sys.executable, "-c", PROBE, *DEAR], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == []


def test_the_conclusion_modules_are_the_ones_that_import_them() -> None:
    """The runner's list names modules that do import them: a list gone stale would load nothing early."""
    probe = subprocess.run(
        [sys.executable, "-c", "import json, sys; from harness.session.runner import CONCLUSION_MODULES, "
         "_import_conclusion; _import_conclusion(); print(json.dumps(sorted({n.split('.')[0] for n in sys.modules} "
         "& set(sys.argv[1:]))))", *DEAR],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == sorted(DEAR)


@pytest.mark.parametrize("package", ["harness.analysis", "harness.report"])
def test_every_lazy_export_is_its_modules_object_after_every_submodule_loaded(package: str) -> None:
    """An export named like a submodule would turn into that module once the submodule is
    imported (the import system sets the attribute): `harness.analysis.analyze` did."""
    root = importlib.import_module(package)
    for found in pkgutil.iter_modules(root.__path__, f"{package}."):
        importlib.import_module(found.name)
    for name in root.__all__:
        assert not isinstance(getattr(root, name), ModuleType), f"{package}.{name} is a module"
