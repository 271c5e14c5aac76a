"""Bank statement importers: CSV exports of the common US banks, generic CSV, and OFX/QFX.

``parse_statement(path)`` detects the format and layout and returns a :class:`Statement` whose
``rows()`` streams :class:`ParsedTransaction` objects with signed integer cents (negative = money
out of the business). Every problem is a :class:`StatementError`; :class:`AmbiguousStatement` asks
for a :class:`ColumnMapping`. See docs/importers.md.
"""

from .errors import AmbiguousStatement, RowError, StatementError
from .model import ColumnMapping, ParsedTransaction, Statement
from .statement import parse_statement

__all__ = [
    "AmbiguousStatement",
    "ColumnMapping",
    "ParsedTransaction",
    "RowError",
    "Statement",
    "StatementError",
    "parse_statement",
]
