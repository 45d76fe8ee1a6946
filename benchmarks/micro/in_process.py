"""An HTTP/1.1 connection pool whose connections answer every request at once, in process.

The real `_Connection` protocol (httptools parsing, keep-alive, deadlines) sits on a
transport that feeds it one canned response for each request written: the send path's own
CPU cost, with no socket, no kernel and no server in the measurement."""

from __future__ import annotations

import asyncio

import orjson

from harness.clients.http1 import Http1Pool, _Connection

OIP_ANSWER = orjson.dumps({"model_name": "fraud", "model_version": "1", "id": "1",
                           "outputs": [{"name": "score", "datatype": "FP32", "shape": [1, 1], "data": [0.0123]}]})


def http_response(body: bytes) -> bytes:
    head = (f"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
            "x-model-version: 1\r\n\r\n").encode()
    return head + body


class AnsweringTransport(asyncio.Transport):
    def __init__(self, protocol: asyncio.Protocol, response: bytes) -> None:
        super().__init__()
        self.protocol = protocol
        self.response = response
        self.closing = False

    def write(self, data: bytes) -> None:
        self.protocol.data_received(self.response)

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


class AnsweringPool(Http1Pool):
    response: bytes = http_response(OIP_ANSWER)

    async def _connect(self, timeout_s: float) -> _Connection:
        connection = _Connection(self)
        connection.connection_made(AnsweringTransport(connection, self.response))
        return connection
