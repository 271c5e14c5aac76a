"""Typed results: plain frozen dataclasses parsed from the server's JSON."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast
from urllib.parse import unquote

from .errors import ProtocolError

JobStatus = Literal["pending", "running", "complete", "failed", "cancelled"]
STATUSES: tuple[JobStatus, ...] = ("pending", "running", "complete", "failed", "cancelled")
FINAL_STATUSES: frozenset[str] = frozenset({"complete", "failed", "cancelled"})


def _time(value: Any) -> dt.datetime | None:
    return None if value is None else dt.datetime.fromisoformat(str(value))


@dataclass(frozen=True, slots=True)
class Job:
    """A job as ``GET /api/jobs/{job_id}`` shows it."""

    id: str
    type: str
    status: JobStatus
    progress: int
    message: str | None
    result: Any
    error: str | None
    company_id: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    attempts: int

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @classmethod
    def from_json(cls, data: Any) -> Job:
        try:
            status = str(data["status"])
            if status not in STATUSES:
                raise ValueError(f"unknown status {status!r}")
            created = _time(data["created_at"])
            if created is None:
                raise ValueError("created_at is null")
            return cls(
                id=str(data["id"]),
                type=str(data["type"]),
                status=status,
                progress=int(data["progress"]),
                message=data.get("message"),
                result=data.get("result"),
                error=data.get("error"),
                company_id=str(data["company_id"]),
                created_at=created,
                started_at=_time(data.get("started_at")),
                finished_at=_time(data.get("finished_at")),
                attempts=int(data.get("attempts", 0)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProtocolError(f"not a job: {exc}") from None


@dataclass(frozen=True, slots=True)
class JobAccepted:
    """A started job. ``created`` is False when an ``Idempotency-Key`` found an earlier job."""

    job_id: str
    status: str
    created: bool = True


@dataclass(frozen=True, slots=True)
class JobPage:
    """A page of a company's jobs, newest first; pass ``next_cursor`` back for the next."""

    jobs: list[Job]
    next_cursor: str | None


EventName = Literal["progress", "complete", "failed", "cancelled"]


@dataclass(frozen=True, slots=True)
class JobEvent:
    """A change of a job: ``progress`` while it runs, then its final status, once.

    ``revision`` is the job's revision (the SSE event id), when known.
    """

    event: EventName
    revision: int | None
    job: Job

    @classmethod
    def of(cls, job: Job, revision: int | None) -> JobEvent:
        name = cast(EventName, job.status) if job.is_final else "progress"
        return cls(name, revision, job)


_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Download:
    """A job's output file (``GET /api/jobs/{job_id}/file``)."""

    content: bytes
    filename: str | None
    content_type: str | None

    @classmethod
    def of(cls, content: bytes, headers: Mapping[str, str]) -> Download:
        found = _FILENAME.search(headers.get("content-disposition") or "")
        name = Path(unquote(found.group(1))).name if found else None
        return cls(content, name or None, headers.get("content-type"))

    def save(self, to: str | Path, default_name: str = "download") -> Path:
        """Write the file to ``to``: a file path, or a directory (then under its own name)."""
        path = Path(to)
        if path.is_dir():
            path = path / (self.filename or default_name)
        path.write_bytes(self.content)
        return path
