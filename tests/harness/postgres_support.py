"""A throwaway PostgreSQL cluster for tests: initdb into a temporary directory, started on a
free loopback port with its socket in that directory, stopped and removed afterwards.

Debian's `postgresql` package (scripts/install.sh installs it) puts the server binaries in
/usr/lib/postgresql/<major>/bin. PostgreSQL refuses to run as root, so as root the cluster
runs as the `postgres` user the package creates.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.server.server_process import free_port

DEBIAN_ROOT = Path("/usr/lib/postgresql")
START_TIMEOUT_S = 60


def server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl: on PATH, else Debian's newest major version."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    found = sorted(DEBIAN_ROOT.glob("*/bin/initdb"), key=lambda path: int(re.sub(r"\D", "", path.parts[-3]) or 0))
    return found[-1].parent if found else None


class PostgresCluster:
    def __init__(self, binaries: Path) -> None:
        self.binaries = binaries
        self.root = Path(tempfile.mkdtemp(prefix="slogate-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._as_owner: list[str] = []
        self._databases = 0

    def start(self) -> PostgresCluster:
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")  # Debian's package creates it; KeyError names what is missing
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self._as_owner = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-U", "slogate", "--auth=trust", "-E", "UTF8", "--no-locale",
                  "--no-sync")
        options = f"-k {self.root} -c listen_addresses=127.0.0.1 -p {self.port} -c fsync=off -c max_connections=50"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-w", "-t",
                  str(START_TIMEOUT_S), "-o", options, "start")
        return self

    def new_database(self) -> str:
        """A fresh, empty database in the cluster: its SQLAlchemy URL."""
        self._databases += 1
        name = f"history_{self._databases}"
        with psycopg.connect(self._url_of("postgres"), autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self._url_of(name)

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _url_of(self, database: str) -> str:
        return f"postgresql://slogate@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run([*self._as_owner, str(self.binaries / program), *args], capture_output=True, text=True,
                              timeout=START_TIMEOUT_S + 30, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            raise RuntimeError(f"{program} failed ({done.returncode}): {done.stdout}{done.stderr}"
                               f"{log.read_text() if log.exists() else ''}")
