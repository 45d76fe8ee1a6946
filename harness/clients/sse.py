"""Incremental Server-Sent Events parser (WHATWG event-stream rules), fed raw socket chunks.

Chunks may split anywhere: inside a line, between CR and LF, inside a multi-byte UTF-8
character. Lines are therefore cut on bytes (the terminators are ASCII, so a cut never lands
inside a character) and decoded only when complete.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SseEvent:
    data: str
    event: str = "message"
    id: str | None = None


class SseParser:
    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._event = ""
        self._id: str | None = None

    def feed(self, chunk: bytes) -> list[SseEvent]:
        """Consume bytes; return the events they completed (possibly none)."""
        lines = (self._buffer + chunk).splitlines(keepends=True)
        self._buffer = b""
        # An unterminated last line waits for more bytes; so does one ending in a bare CR,
        # whose LF may be the first byte of the next chunk (CRLF is one terminator).
        if lines and not lines[-1].endswith(b"\n"):
            self._buffer = lines.pop()
        events: list[SseEvent] = []
        for line in lines:
            event = self._line(line.rstrip(b"\r\n").decode("utf-8", errors="replace"))
            if event is not None:
                events.append(event)
        return events

    def close(self) -> list[SseEvent]:
        """End of stream: a pending CR-terminated line still counts; an unfinished event is dropped."""
        pending, self._buffer = self._buffer, b""
        if not pending.endswith(b"\r"):
            return []
        event = self._line(pending[:-1].decode("utf-8", errors="replace"))
        return [] if event is None else [event]

    def _line(self, line: str) -> SseEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None  # comment / keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        return None  # "retry" and unknown fields are ignored

    def _dispatch(self) -> SseEvent | None:
        data, event = self._data, self._event
        self._data, self._event = [], ""
        if not data:
            return None
        return SseEvent("\n".join(data), event or "message", self._id)
