"""--engine ray with HMAC signing: a signed request is accepted once, whichever replica Serve's
proxy routes it to (the replicas share the driver's nonce table: reference_server/worker_nonces.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest
from server_process import ServerProcess

from tests.server.test_auth import BODY, SECRET, signed
from tests.server.test_ray_engine import API_KEY, MODEL, REPLICAS, api, sim_repo  # noqa: F401 (a fixture)

pytestmark = [pytest.mark.ray, pytest.mark.integration]
INFER = f"/v2/models/{MODEL}/infer"


def test_a_signed_request_replayed_to_every_replica_is_served_once(sim_repo: Path, tmp_path: Path):  # noqa: F811
    (tmp_path / "keys").write_text(API_KEY + "\n")
    (tmp_path / "hmac").write_text(SECRET + "\n")
    server = ServerProcess(["--engine", "ray", "--replicas", str(REPLICAS), "--model-repo", str(sim_repo),
                            "--models", MODEL, "--api-keys", str(tmp_path / "keys"),
                            "--hmac-secret-file", str(tmp_path / "hmac"), "--torch-threads", "1"],
                           tmp_path / "server.log")
    server.start(ready_timeout_s=240, headers=api())
    try:
        headers = signed("POST", INFER, BODY, token=API_KEY)
        with httpx.Client(base_url=server.url, limits=httpx.Limits(max_keepalive_connections=0), timeout=30) as client:
            answers = Counter(client.post(INFER, content=BODY, headers=headers).status_code for _ in range(40))
    finally:
        assert server.stop(timeout_s=60) == 0
    assert answers == Counter({200: 1, 401: 39})
