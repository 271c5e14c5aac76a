"""Engine implementations of ``ledgerflow.jobs.backend.Backend``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import ConfigurationError

if TYPE_CHECKING:
    from ..backend import Backend
    from ..settings import JobSettings


def open_backend(url: str, settings: JobSettings) -> Backend:
    """Pick the engine from the URL scheme: ``sqlite:///path`` or ``postgresql://...``."""
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        from .sqlite import SqliteBackend

        return SqliteBackend(url, settings.db_pool_size, settings.db_pool_timeout)
    if scheme in {"postgresql", "postgres", "postgresql+psycopg"}:
        from .postgres import PostgresBackend

        # Half the lease: a worker's session that stalls in a transaction (a beat, an exchange:
        # a beat interval after its last beat) lets go of its locks before that beat's lease ends.
        stalled_after = settings.worker_timeout / 2
        return PostgresBackend(url, settings.db_pool_size, settings.db_pool_timeout, stalled_after)
    raise ConfigurationError(
        f"unsupported database URL scheme {scheme!r}: use sqlite:///path or postgresql://..."
    )
