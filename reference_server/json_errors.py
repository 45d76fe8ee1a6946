"""The Starlette sub-apps (/admin, /v1) answer their errors as the raw /v2 front does: JSON
`{"error", "field"}`, never Starlette's plain-text 404 and 405."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import RequestError

Handler = Callable[[Request, Exception], Awaitable[Response]]


async def _request_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)  # an unknown route (404) or method (405, with its allow header)
    return JSONResponse({"error": exc.detail, "field": None}, status_code=exc.status_code, headers=exc.headers)


def json_error_handlers() -> dict[type[Exception], Handler]:
    return {RequestError: _request_error, HTTPException: _http_error}
