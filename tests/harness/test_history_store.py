"""The history store against real databases: a SQLite file and a PostgreSQL cluster of the
tests' own. Rows and figures round-trip, the schema is versioned, the baseline is chosen as
documented, and parallel writers (CI jobs at once) lose nothing."""

from __future__ import annotations

import math
import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, update

from harness.history.baseline import LAST_PASS, BaselineError, find_baseline, parse_choice
from harness.history.store import (
    METADATA,
    MIGRATIONS,
    SCHEMA_VERSION,
    Figure,
    HistoryError,
    HistoryStore,
    RunEntry,
    _driver_url,
    history_url,
)

WRITERS = 4
RUNS_PER_WRITER = 25


FIGURES = (Figure("headline", "p99(latency)", 12.5, 11.0, 14.0, "ms", 480),
           Figure("slo", "p99(latency) < 50ms", 12.5, None, 14.0, "ms", 480, "pass", 50.0))


def entry(scenario: str = "steady", verdict: str = "pass", run_dir: Path | str = "/nowhere",
          figures: tuple[Figure, ...] = FIGURES, **fields) -> RunEntry:
    return RunEntry(scenario=scenario, scenario_hash="ab" * 32, verdict=verdict, run_dir=str(run_dir),
                    figures=figures, **fields)


def test_a_run_and_its_figures_round_trip(history_db, tmp_path):
    stored = entry(run_dir=tmp_path, requests=600, git_commit="c0ffee", git_dirty=True, harness_version="0.1.0",
                   models={"model": "fraud", "versions": {"1": 100.0}}, machine={"cores": 2, "gpus": []},
                   figures=(Figure("headline", "error_rate", math.nan, 0.0, math.inf, "ratio"),))
    with HistoryStore.open(history_db) as store:
        run_id = store.add(stored)
        store.add(entry("other"))
        (back,) = store.runs("steady")
        assert store.run(run_id) == back == store.run_at(tmp_path)
    assert back.id == run_id and back.recorded_at
    assert back.models == {"model": "fraud", "versions": {"1": 100.0}} and back.git_dirty is True
    # no NaN or infinity in a database: unknown is NULL
    assert back.figure("error_rate") == Figure("headline", "error_rate", None, 0.0, None, "ratio")


def test_runs_are_listed_oldest_first_and_the_last_n_are_the_newest(history_db):
    with HistoryStore.open(history_db) as store:
        ids = [store.add(entry(requests=n)) for n in range(5)]
        assert [run.id for run in store.runs(last=3)] == ids[2:]
        assert [run.requests for run in store.runs()] == list(range(5))
        assert store.scenarios() == ["steady"]


def test_the_schema_is_versioned_and_a_newer_one_is_refused(history_db):
    with HistoryStore.open(history_db) as store:
        assert store.schema_version() == len(MIGRATIONS)
        reflected = inspect(store.engine)
        for table in METADATA.sorted_tables:  # the migrations build the tables the queries use
            assert {column["name"] for column in reflected.get_columns(table.name)} == set(table.c.keys())
        with store.engine.begin() as connection:
            connection.execute(update(SCHEMA_VERSION).values(version=len(MIGRATIONS) + 1))
    with pytest.raises(HistoryError, match="newer than this slogate knows"):
        HistoryStore.open(history_db)


def test_reading_a_history_that_does_not_exist_says_so(tmp_path):
    with pytest.raises(HistoryError, match="no history at"):
        HistoryStore.open(f"sqlite:///{tmp_path / 'none.sqlite'}", create=False)
    assert not (tmp_path / "none.sqlite").exists()
    with pytest.raises(HistoryError, match="history URL"):
        HistoryStore.open("nosuchdb://x")


def test_the_url_is_the_option_then_the_environment_then_sqlite_in_the_reports(monkeypatch, tmp_path):
    monkeypatch.delenv("SLOGATE_HISTORY_URL", raising=False)
    assert history_url(None, tmp_path) == f"sqlite:///{tmp_path.resolve() / 'history.sqlite'}"
    monkeypatch.setenv("SLOGATE_HISTORY_URL", "postgresql://ci@db/history")
    assert history_url(None, tmp_path) == "postgresql://ci@db/history"
    assert history_url("sqlite:///x.sqlite", tmp_path) == "sqlite:///x.sqlite"
    # postgresql:// is psycopg 3, the driver slogate installs (SQLAlchemy's default is psycopg2)
    assert create_engine(_driver_url(create_engine("postgresql://ci@db/h").url)).dialect.driver == "psycopg"


def run_dir(tmp_path: Path, name: str, records: bool = True) -> Path:
    directory = tmp_path / name
    directory.mkdir()
    if records:
        (directory / "requests.parquet").write_bytes(b"stored")
    return directory


def test_last_pass_is_the_newest_passing_unregressed_run_with_records(history_db, tmp_path):
    candidate = run_dir(tmp_path, "candidate")
    with HistoryStore.open(history_db) as store:
        assert "no baseline yet" in find_baseline(store, "steady", LAST_PASS, candidate).reason
        good = store.add(entry(run_dir=run_dir(tmp_path, "good")))
        store.add(entry(verdict="fail", run_dir=run_dir(tmp_path, "failed")))
        store.add(entry(run_dir=run_dir(tmp_path, "regressed"), regression="fail", baseline_id=good))
        store.add(entry(run_dir=run_dir(tmp_path, "gone", records=False)))
        store.add(entry("other", run_dir=run_dir(tmp_path, "other")))
        store.add(entry(run_dir=candidate))  # a run is never its own baseline
        assert find_baseline(store, "steady", LAST_PASS, candidate).run.id == good

        assert find_baseline(store, "steady", good, candidate).run.id == good
        assert find_baseline(store, "steady", good + 1, candidate).run.verdict == "fail"  # an id is taken as given
        for run_id, message in ((99, "no run #99 in the history"), (good + 4, "a run of 'other', not of 'steady'"),
                                (good + 3, "records are gone")):
            with pytest.raises(BaselineError, match=message):
                find_baseline(store, "steady", run_id, candidate)


def test_passing_runs_without_records_here_are_named_in_the_reason(tmp_path):
    with HistoryStore.open(f"sqlite:///{tmp_path / 'h.sqlite'}") as store:
        store.add(entry(run_dir=tmp_path / "elsewhere"))
        reason = find_baseline(store, "steady", LAST_PASS, tmp_path / "candidate").reason
    assert "1 passing run(s) of 'steady'" in reason and "none with its records on this machine" in reason


@pytest.mark.parametrize(("text", "choice"), [("last-pass", LAST_PASS), ("12", 12), ("#12", 12)])
def test_baseline_choices(text, choice):
    assert parse_choice(text) == choice


def test_a_malformed_baseline_choice_says_what_to_give():
    with pytest.raises(BaselineError, match="give last-pass or a run id"):
        parse_choice("lastpass")


def _write_runs(url: str, writer: int, start: multiprocessing.synchronize.Barrier) -> None:
    start.wait()  # every writer opens the new database at once: the migration races too
    with HistoryStore.open(url) as store:
        for index in range(RUNS_PER_WRITER):
            store.add(entry(f"writer-{writer}", requests=index))


def test_parallel_writers_lose_nothing(history_db):
    context = multiprocessing.get_context("fork")  # the writers start at once, without importing anew
    start = context.Barrier(WRITERS)
    writers = [context.Process(target=_write_runs, args=(history_db, writer, start)) for writer in range(WRITERS)]
    for process in writers:
        process.start()
    for process in writers:
        process.join(timeout=120)
    assert [process.exitcode for process in writers] == [0] * WRITERS
    with HistoryStore.open(history_db) as store:
        runs = store.runs()
        assert store.schema_version() == len(MIGRATIONS)
    assert len(runs) == WRITERS * RUNS_PER_WRITER and len({run.id for run in runs}) == len(runs)
    for writer in range(WRITERS):  # each writer's rows in its own order, each with its figures
        mine = [run for run in runs if run.scenario == f"writer-{writer}"]
        assert [run.requests for run in mine] == list(range(RUNS_PER_WRITER))
        assert all(len(run.figures) == 2 for run in mine)
