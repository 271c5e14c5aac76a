"""QuickBooks Online: OAuth connection, API client, and journal-entry export (API, IIF, CSV).

See ``docs/quickbooks.md``. What the HTTP layer and the job handler use:

* ``QboAuth`` (``authorization_url``, ``complete_connection``, ``connection``,
  ``disconnect``) with ``QboConfig.from_env()`` and the app's secret key;
* ``export_journal_entries`` for the ``export_to_quickbooks`` job.
"""

from .client import QboClient
from .errors import QboError, QboNotConnected, QboOAuthError, QboRejected, QboUnavailable
from .export import export_journal_entries
from .limiter import RateLimiter
from .tokens import ConnectionInfo, ConnectState, QboAuth, QboConfig

__all__ = [
    "ConnectState",
    "ConnectionInfo",
    "QboAuth",
    "QboClient",
    "QboConfig",
    "QboError",
    "QboNotConnected",
    "QboOAuthError",
    "QboRejected",
    "QboUnavailable",
    "RateLimiter",
    "export_journal_entries",
]
