"""Parsing an OpenAI-style SSE stream of 1,000 chunks, cut at awkward places as sockets do."""

from __future__ import annotations

import orjson

from harness.clients.sse import SseParser

CHUNKS = 1000


def stream() -> list[bytes]:
    events = b"".join(
        b"data: " + orjson.dumps({"id": "cmpl-1", "object": "text_completion", "choices": [
            {"index": 0, "text": f" token{i}", "finish_reason": None}]}) + b"\n\n"
        for i in range(CHUNKS)) + b"data: [DONE]\n\n"
    size = len(events) // CHUNKS + 7  # reads that straddle event boundaries
    return [events[i : i + size] for i in range(0, len(events), size)]


def test_parse_a_thousand_chunk_stream(benchmark) -> None:
    reads = stream()

    def parse() -> int:
        parser = SseParser()
        return sum(len(parser.feed(read)) for read in reads) + len(parser.close())

    assert benchmark(parse) == CHUNKS + 1
