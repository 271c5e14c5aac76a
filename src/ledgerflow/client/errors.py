"""What can go wrong talking to a ledgerflow server."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .models import Job


class ClientError(Exception):
    """Base class of every error the client raises."""


class TransportError(ClientError):
    """The server could not be reached, or the connection broke (timeouts included)."""


class ProtocolError(ClientError):
    """The server answered something this client does not understand."""


class ApiError(ClientError):
    """The server answered with an HTTP error; ``detail`` is its explanation."""

    def __init__(self, status: int, detail: Any) -> None:
        self.status = status
        self.detail = detail
        super().__init__(f"HTTP {status}: {detail}")


class Unauthorized(ApiError):
    """401: no token, or an invalid or expired one (or a wrong email or password)."""


class Forbidden(ApiError):
    """403: signed in, but not allowed (e.g. a viewer starting a job)."""


class NotFound(ApiError):
    """404: no such job or company, or one that belongs to another company."""


class Conflict(ApiError):
    """409: not possible in the current state (e.g. retrying a job that did not fail)."""


class RateLimited(ApiError):
    """429: too many jobs started; try again after ``retry_after`` seconds (if known)."""

    def __init__(self, status: int, detail: Any, retry_after: float | None) -> None:
        super().__init__(status, detail)
        self.retry_after = retry_after


class WaitTimeout(ClientError, TimeoutError):
    """``wait``/``events`` gave up after ``timeout`` seconds; ``job`` is the last state seen."""

    def __init__(self, job_id: str, timeout: float, job: Job | None) -> None:
        self.job_id = job_id
        self.timeout = timeout
        self.job = job
        state = f" (last seen {job.status}, {job.progress}%)" if job is not None else ""
        super().__init__(f"job {job_id} did not finish within {timeout:g} s{state}")


_BY_STATUS: dict[int, type[ApiError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def api_error(status: int, detail: Any, headers: Mapping[str, str]) -> ApiError:
    """The exception for an HTTP error answer."""
    if status == 429:
        return RateLimited(status, detail, _seconds(headers.get("retry-after")))
    return _BY_STATUS.get(status, ApiError)(status, detail)


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
