"""Errors raised by the statement importers.

Every problem the importers find is reported as a :class:`StatementError` (or its subclass
:class:`AmbiguousStatement`); nothing else escapes for bad input. Row problems are collected while a
statement streams and raised together at the end, so a caller that inserts inside one database
transaction can roll back the whole file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MAX_KEPT_ERRORS = 100
_SHOWN_IN_MESSAGE = 5


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem: the 1-based physical line it was found on (0 for the file as a whole)."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}" if self.line > 0 else self.reason


class StatementError(Exception):
    """The file cannot be imported. ``errors`` keeps the first 100 problems, ``error_count`` all."""

    errors: list[RowError]
    error_count: int
    file_name: str | None

    def __init__(
        self,
        errors: Sequence[RowError],
        error_count: int | None = None,
        file_name: str | None = None,
    ) -> None:
        self.errors = list(errors[:MAX_KEPT_ERRORS])
        self.error_count = max(error_count or 0, len(errors))
        self.file_name = file_name
        super().__init__(self._message())

    @classmethod
    def at(cls, line: int, reason: str, file_name: str | None = None) -> StatementError:
        """A whole-file problem found at ``line`` (0 when it is not tied to one line)."""
        return cls([RowError(line, reason)], 1, file_name)

    def _message(self) -> str:
        shown = self.errors[:_SHOWN_IN_MESSAGE]
        text = "; ".join(str(error) for error in shown) or "the statement could not be read"
        prefix = f"{self.file_name}: " if self.file_name else ""
        if self.error_count > 1:
            prefix += f"{self.error_count} problems: "
        more = self.error_count - len(shown)
        suffix = f"; and {more} more" if more > 0 else ""
        return prefix + text + suffix

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.errors, self.error_count, self.file_name))


class AmbiguousStatement(StatementError):
    """The columns, the sign convention or the date order cannot be told apart without help.

    ``columns`` names the columns seen; pass a :class:`ColumnMapping` to ``parse_statement``.
    """

    columns: list[str]

    def __init__(
        self,
        errors: Sequence[RowError],
        error_count: int | None = None,
        file_name: str | None = None,
        columns: Sequence[str] = (),
    ) -> None:
        self.columns = list(columns)
        super().__init__(errors, error_count, file_name)

    @classmethod
    def about(
        cls, line: int, reason: str, columns: Sequence[str], file_name: str | None = None
    ) -> AmbiguousStatement:
        return cls([RowError(line, reason)], 1, file_name, columns)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.errors, self.error_count, self.file_name, self.columns))


class RowProblem(Exception):
    """Internal: one row cannot be converted; collected into an :class:`ErrorLog`."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ErrorLog:
    """Collects row errors: keeps the first 100 and counts all of them."""

    __slots__ = ("count", "errors")

    def __init__(self) -> None:
        self.errors: list[RowError] = []
        self.count = 0

    def add(self, line: int, reason: str) -> None:
        self.count += 1
        if len(self.errors) < MAX_KEPT_ERRORS:
            self.errors.append(RowError(line, reason))

    def raise_if_any(self, file_name: str | None) -> None:
        if self.count:
            raise StatementError(self.errors, self.count, file_name)


def describe_columns(columns: Sequence[str]) -> str:
    """'Date, Memo, Value' for messages; long lists are cut."""
    names = [_short(name) if name else "(blank)" for name in columns[:30]]
    more = f", … ({len(columns)} in all)" if len(columns) > 30 else ""
    return ", ".join(names) + more


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
