"""Fixtures for the client tests; the helpers live in ``clientkit`` (a unique module name)."""

from clientkit import live, local_db, seeded_sqlite

__all__ = ["live", "local_db", "seeded_sqlite"]
