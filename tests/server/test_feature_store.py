"""The online feature lookup against a real redis-server: a stored card is served from the
store, an unknown one from the fallback, and a store that is down or paused is answered by
the fallback within the lookup's timeout (v1) or not at all (v2, no timeout, no fallback),
each counted in /metrics by reason. The tests run in file order: the store dies last."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from server_process import ServerProcess, free_port

from reference_server.demo.card_features import CARDS, KEY, KEY_PREFIX, card_features_csv
from reference_server.demo.card_features import STORED as STORED_FIELDS

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")

STORED = {"account_age_days": 1200, "avg_amount_30d": 35.0, "txn_count_24h": 9, "failed_logins_7d": 4}
# card_id, then the transaction's own columns: amount, hour, merchant_risk, distance_from_home_km,
# amount_to_avg_ratio, card_present, is_foreign, channel_web, channel_mobile, channel_pos
TRANSACTION = [45.0, 3, 0.6, 80.0, 4.0, 0, 1, 1, 0, 0]


class RedisProcess:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                         "--save", "", "--appendonly", "no"], cwd=workdir,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.client = redis.Redis(port=self.port, socket_timeout=2)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not answer PING")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()  # SIGKILL ends a stopped process too
            self.process.wait()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisProcess]:
    process = RedisProcess(tmp_path_factory.mktemp("redis"))
    process.client.hset(f"{KEY_PREFIX}7", mapping=STORED)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def online(demo_repo: Path, store: RedisProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    server = ServerProcess(["--model-repo", str(demo_repo), "--models", "fraud-online",
                            "--feature-store", f"redis://127.0.0.1:{store.port}"],
                           tmp_path_factory.mktemp("logs") / "server.log").start()
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client
    assert server.stop() == 0, server.log()


def infer(client: httpx.Client, card: float, version: str = "1", timeout: float = 30) -> httpx.Response:
    body = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 11], "data": [card, *TRANSACTION]}]}
    return client.post(f"/v2/models/fraud-online/versions/{version}/infer", json=body, timeout=timeout)


def score(response: httpx.Response) -> float:
    assert response.status_code == 200, response.text
    return response.json()["outputs"][0]["data"][0]


def counted(client: httpx.Client, name: str, **labels: str) -> float:
    wanted = {"model": "fraud-online", "version": "1", **labels}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in wanted.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_request_sends_the_card_and_the_transaction_and_the_store_fills_the_rest(online: httpx.Client) -> None:
    meta = online.get("/v2/models/fraud-online").json()
    assert meta["inputs"][0]["shape"] == [-1, 11]
    assert meta["parameters"]["feature_names"][0] == "card_id"
    assert not set(STORED) & set(meta["parameters"]["feature_names"])
    assert meta["parameters"]["baseline"]["features"]["card_id"]["integer"] is True  # ids to draw from
    hit = infer(online, 7)
    assert hit.headers["x-feature-source"] == "store"
    assert counted(online, "slogate_feature_hits_total") >= 1


def test_an_unknown_card_is_served_by_the_fallback_and_counted(online: httpx.Client) -> None:
    before = counted(online, "slogate_feature_fallbacks_total", reason="miss", filled_by="cached")
    miss = infer(online, 999_999)
    assert miss.headers["x-feature-source"] == "fallback:miss"
    assert score(miss) != score(infer(online, 7))  # the baseline means, not card 7's aggregates
    assert counted(online, "slogate_feature_fallbacks_total", reason="miss", filled_by="cached") == before + 1
    assert infer(online, 999_999, version="2").status_code == 503  # v2 has no fallback


def test_an_entity_id_must_be_a_whole_number(online: httpx.Client) -> None:
    answer = infer(online, 7.5)
    assert answer.status_code == 400 and "card_id" in answer.json()["error"]


def test_a_paused_store_times_out_into_the_fallback_and_v2_waits_it_out(online: httpx.Client,
                                                                       store: RedisProcess) -> None:
    stored = score(infer(online, 7))
    os.kill(store.process.pid, signal.SIGSTOP)
    try:
        started = time.perf_counter()
        paused = infer(online, 7)
        assert time.perf_counter() - started < 1.0  # 20 ms timeout, plus a busy box's margin
        assert paused.headers["x-feature-source"] == "fallback:timeout"
        assert score(paused) == stored  # the cached fallback: card 7's last stored values
        assert counted(online, "slogate_feature_fallbacks_total", reason="timeout", filled_by="cached") >= 1
        with pytest.raises(httpx.ReadTimeout):
            infer(online, 7, version="2", timeout=1.5)  # no timeout of its own: it hangs with the store
    finally:
        os.kill(store.process.pid, signal.SIGCONT)
    assert infer(online, 7).headers["x-feature-source"] == "store"


def test_a_dead_store_is_a_fallback_for_v1_and_a_503_for_v2(online: httpx.Client, store: RedisProcess) -> None:
    stored = score(infer(online, 7))
    store.stop()
    down = infer(online, 7)
    assert down.headers["x-feature-source"] == "fallback:unavailable" and score(down) == stored
    assert counted(online, "slogate_feature_fallbacks_total", reason="unavailable", filled_by="cached") >= 1
    refused = infer(online, 7, version="2")
    assert refused.status_code == 503 and "unavailable" in refused.json()["error"]


def test_the_shipped_store_contents_are_the_generators() -> None:
    shipped = Path(__file__).resolve().parents[2] / "scenarios" / "data" / "card_features.csv"
    text = card_features_csv()
    assert shipped.read_text() == text, f"regenerate: python -m reference_server.demo.card_features {shipped}"
    header, *rows = text.splitlines()
    assert header.split(",") == [KEY, *STORED_FIELDS] and len(rows) == CARDS
