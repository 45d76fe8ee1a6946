"""`kind: redis`: a redis-server on a loopback port, with no persistence (a restart starts it
empty, and slogate seeds it again), seeded from a CSV: each row a hash `<prefix><key>`
whose fields are the other columns.

    services:
      - {name: features, kind: redis, restart: always, seed: {file: data/card_features.csv, key: card_id, prefix: "card:"}}

The seed's commands are encoded once, at the first start (before the load), and written raw:
a restart under load seeds the store again on the send loop's own event loop, where
encoding every row again would take CPU from the sends.
"""

from __future__ import annotations

import asyncio
import csv
import shutil
from collections.abc import Callable
from functools import cached_property
from typing import ClassVar, Literal

from pydantic import Field, field_validator, model_validator

from harness.fields import ScenarioPath, Strict
from harness.targets.services import ServiceSpec, service_kinds

PING_EVERY_S = 0.02


class RedisSeed(Strict):
    file: ScenarioPath  # a CSV with a header row
    key: str  # the column whose value names each hash
    prefix: str = ""

    @model_validator(mode="after")
    def _key_is_a_column(self) -> RedisSeed:
        try:
            with self.file.open(newline="") as handle:
                header = next(csv.reader(handle), [])
        except OSError as exc:
            raise ValueError(f"file: cannot read {self.file}: {exc.strerror}") from None
        if self.key not in header:
            raise ValueError(f"key: {self.key!r} is no column of {self.file.name} ({', '.join(header)})")
        if len(header) < 2:
            raise ValueError(f"file: {self.file.name} has no column beside the key to store")
        return self

    @cached_property
    def commands(self) -> tuple[bytes, int]:
        """Every row's HSET in the Redis protocol, and how many there are."""
        with self.file.open(newline="") as handle:
            rows = list(csv.DictReader(handle))
        encoded = [resp("HSET", f"{self.prefix}{row.pop(self.key)}", *(x for pair in row.items() for x in pair))
                   for row in rows]
        return b"".join(encoded), len(encoded)


def resp(*words: str) -> bytes:
    """One command as a RESP array of bulk strings."""
    parts = [f"*{len(words)}\r\n".encode()]
    for word in words:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


@service_kinds.register_model("redis")
class RedisService(ServiceSpec):
    kind: Literal["redis"] = "redis"
    binary: str = Field(default="redis-server", validate_default=True)
    seed: RedisSeed | None = None
    scheme: ClassVar[str] = "redis"

    @field_validator("binary")
    @classmethod
    def _installed(cls, binary: str) -> str:
        if shutil.which(binary) is None:
            raise ValueError(f"{binary} is not on PATH: install Redis (Debian: apt-get install redis-server; "
                             "scripts/install.sh does)")
        return binary

    def command(self, port: int) -> list[str]:
        # --save '' and no AOF: nothing on disk, so a killed store comes back empty, as a cache does
        return [self.binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    async def set_up(self, port: int, alive: Callable[[], bool]) -> None:
        commands, count = self.seed.commands if self.seed is not None else (b"", 0)
        while True:
            try:
                await _send(port, resp("PING") + commands, count + 1)
                return
            except OSError:  # not listening yet (refused), or not loaded yet (an error reply)
                if not alive():
                    raise RuntimeError("redis-server exited before it answered PING") from None
                await asyncio.sleep(PING_EVERY_S)


async def _send(port: int, commands: bytes, replies: int) -> None:
    """Write pipelined commands and read their `replies` one-line answers; an error reply raises OSError."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(commands)
        await writer.drain()
        for _ in range(replies):
            line = await reader.readline()
            if not line or line.startswith(b"-"):
                raise OSError(f"redis answered {line.decode(errors='replace').strip() or 'nothing'}")
    finally:
        writer.close()
