"""Runtime configuration, read from the environment (or passed explicitly)."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class JobSettings(BaseSettings):
    """``DATABASE_URL``, ``WORKER_THREADS``, ``JOB_TIMEOUT``, ``JOB_TTL``, ``DB_POOL_SIZE`` (the
    most connections a process opens at once) and the finer knobs."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    database_url: str = Field(default="sqlite:///var/ledgerflow.db")
    worker_threads: int = Field(default=4, ge=0, le=256)
    job_timeout: float = Field(default=600.0, gt=0)
    job_ttl: float = Field(default=86_400.0, gt=0)
    heartbeat_interval: float = Field(default=5.0, gt=0)
    worker_timeout: float = Field(default=30.0, gt=0)
    shutdown_grace: float = Field(default=30.0, ge=0)
    poll_interval: float = Field(default=0.5, gt=0)
    concurrency_limit: int = Field(default=2, ge=1)
    # Per process (per Queue): what every process may open together must stay under the
    # server's max_connections.
    db_pool_size: int = Field(default=10, ge=1)
    db_pool_timeout: float = Field(default=30.0, gt=0)
