"""The errors of the QuickBooks Online integration.

``QboNotConnected`` and ``QboRejected`` need a person (reconnect, fix the request): a job
should fail with their message and not retry. ``QboUnavailable`` is transient (QuickBooks kept
failing or throttling past the retry budget): retrying the job later is right, and safe, as
every batch is re-sent with its original ``requestid``.
"""

from __future__ import annotations


class QboError(Exception):
    """Base class."""


class QboNotConnected(QboError):
    """No usable connection: never connected, refresh token expired or revoked, or a key change."""


class QboOAuthError(QboError):
    """The authorization step failed (bad or expired ``state``, code refused by Intuit)."""


class QboRejected(QboError):
    """QuickBooks refused a whole request (a 4xx other than 401 and 429)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class QboUnavailable(QboError):
    """QuickBooks kept answering 5xx or throttling, or could not be reached."""
