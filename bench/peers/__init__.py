"""The systems under test, by the name ``--systems`` takes: ``module:class`` in this package.

Adapters are imported lazily, in the benchmark subprocess that runs them, so one library's
imports never inflate another's memory numbers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from common import Adapter

SYSTEMS: dict[str, str] = {
    "ledgerflow-sqlite": "peers.ledgerflow:LedgerflowSqlite",
    "ledgerflow-pg": "peers.ledgerflow:LedgerflowPostgres",
    "huey-sqlite": "peers.huey:HueySqlite",
    "huey-redis": "peers.huey:HueyRedis",
    "procrastinate": "peers.procrastinate:Procrastinate",
    "rq": "peers.rq:RqSimple",
    "rq-fork": "peers.rq:RqFork",
}

# Peers we would compare with but have no adapter for (they are not dependencies).
NOT_COVERED = ("dramatiq", "celery")


def load(name: str) -> type[Adapter]:
    """The adapter class for ``name`` (imports its library)."""
    module, _, cls = SYSTEMS[name].partition(":")
    adapter: type[Adapter] = getattr(importlib.import_module(module), cls)
    return adapter
