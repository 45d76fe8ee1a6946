"""The history database: one row per run (`runs`), its figures (`figures`) and the schema's
version (`schema_version`), in SQLAlchemy Core so that one store speaks SQLite (the default,
a file in the reports directory) and PostgreSQL (one database that every CI runner shares).

Opening a store brings its schema up to date under a lock that every writer takes, so CI
jobs that open a new database at the same moment neither race nor lose a row: SQLite takes
its write lock at BEGIN (BEGIN IMMEDIATE), in WAL mode with a busy timeout, so a writer
waits its turn instead of failing; PostgreSQL serialises the migration on an advisory lock,
and rows insert concurrently.
"""

from __future__ import annotations

import contextlib
import math
import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

HISTORY_ENV = "SLOGATE_HISTORY_URL"
DEFAULT_FILE = "history.sqlite"
BUSY_TIMEOUT_S = 60.0  # a writer waits this long for another's lock (a write takes milliseconds)
MIGRATION_LOCK = 0x510_6A7E  # PostgreSQL advisory lock key: slogate's schema migrations

METADATA = MetaData()
SCHEMA_VERSION = Table("schema_version", METADATA, Column("version", Integer, nullable=False))
RUNS = Table(
    "runs", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scenario", String(200), nullable=False, index=True),
    Column("scenario_hash", String(64), nullable=False),
    Column("started_at", String(40)),  # ISO-8601 UTC, summary.json's
    Column("recorded_at", String(40), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("regression", String(16)),  # pass | fail | inconclusive, where a regression gate judged the run
    Column("baseline_id", Integer),  # the run it was judged against
    Column("requests", Integer),
    Column("git_commit", String(64)),
    Column("git_dirty", Boolean),
    Column("harness_version", String(40)),
    Column("server_version", String(80)),
    Column("models", JSON),  # the model, each version's traffic share and what served it
    Column("machine", JSON),  # host, cores, CPU model, GPUs, platform
    Column("run_dir", String(1024), nullable=False),
)
FIGURES = Table(
    "figures", METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("kind", String(16), nullable=False),  # headline | slo
    Column("name", String(300), nullable=False),
    Column("estimate", Float),
    Column("lo", Float),
    Column("hi", Float),
    Column("unit", String(16)),
    Column("n", Integer),
    Column("verdict", String(16)),  # an SLO's
    Column("threshold", Float),  # an SLO's
)


def _create_run_tables(connection: Connection) -> None:
    METADATA.create_all(connection, tables=[RUNS, FIGURES])


# Step i brings a database from version i to i + 1. A released step never changes: a change
# to a table appends a step that alters it (and the first step then creates the table as it
# was first released).
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_create_run_tables,)


class HistoryError(Exception):
    """The history database cannot be opened, read or written; str() says which and why."""


@dataclass(frozen=True)
class Figure:
    """One figure of a run: a headline figure (`p99(latency)`) or an SLO's result."""

    kind: str  # headline | slo
    name: str
    estimate: float | None
    lo: float | None = None
    hi: float | None = None
    unit: str = ""
    n: int | None = None
    verdict: str | None = None
    threshold: float | None = None


FIGURE_FIELDS = tuple(Figure.__dataclass_fields__)


@dataclass(frozen=True)
class RunEntry:
    """A run as the history holds it; `id` and `recorded_at` are the store's."""

    scenario: str
    scenario_hash: str
    verdict: str
    run_dir: str
    started_at: str | None = None
    requests: int | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    harness_version: str | None = None
    server_version: str | None = None
    models: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    regression: str | None = None
    baseline_id: int | None = None
    figures: tuple[Figure, ...] = ()
    id: int | None = None
    recorded_at: str | None = None

    def figure(self, name: str) -> Figure | None:
        return next((f for f in self.figures if f.name == name), None)


def history_url(explicit: str | None, reports_dir: Path) -> str:
    """The database to use: the one given, else $SLOGATE_HISTORY_URL, else SQLite in `reports_dir`."""
    return explicit or os.environ.get(HISTORY_ENV) or f"sqlite:///{(reports_dir / DEFAULT_FILE).resolve()}"


def shown(url: str) -> str:
    """The URL with its password hidden, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class HistoryStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, create: bool = True) -> HistoryStore:
        """The store at `url`, its schema brought up to date. With `create=False` a SQLite file
        that does not exist is an error rather than a new, empty history."""
        try:
            parsed = _driver_url(make_url(url))
            if parsed.get_backend_name() == "sqlite" and not create and not Path(parsed.database or "").is_file():
                raise HistoryError(f"no history at {parsed.database} (a `slogate run` with --out there writes one)")
            store = cls(_engine(parsed))
        except (ArgumentError, ImportError) as exc:  # a malformed URL, a database without its driver
            raise HistoryError(f"history URL {shown(url)}: {exc}") from None
        try:
            store._migrate()
        except HistoryError:
            store.close()
            raise
        return store

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self, run: RunEntry) -> int:
        """Store a run and its figures in one transaction; its id."""
        recorded_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        row = {column.key: getattr(run, column.key) for column in RUNS.c if column.key not in ("id", "recorded_at")}
        with self._connection(write=True) as connection:
            run_id = connection.execute(insert(RUNS).values(**row, recorded_at=recorded_at)).inserted_primary_key[0]
            if run.figures:
                connection.execute(insert(FIGURES), [_figure_row(run_id, figure) for figure in run.figures])
        return int(run_id)

    def set_regression(self, run_id: int, outcome: str, baseline_id: int) -> None:
        """Record the regression gate's outcome for a stored run (a failed one is no later run's last-pass)."""
        with self._connection(write=True) as connection:
            connection.execute(update(RUNS).where(RUNS.c.id == run_id).values(regression=outcome,
                                                                               baseline_id=baseline_id))

    def runs(self, scenario: str | None = None, last: int | None = None) -> list[RunEntry]:
        """Runs in the order they were recorded (the last `last` of them), with their figures."""
        query = select(RUNS).order_by(RUNS.c.id.desc())
        if scenario is not None:
            query = query.where(RUNS.c.scenario == scenario)
        if last is not None:
            query = query.limit(last)
        return self._with_figures(reversed(self._rows(query)))

    def run(self, run_id: int) -> RunEntry | None:
        found = self._with_figures(self._rows(select(RUNS).where(RUNS.c.id == run_id)))
        return found[0] if found else None

    def run_at(self, run_dir: Path) -> RunEntry | None:
        """The latest run recorded with this run directory."""
        query = select(RUNS).where(RUNS.c.run_dir == str(run_dir.resolve())).order_by(RUNS.c.id.desc()).limit(1)
        found = self._with_figures(self._rows(query))
        return found[0] if found else None

    def passing(self, scenario: str) -> list[RunEntry]:
        """The scenario's runs whose SLOs passed and that no regression gate failed, newest first."""
        query = (select(RUNS).where(RUNS.c.scenario == scenario, RUNS.c.verdict == "pass")
                 .where(RUNS.c.regression.is_(None) | (RUNS.c.regression != "fail")).order_by(RUNS.c.id.desc()))
        return [_entry(row, ()) for row in self._rows(query)]

    def scenarios(self) -> list[str]:
        return [row["scenario"] for row in self._rows(select(RUNS.c.scenario).distinct().order_by(RUNS.c.scenario))]

    def schema_version(self) -> int:
        with self._connection() as connection:
            return _version(connection)

    def _rows(self, query: Any) -> list[Any]:
        with self._connection() as connection:
            return list(connection.execute(query).mappings())

    def _with_figures(self, rows: Any) -> list[RunEntry]:
        rows = list(rows)
        if not rows:
            return []
        query = select(FIGURES).where(FIGURES.c.run_id.in_([row["id"] for row in rows])).order_by(FIGURES.c.id)
        by_run: dict[int, list[Figure]] = {}
        for figure in self._rows(query):
            by_run.setdefault(figure["run_id"], []).append(Figure(**{name: figure[name] for name in FIGURE_FIELDS}))
        return [_entry(row, tuple(by_run.get(row["id"], ()))) for row in rows]

    def _migrate(self) -> None:
        with self._connection(write=True) as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
            SCHEMA_VERSION.create(connection, checkfirst=True)
            current = _version(connection)
            if current > len(MIGRATIONS):
                raise HistoryError(f"the history database is at schema version {current}, newer than this slogate "
                                   f"knows ({len(MIGRATIONS)}): upgrade slogate")
            if current == len(MIGRATIONS):
                return
            for step in MIGRATIONS[current:]:
                step(connection)
            stamp = update(SCHEMA_VERSION) if current else insert(SCHEMA_VERSION)
            connection.execute(stamp.values(version=len(MIGRATIONS)))

    @contextlib.contextmanager
    def _connection(self, write: bool = False) -> Iterator[Connection]:
        """A connection (a transaction committed at the end when `write`); a database error
        becomes a HistoryError that names the database."""
        try:
            with (self.engine.begin() if write else self.engine.connect()) as connection:
                yield connection
        except SQLAlchemyError as exc:
            raise HistoryError(f"history {shown(str(self.engine.url))}: {exc}") from None


def _version(connection: Connection) -> int:
    return connection.scalar(select(func.max(SCHEMA_VERSION.c.version))) or 0


def _driver_url(url: URL) -> URL:
    """`postgresql://` means psycopg (3), the driver slogate installs, not SQLAlchemy's default psycopg2."""
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def _engine(url: URL) -> Engine:
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_S})

    # SQLAlchemy's recipe for SQLite transactions that lock at BEGIN: sqlite3 stays out of
    # transaction control, and every transaction takes the write lock up front, so a reader
    # that turns writer cannot meet a lock it must abandon (SQLITE_BUSY_SNAPSHOT)
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            try:
                cursor.execute("PRAGMA journal_mode=WAL")  # persistent: readers never wait for a writer again
            except sqlite3.OperationalError:
                pass  # another writer holds the file while it switches it: the locks work in either mode
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _figure_row(run_id: int, figure: Figure) -> dict[str, Any]:
    row = {name: getattr(figure, name) for name in FIGURE_FIELDS}
    for name in ("estimate", "lo", "hi", "threshold"):
        value = row[name]
        row[name] = None if value is None or not math.isfinite(value) else float(value)  # SQLite has no NaN
    return {**row, "run_id": run_id}


def _entry(row: Any, figures: tuple[Figure, ...]) -> RunEntry:
    return replace(RunEntry(**{column.key: row[column.key] for column in RUNS.c}), figures=figures)
