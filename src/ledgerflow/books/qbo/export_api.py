"""API mode: journal entries to QuickBooks Online through the batch endpoint.

1. The QuickBooks chart of accounts is read once; each of our accounts maps to the QuickBooks
   account whose ``Id`` is our ``Account.qbo_id``, else to the one of the same name (exact,
   then case-insensitive if unambiguous; ``FullyQualifiedName`` counts for sub-accounts). An
   entry with an unmapped account fails with that reason and is not sent; so does one touching
   Accounts Receivable/Payable, which QuickBooks only accepts with a customer or vendor.
2. Batches still ``pending`` in ``lf_qbo_exports`` (a crash or error after they were sent) are
   re-sent first, byte for byte from the stored items, with their original ``requestid``:
   QuickBooks answers a repeated ``requestid`` with its first response, so nothing is created
   twice.
3. New batches (``QboConfig.batch_size`` ≤ 30 entries): the entries are claimed first (rows
   inserted with their batch item and a new ``requestid``, committed, ``ON CONFLICT DO
   NOTHING`` so a concurrent export cannot claim them too), then sent, then the results are
   recorded in one transaction: ``qbo_id`` + ``exported_at`` for each created entry, the claim
   released for each faulted one (its QuickBooks message goes to ``failed``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from ..db import session_scope
from ..models import Account, QboExport, utcnow
from .client import QboClient, fault_message
from .errors import QboRejected
from .export import (
    LOAD_CHUNK,
    Entry,
    Outcome,
    Progress,
    candidate_ids,
    doc_number,
    load_entries,
    mark_exported,
)

Claim = tuple[str, str, dict[str, Any]]  # (entry_id, bId, batch item)
TEXT_LIMIT = 4000
NEEDS_ENTITY = {"Accounts Receivable": "a customer", "Accounts Payable": "a vendor"}


class AccountMap:
    """Our accounts → QuickBooks accounts (see the module docstring for the rules)."""

    def __init__(self, qbo_accounts: Sequence[dict[str, Any]]) -> None:
        self.by_id = {str(a["Id"]): a for a in qbo_accounts if a.get("Id") is not None}
        self._exact: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self._folded: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for account in self.by_id.values():
            names = {str(account.get(k) or "") for k in ("Name", "FullyQualifiedName")} - {""}
            for name in names:
                self._exact[name].append(account)
                self._folded[name.casefold()].append(account)

    def resolve(self, name: str, qbo_id: str | None) -> dict[str, Any] | str:
        """The QuickBooks account, or the reason there is none."""
        if qbo_id:
            found = self.by_id.get(qbo_id)
            if found is None:
                return (
                    f"account {name!r} is linked to QuickBooks account id {qbo_id}, which does "
                    "not exist or is inactive in QuickBooks"
                )
            return found
        for matches in (self._exact.get(name, []), self._folded.get(name.casefold(), [])):
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                return (
                    f"account {name!r} matches {len(matches)} QuickBooks accounts; set its "
                    "QuickBooks id to choose one"
                )
        return (
            f"account {name!r} has no QuickBooks account of that name; create it in "
            "QuickBooks or link it by id"
        )


def _amount(cents: int) -> float:
    return cents / 100  # a double prints back as the shortest round-tripping decimal: 12.34


def build_item(entry: Entry, bid: str, accounts: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The ``BatchItemRequest`` creating ``entry`` (every line's account already mapped)."""
    lines = []
    for line in entry.lines:
        qbo = accounts[line.account_id]
        debit = line.debit_cents > 0
        detail: dict[str, Any] = {
            "PostingType": "Debit" if debit else "Credit",
            "AccountRef": {"value": str(qbo["Id"]), "name": str(qbo.get("Name", ""))},
        }
        row: dict[str, Any] = {
            "Amount": _amount(line.debit_cents if debit else line.credit_cents),
            "DetailType": "JournalEntryLineDetail",
            "JournalEntryLineDetail": detail,
        }
        if line.description:
            row["Description"] = line.description[:TEXT_LIMIT]
        lines.append(row)
    journal: dict[str, Any] = {
        "DocNumber": doc_number(entry.id),
        "TxnDate": entry.date.isoformat(),
        "Line": lines,
    }
    if entry.memo:
        journal["PrivateNote"] = entry.memo[:TEXT_LIMIT]
    return {"bId": bid, "operation": "create", "JournalEntry": journal}


def _preflight(
    entry: Entry, ours: dict[str, tuple[str, str | None]], mapping: AccountMap
) -> dict[str, dict[str, Any]] | str:
    """Every line's QuickBooks account, or why the entry cannot be sent."""
    if len(entry.lines) < 2:
        return "the entry has fewer than two lines"
    if sum(li.debit_cents for li in entry.lines) != sum(li.credit_cents for li in entry.lines):
        return "the entry does not balance"
    found: dict[str, dict[str, Any]] = {}
    for line in entry.lines:
        name, qbo_id = ours.get(line.account_id, (line.account_name, None))
        resolved = mapping.resolve(name, qbo_id)
        if isinstance(resolved, str):
            return resolved
        kind = str(resolved.get("AccountType") or "")
        if kind in NEEDS_ENTITY:
            return (
                f"account {name!r} is {kind} in QuickBooks, which needs {NEEDS_ENTITY[kind]} "
                "on the line; enter this entry in QuickBooks by hand"
            )
        found[line.account_id] = resolved
    return found


def default_client(session_factory: sessionmaker[Session], company_id: str) -> QboClient:
    """A client configured from the environment (``QBO_*`` and ``LEDGERFLOW_SECRET_KEY``)."""
    from ledgerflow.settings import AppSettings

    from .tokens import QboAuth, QboConfig

    auth = QboAuth(session_factory, QboConfig.from_env(), AppSettings().secret_key())
    return QboClient(auth, company_id)


def export_api(
    session_factory: sessionmaker[Session],
    company_id: str,
    since: dt.date | None,
    client: QboClient | None,
    outcome: Outcome,
    report: Progress,
) -> None:
    client = client or default_client(session_factory, company_id)
    report(1, "Reading the QuickBooks chart of accounts...")
    mapping = AccountMap(client.query_all("Account"))
    with session_factory() as s:
        pending = _pending_batches(s, company_id)
        ids = candidate_ids(s, company_id, since)
        ours = {
            a.id: (a.name, a.qbo_id)
            for a in s.scalars(select(Account).where(Account.company_id == company_id))
        }
    total = sum(len(rows) for _, rows in pending) + len(ids)
    if total == 0:
        report(100, "Nothing to export.")
        return
    done = 0

    def advance(count: int) -> None:
        nonlocal done
        done += count
        report(5 + 94 * done / total, f"Exporting entry {done:,}/{total:,}...")

    report(5, f"Exporting {total:,} journal entries to QuickBooks...")
    for request_id, rows in pending:
        _send(session_factory, client, company_id, request_id, rows, outcome)
        advance(len(rows))
    size = client.config.batch_size
    ready: list[tuple[Entry, dict[str, dict[str, Any]]]] = []
    for start in range(0, len(ids), LOAD_CHUNK):
        with session_factory() as s:
            entries = load_entries(s, company_id, ids[start : start + LOAD_CHUNK])
        for entry in entries:
            accounts = _preflight(entry, ours, mapping)
            if isinstance(accounts, str):
                outcome.fail(entry.id, accounts)
                advance(1)
                continue
            ready.append((entry, accounts))
            if len(ready) == size:
                advance(_claim_and_send(session_factory, client, company_id, ready, outcome))
                ready = []
    if ready:
        advance(_claim_and_send(session_factory, client, company_id, ready, outcome))
    report(100, f"Exported {outcome.exported:,} journal entries to QuickBooks")


def _pending_batches(session: Session, company_id: str) -> list[tuple[str, list[Claim]]]:
    rows = session.execute(
        select(QboExport.request_id, QboExport.entry_id, QboExport.bid, QboExport.item)
        .where(
            QboExport.company_id == company_id,
            QboExport.status == "pending",
            QboExport.mode == "api",
        )
        .order_by(QboExport.created_at, QboExport.request_id, QboExport.bid)
    )
    batches: dict[str, list[Claim]] = {}
    for request_id, entry_id, bid, item in rows:
        if request_id and bid and isinstance(item, dict):
            batches.setdefault(request_id, []).append((entry_id, bid, item))
    return list(batches.items())


def _claim_and_send(
    session_factory: sessionmaker[Session],
    client: QboClient,
    company_id: str,
    ready: Sequence[tuple[Entry, dict[str, dict[str, Any]]]],
    outcome: Outcome,
) -> int:
    request_id = str(uuid.uuid4())
    claims = [
        (entry.id, f"b{i:02d}", build_item(entry, f"b{i:02d}", accounts))
        for i, (entry, accounts) in enumerate(ready)
    ]
    now = utcnow()
    with session_scope(session_factory) as s:
        dialect = s.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        s.execute(
            insert(QboExport)
            .values(
                [
                    {
                        "entry_id": entry_id,
                        "company_id": company_id,
                        "mode": "api",
                        "status": "pending",
                        "request_id": request_id,
                        "bid": bid,
                        "item": item,
                        "created_at": now,
                    }
                    for entry_id, bid, item in claims
                ]
            )
            .on_conflict_do_nothing(index_elements=["entry_id"])
        )
        mine = set(s.scalars(select(QboExport.entry_id).where(QboExport.request_id == request_id)))
    claimed = [claim for claim in claims if claim[0] in mine]
    if claimed:
        _send(session_factory, client, company_id, request_id, claimed, outcome)
    return len(ready)


def _send(
    session_factory: sessionmaker[Session],
    client: QboClient,
    company_id: str,
    request_id: str,
    claims: Sequence[Claim],
    outcome: Outcome,
) -> None:
    """Send one batch and record what became of each entry."""
    exported: list[tuple[str, str | None]] = []
    failed: list[tuple[str, str]] = []
    try:
        responses = client.batch([item for _, _, item in claims], request_id)
    except QboRejected as exc:
        if exc.status_code != 400:
            raise
        failed = [(entry_id, str(exc)) for entry_id, _, _ in claims]
    else:
        for entry_id, bid, _ in claims:
            response = responses.get(bid) or {}
            created = response.get("JournalEntry")
            if isinstance(created, dict) and created.get("Id") is not None:
                exported.append((entry_id, str(created["Id"])))
            elif response:
                failed.append((entry_id, f"QuickBooks: {fault_message(response)}"))
            else:
                failed.append((entry_id, "QuickBooks returned no result for this entry"))
    now = utcnow()
    with session_scope(session_factory) as s:
        for entry_id, qbo_id in exported:
            s.execute(
                update(QboExport)
                .where(QboExport.entry_id == entry_id, QboExport.request_id == request_id)
                .values(status="done", ref=qbo_id, item=None, exported_at=now)
            )
        if failed:
            s.execute(
                delete(QboExport).where(
                    QboExport.request_id == request_id,
                    QboExport.status == "pending",
                    QboExport.entry_id.in_([entry_id for entry_id, _ in failed]),
                )
            )
        mark_exported(s, company_id, exported, now)
    outcome.exported += len(exported)
    for entry_id, reason in failed:
        outcome.fail(entry_id, reason)
