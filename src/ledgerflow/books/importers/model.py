"""The importers' public data types: transactions, statements and column mappings."""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

DateOrder = Literal["ymd", "mdy", "dmy"]
AccountKind = Literal["bank", "credit_card"]
Sign = Literal["as_is", "inverted"]


@dataclass(frozen=True, slots=True)
class ParsedTransaction:
    """One transaction; ``amount_cents`` is negative for money out, positive for money in."""

    line: int
    date: datetime.date
    description: str
    amount_cents: int
    currency: str
    external_id: str | None
    memo: str | None


@dataclass(frozen=True, slots=True)
class ColumnMapping:
    """Names the columns of a file the importer cannot read on its own.

    Give ``amount`` (one signed column) or both ``debit`` and ``credit`` (money out, money in).
    Names are matched case-insensitively, ignoring punctuation and spacing; a file without a
    header row has positional names ``"column 1"``, ``"column 2"``, … (see ``Statement.columns``).
    ``sign="inverted"`` negates every amount (for files where a charge is positive);
    ``date_order`` overrides the per-file detection.
    """

    date: str
    description: str
    amount: str | None = None
    debit: str | None = None
    credit: str | None = None
    sign: Sign = "as_is"
    date_order: DateOrder | None = None

    def __post_init__(self) -> None:
        if self.amount is not None:
            if self.debit is not None or self.credit is not None:
                raise ValueError("ColumnMapping takes amount or debit/credit, not both")
        elif self.debit is None or self.credit is None:
            raise ValueError("ColumnMapping needs either amount or both debit and credit")
        if self.sign not in ("as_is", "inverted"):
            raise ValueError(f"ColumnMapping.sign must be as_is or inverted: {self.sign!r}")
        if self.date_order not in (None, "ymd", "mdy", "dmy"):
            raise ValueError(
                f"ColumnMapping.date_order must be ymd, mdy or dmy: {self.date_order!r}"
            )

    def names(self) -> list[str]:
        """The column names this mapping refers to."""
        names = [self.date, self.description, self.amount, self.debit, self.credit]
        return [name for name in names if name is not None]


_POSITIONAL = re.compile(r"column\s*(\d{1,3})", re.IGNORECASE)


def positional_index(name: str) -> int | None:
    """``"column 3"`` -> 2; ``None`` for any other name."""
    match = _POSITIONAL.fullmatch(name.strip())
    if match is None or int(match.group(1)) < 1:
        return None
    return int(match.group(1)) - 1


class Statement:
    """A detected statement. ``rows()`` streams its transactions from the file, each call afresh.

    ``rows()`` raises :class:`StatementError` after the last row when any row was bad.
    """

    __slots__ = (
        "_rows",
        "account_kind",
        "columns",
        "currency",
        "date_order",
        "file_name",
        "layout",
    )

    def __init__(
        self,
        *,
        layout: str,
        account_kind: AccountKind,
        currency: str,
        date_order: DateOrder,
        columns: list[str],
        file_name: str | None,
        rows: Callable[[], Iterator[ParsedTransaction]],
    ) -> None:
        self.layout = layout
        self.account_kind: AccountKind = account_kind
        self.currency = currency
        self.date_order: DateOrder = date_order
        self.columns = columns
        self.file_name = file_name
        self._rows = rows

    def rows(self) -> Iterator[ParsedTransaction]:
        return self._rows()

    def __repr__(self) -> str:
        return (
            f"Statement(layout={self.layout!r}, account_kind={self.account_kind!r}, "
            f"currency={self.currency!r}, date_order={self.date_order!r}, "
            f"columns={self.columns!r}, file_name={self.file_name!r})"
        )
