"""The one exception of the receipts package."""

from __future__ import annotations


class ReceiptError(ValueError):
    """A problem the user can fix (a corrupt file, an empty PDF, a photo without text).

    ``str(error)`` is a complete, user-facing sentence; the job handler shows it as is.
    """


class NoTextError(ReceiptError):
    """The page (or the whole receipt) holds no text."""
