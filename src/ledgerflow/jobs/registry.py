"""The ``@task`` decorator and the registry that maps task names to functions."""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Concatenate, Generic, ParamSpec, TypeVar

from .errors import ConfigurationError

if TYPE_CHECKING:
    from .context import JobContext

P = ParamSpec("P")
R = TypeVar("R")

# Keyword names ``Queue.enqueue`` takes for itself; a task may not use them as parameters.
RESERVED_ARGUMENTS = frozenset(
    {
        "meta",
        "idempotency_key",
        "priority",
        "run_at",
        "delay",
        "connection",
        "concurrency_key",
        "concurrency_limit",
        "queue",
        "max_attempts",
        "timeout",
    }
)


@dataclass(frozen=True, slots=True)
class TaskOptions:
    """Defaults for every job of a task; ``Queue.enqueue`` may override most per job."""

    name: str
    queue: str = "default"
    timeout: float | None = None
    max_attempts: int = 3
    priority: int = 0
    retry_backoff: float = 2.0
    retry_backoff_max: float = 300.0
    concurrency_limit: int | None = None


class Task(Generic[P, R]):
    """A registered function plus its options. Calling it runs the function directly."""

    def __init__(self, fn: Callable[Concatenate[JobContext, P], R], options: TaskOptions) -> None:
        self.fn = fn
        self.options = options
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", options.name)

    @property
    def name(self) -> str:
        return self.options.name

    def __call__(self, ctx: JobContext, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(ctx, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.options.name}>"


_registry: dict[str, Task[Any, Any]] = {}
_registry_lock = threading.Lock()


def task(
    name: str | None = None,
    *,
    queue: str = "default",
    timeout: float | None = None,
    max_attempts: int = 3,
    priority: int = 0,
    retry_backoff: float = 2.0,
    retry_backoff_max: float = 300.0,
    concurrency_limit: int | None = None,
) -> Callable[[Callable[Concatenate[JobContext, P], R]], Task[P, R]]:
    """Register a function as a task: ``@task(name="example.count", timeout=600, max_attempts=3)``.

    The function takes a ``JobContext`` first, then JSON-serializable keyword arguments, and
    returns a JSON-serializable result. ``timeout`` defaults to the queue's ``JOB_TIMEOUT``.
    """
    if max_attempts < 1:
        raise ConfigurationError("max_attempts must be at least 1")
    if timeout is not None and timeout <= 0:
        raise ConfigurationError("timeout must be positive")

    def register(fn: Callable[Concatenate[JobContext, P], R]) -> Task[P, R]:
        task_name = name or f"{fn.__module__}.{fn.__qualname__}"
        clashing = RESERVED_ARGUMENTS & set(inspect.signature(fn).parameters)
        if clashing:
            raise ConfigurationError(
                f"task {task_name!r} uses reserved parameter names: {sorted(clashing)}"
            )
        options = TaskOptions(
            name=task_name,
            queue=queue,
            timeout=timeout,
            max_attempts=max_attempts,
            priority=priority,
            retry_backoff=retry_backoff,
            retry_backoff_max=retry_backoff_max,
            concurrency_limit=concurrency_limit,
        )
        registered: Task[P, R] = Task(fn, options)
        with _registry_lock:
            existing = _registry.get(task_name)
            if existing is not None and _origin(existing.fn) != _origin(fn):
                raise ConfigurationError(f"task name {task_name!r} is already registered")
            _registry[task_name] = registered
        return registered

    return register


def _origin(fn: Callable[..., Any]) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"


def get_task(name: str) -> Task[Any, Any]:
    try:
        return _registry[name]
    except KeyError:
        raise ConfigurationError(f"no task named {name!r} is registered in this process") from None


def find_task(name: str) -> Task[Any, Any] | None:
    return _registry.get(name)
