"""ledgerflow: an AI bookkeeper whose heavy work runs as durable background jobs."""

__version__ = "0.1.0"
