"""Application settings: the job runtime's plus the web app's, all from the environment."""

from __future__ import annotations

import secrets
from pathlib import Path

from pydantic import Field

from .jobs import JobSettings


class AppSettings(JobSettings):
    """``LEDGERFLOW_SECRET_KEY``, ``UPLOAD_DIR``, ``MAX_UPLOAD_MB``, ``JOB_RATE_LIMIT``, ..."""

    ledgerflow_secret_key: str = Field(default="", repr=False)
    token_ttl: float = Field(default=8 * 3600, gt=0)
    upload_dir: Path = Field(default=Path("var/uploads"))
    max_upload_mb: float = Field(default=50, gt=0)
    job_rate_limit: int = Field(default=120, ge=1, description="job creations per user per minute")
    metrics_token: str = Field(default="", repr=False)
    cookie_secure: bool = False
    worker_mode: str = Field(default="process", pattern="^(thread|process)$")
    worker_processes: int = Field(default=1, ge=0, le=64)
    # serve's worker child yields the CPU to the API process: polls stay fast while jobs run.
    worker_niceness: int = Field(default=10, ge=0, le=19)
    category_threshold: float = Field(default=0.9, gt=0, le=1)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)

    def export_dir(self, company_id: str, job_id: str) -> Path:
        """Where an export job writes its file; the API serves it from here to members only."""
        return self.upload_dir.resolve() / "exports" / company_id / job_id

    def secret_key(self) -> str:
        """The configured key, or one kept in ``var/secret_key`` for the embedded setup."""
        if self.ledgerflow_secret_key:
            return self.ledgerflow_secret_key
        path = Path("var/secret_key")
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


def redact(url: str) -> str:
    """Hide a password in a URL before printing it."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    credentials, host = rest.rsplit("@", 1)
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
