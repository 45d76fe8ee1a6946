"""The one error type every request-path module raises; the app turns it into JSON."""

from __future__ import annotations


class RequestError(Exception):
    """A client-visible failure: HTTP status, message and the offending field (if any)."""

    def __init__(
        self,
        status: int,
        error: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict[str, str | None]:
        return {"error": self.error, "field": self.field}


CLIENT_CLOSED = 499  # nginx's "client closed request": counted in /metrics, answered to nobody


def client_closed() -> RequestError:
    """The request's client hung up before its answer: it is dropped, never computed."""
    return RequestError(CLIENT_CLOSED, "client closed request")
