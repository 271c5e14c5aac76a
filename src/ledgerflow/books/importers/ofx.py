"""OFX / QFX / QBO statements: a small tolerant tokenizer for SGML (v1) and XML (v2) files.

Our own on purpose: ofxtools is GPLv3 (it would bind Apache-2.0 users) and ofxparse is unmaintained
and crashes on some generated files. Only what a statement import needs is read: the STMTTRN
records (TRNTYPE, DTPOSTED, TRNAMT, FITID, NAME, MEMO, CHECKNUM), CURDEF and whether the statement
is a bank (STMTRS) or a credit card one (CCSTMTRS). Memory stays bounded: the file is read in
chunks, a tag may be at most 1,024 characters and a value at most 64 KB.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from .amounts import AmountError, parse_amount
from .dates import DateError, parse_ofx_date
from .errors import ErrorLog, RowProblem, StatementError
from .model import AccountKind, ParsedTransaction, Statement
from .text import (
    DESCRIPTION_MAX,
    MAX_FIELD_CHARS,
    MEMO_MAX,
    clean_external_id,
    clean_optional,
    clean_text,
    open_text,
    short,
)

OFX_SUFFIXES = frozenset({".ofx", ".qfx", ".qbo"})
_CHUNK = 65_536
_MAX_TAG = 1_024
_PRESCAN_CHARS = 1_048_576
_SIGNATURE = re.compile(r"OFXHEADER\s*[:=]|<OFX\s*>", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9._]{0,63}")
_TXN_FIELDS = frozenset(
    {"TRNTYPE", "DTPOSTED", "DTUSER", "TRNAMT", "FITID", "NAME", "MEMO", "CHECKNUM", "REFNUM"}
)
_CURRENCY = re.compile(r"[A-Z]{3}")


def looks_like_ofx(text_head: str) -> bool:
    return _SIGNATURE.search(text_head) is not None


Token = tuple[str, str, int]  # kind ("open", "close", "text"), tag name or text, line


def tokenize(stream: TextIO, log: ErrorLog) -> Iterator[Token]:
    """Tags and text, in order, with the line each starts on; comments and <?…?> are dropped."""
    buffer, position, line = "", 0, 1
    eof = False
    while True:
        start = buffer.find("<", position)
        if start < 0:
            if position < len(buffer):
                text = buffer[position:]
                yield "text", text, line
                line += text.count("\n")
            if eof:
                return
            buffer, position = stream.read(_CHUNK), 0
            eof = not buffer
            continue
        if start > position:
            text = buffer[position:start]
            yield "text", text, line
            line += text.count("\n")
            position = start
        end = buffer.find(">", start, start + _MAX_TAG)
        if end < 0 and not eof and len(buffer) - start < _MAX_TAG:
            chunk = stream.read(_CHUNK)
            eof = not chunk
            buffer, position = buffer[start:] + chunk, 0
            continue
        if end < 0:
            log.add(line, f"malformed tag '{short(buffer[start : start + 40])}'")
            yield "text", "<", line
            position = start + 1
            continue
        inner = buffer[start + 1 : end]
        position = end + 1
        token = _tag(inner, line)
        line += inner.count("\n")
        if token is not None:
            yield token
            if inner.endswith("/") and token[0] == "open":
                yield "close", token[1], line


def _tag(inner: str, line: int) -> Token | None:
    text = inner.strip()
    if text.startswith(("?", "!")):
        return None
    closing = text.startswith("/")
    match = _NAME.match(text.lstrip("/").lstrip())
    if match is None:
        return "text", f"<{inner}>", line
    return ("close" if closing else "open"), match.group().upper(), line


@dataclass(slots=True)
class _Walker:
    """Folds tokens into transactions; SGML leaf elements need no closing tag."""

    log: ErrorLog
    currency: str
    account_kind: AccountKind | None = None
    leaf: str | None = None
    leaf_parts: list[str] = field(default_factory=list)
    leaf_size: int = 0
    txn: dict[str, str] | None = None
    txn_line: int = 0
    in_currency: bool = False
    opened: bool = False
    closed: bool = False
    names: list[str] = field(default_factory=list)
    first_done: bool = False
    leaf_line: int = 0

    def feed(self, token: Token) -> ParsedTransaction | None:
        kind, value, line = token
        if kind == "text":
            if self.leaf is not None and self.leaf_size <= MAX_FIELD_CHARS:
                self.leaf_parts.append(value)
                self.leaf_size += len(value)
            return None
        self._finish_leaf()
        done: ParsedTransaction | None = None
        if kind == "open":
            if value == "STMTTRN":
                done = self._emit()
                self.txn, self.txn_line = {}, line
            elif value == "OFX":
                self.opened = True
            elif value in ("STMTRS", "CCSTMTRS") and self.account_kind is None:
                self.account_kind = "bank" if value == "STMTRS" else "credit_card"
            elif value == "CURRENCY" and self.txn is not None:
                self.in_currency = True
            self.leaf, self.leaf_parts, self.leaf_size = value, [], 0
            self.leaf_line = line
        else:
            if value in ("STMTTRN", "BANKTRANLIST", "STMTRS", "CCSTMTRS", "OFX"):
                done = self._emit()
            if value == "CURRENCY":
                self.in_currency = False
            elif value == "OFX":
                self.closed = True
        return done

    def _finish_leaf(self) -> None:
        if self.leaf is None:
            return
        name, size = self.leaf, self.leaf_size
        text = html.unescape("".join(self.leaf_parts)).strip()
        self.leaf = None
        self.leaf_parts = []
        if not text:
            return
        if size > MAX_FIELD_CHARS:
            self.log.add(self.leaf_line, f"<{name}> is longer than {MAX_FIELD_CHARS} characters")
            return
        if self.txn is None:
            if name == "CURDEF":
                self.currency = text.upper()
            return
        if name in _TXN_FIELDS and name not in self.txn:
            self.txn[name] = text
            if not self.first_done:
                self.names.append(name)
        elif name == "CURSYM" and self.in_currency:
            self.txn["CURSYM"] = text.upper()

    def _emit(self) -> ParsedTransaction | None:
        txn, self.txn = self.txn, None
        self.in_currency = False
        if txn is None:
            return None
        self.first_done = True
        try:
            return self._convert(txn)
        except RowProblem as problem:
            self.log.add(self.txn_line, problem.reason)
            return None

    def _convert(self, txn: dict[str, str]) -> ParsedTransaction:
        posted = txn.get("DTPOSTED") or txn.get("DTUSER")
        if posted is None:
            raise RowProblem("transaction has no DTPOSTED")
        if "TRNAMT" not in txn:
            raise RowProblem("transaction has no TRNAMT")
        try:
            date = parse_ofx_date(posted)
            text = txn["TRNAMT"]
            decimal = "," if "," in text and "." not in text else "."
            amount = parse_amount(text, decimal)
        except (DateError, AmountError) as exc:
            raise RowProblem(str(exc)) from None
        if amount is None:
            raise RowProblem("transaction has an empty TRNAMT")
        currency = txn.get("CURSYM", self.currency)
        if not _CURRENCY.fullmatch(currency):
            raise RowProblem(f"currency '{short(currency)}' is not a 3-letter code")
        name, memo = txn.get("NAME", ""), txn.get("MEMO")
        description = clean_text(name or memo or txn.get("TRNTYPE", ""), DESCRIPTION_MAX)
        memo_text = clean_optional(memo, MEMO_MAX) if name else None
        if memo_text == description:
            memo_text = None
        external = txn.get("FITID") or txn.get("CHECKNUM") or txn.get("REFNUM")
        return ParsedTransaction(
            line=self.txn_line,
            date=date,
            description=description,
            amount_cents=amount.cents,
            currency=currency,
            external_id=clean_external_id(external),
            memo=memo_text,
        )


def open_ofx(path: Path, file_name: str | None, encoding: str) -> Statement:
    """Pre-scan the start of the file for the statement kind and currency; rows stream later."""
    walker = _Walker(ErrorLog(), "USD")
    with open_text(path, encoding, file_name) as stream:
        read = 0
        for token in tokenize(stream, walker.log):
            read += len(token[1]) + 2
            walker.feed(token)
            if walker.first_done or read > _PRESCAN_CHARS:
                break
    if not walker.opened:
        raise StatementError.at(0, "an OFX header but no <OFX> element", file_name)
    currency = walker.currency if _CURRENCY.fullmatch(walker.currency) else "USD"
    kind: AccountKind = walker.account_kind or "bank"

    def rows() -> Iterator[ParsedTransaction]:
        return _iter_rows(path, encoding, file_name)

    return Statement(
        layout="ofx",
        account_kind=kind,
        currency=currency,
        date_order="ymd",
        columns=list(walker.names),
        file_name=file_name,
        rows=rows,
    )


def _iter_rows(path: Path, encoding: str, file_name: str | None) -> Iterator[ParsedTransaction]:
    log = ErrorLog()
    walker = _Walker(log, "USD")
    line = 0
    with open_text(path, encoding, file_name) as stream:
        for token in tokenize(stream, log):
            line = token[2]
            transaction = walker.feed(token)
            if transaction is not None:
                yield transaction
    last = walker.feed(("close", "STMTTRN", line))
    if last is not None:
        yield last
    if not walker.opened:
        log.add(0, "no <OFX> element")
    elif not walker.closed:
        log.add(line, "the file ends before </OFX> (truncated?)")
    log.raise_if_any(file_name)
