"""Bring a database to the runtime's schema with Alembic (idempotent; cheap when current)."""

from __future__ import annotations

from pathlib import Path

from .errors import BackendError

HEAD = "0001"
VERSION_TABLE = "lf_jobs_alembic_version"


def sqlalchemy_url(url: str) -> str:
    scheme, rest = url.split("://", 1)
    if scheme in {"postgresql", "postgres"}:
        return "postgresql+psycopg://" + rest
    return url


def alembic_config(url: str) -> object:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    config.attributes["url"] = sqlalchemy_url(url)
    return config


def upgrade(url: str) -> None:
    from alembic import command

    try:
        command.upgrade(alembic_config(url), "head")  # type: ignore[arg-type]
    except Exception as exc:  # Alembic and SQLAlchemy raise many types; one is enough here
        raise BackendError(f"migrating {url!r} failed: {exc}") from exc
