"""API errors as Kubernetes ``Status`` objects (meta/v1 Status)."""

from __future__ import annotations

# HTTP code -> the StatusReason the API server uses for it by default.
DEFAULT_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class ApiError(Exception):
    """An error answered to the client as a Status object with ``code``."""

    def __init__(self, code: int, reason: str | None, message: str,
                 details: dict | None = None, headers: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason or DEFAULT_REASONS.get(code, "Unknown")
        self.message = message
        self.details = details
        self.headers = dict(headers or {})

    def status(self) -> dict:
        return failure_status(self.code, self.reason, self.message, self.details)


def failure_status(code: int, reason: str, message: str, details: dict | None = None) -> dict:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details is not None:
        body["details"] = details
    return body


def success_status(details: dict | None = None) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
    if details is not None:
        body["details"] = details
    return body


def _details(rtype, name: str | None) -> dict:
    d = {"kind": rtype.resource}
    if name:
        d["name"] = name
    if rtype.group:
        d["group"] = rtype.group
    return d


def not_found(rtype, name: str) -> ApiError:
    return ApiError(404, "NotFound", f'{rtype.qualified} "{name}" not found', _details(rtype, name))


def already_exists(rtype, name: str) -> ApiError:
    return ApiError(409, "AlreadyExists", f'{rtype.qualified} "{name}" already exists',
                    _details(rtype, name))


def conflict(rtype, name: str, why: str | None = None) -> ApiError:
    why = why or ("the object has been modified; please apply your changes "
                  "to the latest version and try again")
    return ApiError(409, "Conflict",
                    f'Operation cannot be fulfilled on {rtype.qualified} "{name}": {why}',
                    _details(rtype, name))


def invalid(rtype, name: str, causes: list[tuple[str, str, str]]) -> ApiError:
    """``causes`` is a list of (field, cause reason, message)."""
    text = ", ".join(f"{field}: {msg}" for field, _, msg in causes)
    kind_q = rtype.kind + (f".{rtype.group}" if rtype.group else "")
    details = _details(rtype, name)
    details["kind"] = rtype.kind
    details["causes"] = [{"reason": r, "message": m, "field": f} for f, r, m in causes]
    if len(causes) > 1:
        text = "[" + text + "]"
    return ApiError(422, "Invalid", f'{kind_q} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def expired(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def forbidden(message: str, rtype=None, name: str | None = None) -> ApiError:
    return ApiError(403, "Forbidden", message, _details(rtype, name) if rtype else None)


def unauthorized() -> ApiError:
    return ApiError(401, "Unauthorized", "Unauthorized")


def resource_not_found() -> ApiError:
    return ApiError(404, "NotFound", "the server could not find the requested resource", {})


def method_not_allowed(method: str) -> ApiError:
    return ApiError(405, "MethodNotAllowed",
                    f"the server does not allow this method on the requested resource ({method})", {})
