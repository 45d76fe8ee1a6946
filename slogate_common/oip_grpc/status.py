"""gRPC status codes and the HTTP statuses they stand for, as google.rpc.Code documents the pairs.

The reference server ends a failed call with the code of its HTTP status (a 429 is
RESOURCE_EXHAUSTED), and the harness records a failed call under the HTTP status of its
code, so records and the analysis read alike whichever transport the run used.
"""

from __future__ import annotations

from grpc import StatusCode

HTTP_STATUS: dict[StatusCode, int] = {
    StatusCode.OK: 200,
    StatusCode.CANCELLED: 499,
    StatusCode.UNKNOWN: 500,
    StatusCode.INVALID_ARGUMENT: 400,
    StatusCode.DEADLINE_EXCEEDED: 504,
    StatusCode.NOT_FOUND: 404,
    StatusCode.ALREADY_EXISTS: 409,
    StatusCode.PERMISSION_DENIED: 403,
    StatusCode.UNAUTHENTICATED: 401,
    StatusCode.RESOURCE_EXHAUSTED: 429,
    StatusCode.FAILED_PRECONDITION: 400,
    StatusCode.ABORTED: 409,
    StatusCode.OUT_OF_RANGE: 400,
    StatusCode.UNIMPLEMENTED: 501,
    StatusCode.INTERNAL: 500,
    StatusCode.UNAVAILABLE: 503,
    StatusCode.DATA_LOSS: 500,
}
# One code per status a server sends; where several codes share a status, the one meant by it.
# 413 (a body too large) is RESOURCE_EXHAUSTED, as gRPC's own message size limit answers.
GRPC_CODE: dict[int, StatusCode] = {
    400: StatusCode.INVALID_ARGUMENT,
    401: StatusCode.UNAUTHENTICATED,
    403: StatusCode.PERMISSION_DENIED,
    404: StatusCode.NOT_FOUND,
    409: StatusCode.ABORTED,
    413: StatusCode.RESOURCE_EXHAUSTED,
    429: StatusCode.RESOURCE_EXHAUSTED,
    499: StatusCode.CANCELLED,
    500: StatusCode.INTERNAL,
    501: StatusCode.UNIMPLEMENTED,
    503: StatusCode.UNAVAILABLE,
    504: StatusCode.DEADLINE_EXCEEDED,
}


def grpc_code(status: int) -> StatusCode:
    """The code of an HTTP error status; one without its own code is FAILED_PRECONDITION (4xx) or UNKNOWN."""
    return GRPC_CODE.get(status) or (StatusCode.FAILED_PRECONDITION if 400 <= status < 500 else StatusCode.UNKNOWN)


def http_status(code: StatusCode) -> int:
    return HTTP_STATUS[code]
