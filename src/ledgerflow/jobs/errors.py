"""The exception tree of the job runtime.

    JobsError
    ├── ConfigurationError     a bad URL, an unknown task, an invalid option
    ├── JobNotFound            no job with that id (or not visible to the caller)
    ├── BackendError           the database failed; the driver's error is chained
    ├── Cancelled              raised inside a task when its job was cancelled
    └── JobFailed              raised by a task to fail at once, without retries

Driver exceptions never escape the backends untranslated: each is re-raised as
``BackendError`` with ``raise ... from exc`` so callers catch one type.
"""


class JobsError(Exception):
    """Base class of every error raised by ``ledgerflow.jobs``."""


class ConfigurationError(JobsError):
    """The runtime was configured wrongly (unknown scheme, unknown task, bad option)."""


class JobNotFound(JobsError):
    """No job has this id."""


class BackendError(JobsError):
    """The database refused or failed an operation."""


class Cancelled(JobsError):
    """Raised by ``ctx.progress`` / ``ctx.check_cancelled`` once the job is cancelled.

    Tasks need not catch it: the worker records the job as ``cancelled``.
    """


class JobFailed(JobsError):
    """Raise from a task to fail its job with this user-facing message and no retry."""
