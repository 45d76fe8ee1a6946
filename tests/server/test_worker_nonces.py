"""--workers N with HMAC signing: a signed request is accepted once, whichever worker the kernel
hands its connection to (reference_server/worker_nonces.py)."""

from __future__ import annotations

import multiprocessing
import tempfile
from collections import Counter
from pathlib import Path

import httpx
import pytest
from server_process import ServerProcess

from reference_server.auth import WINDOW_S
from reference_server.worker_nonces import SharedNonces
from reference_server.workers_dir import create_journal
from tests.server.test_auth import BODY, INFER, SECRET, signed

NONCES = [f"nonce-{i}" for i in range(300)]


def claim_all(directory: str, start: float) -> list[str]:
    store = SharedNonces(Path(directory))
    return [nonce for nonce in NONCES if store.check_and_add(nonce, start)]


def test_processes_racing_for_the_same_nonces_accept_each_exactly_once(tmp_path: Path) -> None:
    create_journal(tmp_path)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        accepted = pool.starmap(claim_all, [(str(tmp_path), 100.0)] * 3)
    counts = Counter(nonce for claimed in accepted for nonce in claimed)
    assert counts == Counter(NONCES)


def test_a_nonce_is_refused_within_the_window_and_accepted_again_after_it(tmp_path: Path) -> None:
    create_journal(tmp_path)
    first, second = SharedNonces(tmp_path), SharedNonces(tmp_path)
    assert first.check_and_add("n", 1_000.0)
    assert not second.check_and_add("n", 1_000.0 + 2 * WINDOW_S - 1)
    assert second.check_and_add("n", 1_000.0 + 2 * WINDOW_S + 1)  # its row expired, though not yet purged
    assert not first.check_and_add("n", 1_000.0 + 2 * WINDOW_S + 2)


@pytest.mark.integration
def test_a_signed_request_replayed_to_every_worker_is_served_once(demo_repo: Path, tmp_path: Path) -> None:
    (tmp_path / "hmac").write_text(SECRET + "\n")
    (tmp_path / "keys").write_text("key-alpha-123\n")
    # a short TMPDIR of its own: the workers' Unix socket paths are limited to ~100 bytes
    with tempfile.TemporaryDirectory(prefix="w", dir="/tmp") as tmp:
        server = ServerProcess(["--model-repo", str(demo_repo), "--workers", "2", "--models", "fraud",
                                "--api-keys", str(tmp_path / "keys"), "--hmac-secret-file", str(tmp_path / "hmac")],
                               tmp_path / "server.log", env={"TMPDIR": tmp}).start()
        try:
            headers = signed("POST", INFER, BODY)
            # each on a connection of its own, so both workers are handed some
            with httpx.Client(base_url=server.url, limits=httpx.Limits(max_keepalive_connections=0)) as client:
                answers = Counter(client.post(INFER, content=BODY, headers=headers).status_code for _ in range(40))
        finally:
            assert server.stop() == 0
    assert answers == Counter({200: 1, 401: 39})
