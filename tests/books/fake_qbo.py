"""A local fake of Intuit's OAuth server and the QuickBooks Online Accounting API.

Served by the standard library (``ThreadingHTTPServer`` on 127.0.0.1, a free port, a daemon
thread). It implements what the export uses and checks each request against the documented
shapes, recording every violation in ``violations`` (tests assert it stays empty):

* ``GET /connect/oauth2``: the consent page; redirects to ``redirect_uri`` with ``code``,
  ``state`` and ``realmId`` (as if the user clicked "Connect").
* ``POST /oauth2/v1/tokens/bearer``: Basic client authentication; ``authorization_code``
  (single-use codes, matching ``redirect_uri``) and ``refresh_token`` grants. Refresh tokens
  rotate: each refresh issues a new one and the old one is dead (``invalid_grant``).
* ``POST /v2/oauth2/tokens/revoke``.
* ``GET /v3/company/{realm}/query``: ``select * from Account [STARTPOSITION n MAXRESULTS m]``.
* ``POST /v3/company/{realm}/batch``: ``BatchItemRequest`` ≤ 30 items, unique ``bId`` ≤ 10
  characters, ``operation: create`` with a ``JournalEntry``: ``Line[]`` of
  ``DetailType: JournalEntryLineDetail``, positive ``Amount`` (≤ 2 decimals), ``PostingType``
  Debit/Credit, ``AccountRef.value`` of an existing account, debits = credits, ``DocNumber``
  ≤ 21 characters. ``requestid`` is required (≤ 36 characters) and idempotent: a repeat gets
  the first successful response back and creates nothing.

Every API call needs a valid, unexpired bearer token and a ``requestid``. Faults to inject:
``expire_access_tokens()`` (→ 401), ``inject(status, times, retry_after=...)`` (the next
``times`` API calls answer ``status``: 429 with ``Retry-After``, 5xx, ...), ``lose_responses``
(the batch is processed, then the answer is a 502), ``item_faults`` (DocNumber → message: a
``ValidationFault`` for that item). ``latency`` slows every API call (for concurrency checks).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret"
_QUERY = re.compile(
    r"select \* from Account(?: STARTPOSITION (\d+) MAXRESULTS (\d+))?\s*$", re.IGNORECASE
)


class FakeClock:
    """Simulated time for the client, the limiter, the tokens and the fake: ``sleep`` advances
    it at once and is recorded."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.t += max(0.0, seconds)

    def datetime(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.now(), dt.UTC)


@dataclass
class Injected:
    status: int
    times: int
    retry_after: float | None = None


@dataclass
class Call:
    at: float
    method: str
    path: str
    request_id: str | None
    weight: int
    batch: bool
    status: int = 0


@dataclass
class FakeQbo:
    now: Callable[[], float] = time.time
    access_ttl: int = 3600
    latency: float = 0.0
    accounts: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    journal_entries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    item_faults: dict[str, str] = field(default_factory=dict)
    lose_responses: int = 0
    refreshes: int = 0
    revoked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self._ids = itertools.count(1000)
        self._codes: dict[str, tuple[str, str]] = {}  # code -> (realm, redirect_uri)
        self._access: dict[str, tuple[str, float]] = {}  # token -> (realm, expires at)
        self._refresh: dict[str, str] = {}  # live refresh token -> realm
        self._responses: dict[tuple[str, str], dict[str, Any]] = {}
        self._injected: list[Injected] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: ThreadingHTTPServer | None = None

    # --- setup and faults -------------------------------------------------------------------
    def add_accounts(self, realm: str, names: dict[str, str]) -> dict[str, str]:
        """Accounts ``name → AccountType``; returns ``name → Id``."""
        ids = {}
        for name, kind in names.items():
            account_id = str(next(self._ids))
            self.accounts.setdefault(realm, []).append(
                {
                    "Id": account_id,
                    "Name": name,
                    "FullyQualifiedName": name,
                    "AccountType": kind,
                    "Active": True,
                }
            )
            ids[name] = account_id
        return ids

    def issue_code(self, realm: str, redirect_uri: str) -> str:
        code = f"code-{next(self._ids)}"
        with self.lock:
            self._codes[code] = (realm, redirect_uri)
        return code

    def grant(self, realm: str) -> str:
        """A valid access token for ``realm``, minted without the OAuth dance."""
        token = f"access-{next(self._ids)}"
        with self.lock:
            self._access[token] = (realm, self.now() + self.access_ttl)
        return token

    def expire_access_tokens(self) -> None:
        with self.lock:
            self._access = {t: (realm, 0.0) for t, (realm, _) in self._access.items()}

    def inject(self, status: int, times: int = 1, retry_after: float | None = None) -> None:
        with self.lock:
            self._injected.append(Injected(status, times, retry_after))

    def refresh_tokens(self) -> set[str]:
        with self.lock:
            return set(self._refresh)

    def api_calls(self) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.path.startswith("/v3/")]

    # --- server -------------------------------------------------------------------------------
    def start(self) -> str:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- dispatch -------------------------------------------------------------------------------
    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length) if length else b""
        status, body, headers = self._route(h, method, url.path, query, raw)
        data = json.dumps(body).encode() if body is not None else b""
        h.send_response(status)
        for name, value in headers.items():
            h.send_header(name, value)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _route(
        self, h: BaseHTTPRequestHandler, method: str, path: str, query: dict[str, str], raw: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        if method == "GET" and path == "/connect/oauth2":
            return self._authorize(query)
        if method == "POST" and path == "/oauth2/v1/tokens/bearer":
            return self._token(h, raw)
        if method == "POST" and path == "/v2/oauth2/tokens/revoke":
            self.revoked.append(json.loads(raw or b"{}").get("token", ""))
            return 200, {}, {}
        match = re.fullmatch(r"/v3/company/([^/]+)/(query|batch)", path)
        if match is None:
            return 404, {"Fault": {"Error": [{"Message": "not found"}]}}, {}
        return self._api(h, method, match.group(1), match.group(2), query, raw)

    def _authorize(self, q: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
            self.violations.append(f"authorize: bad client_id/response_type {q}")
        if q.get("scope") != "com.intuit.quickbooks.accounting" or not q.get("state"):
            self.violations.append(f"authorize: bad scope/state {q}")
        realm = q.get("realm", "9130350000000001")
        code = self.issue_code(realm, q.get("redirect_uri", ""))
        target = f"{q.get('redirect_uri')}?" + urlencode(
            {"code": code, "state": q.get("state", ""), "realmId": realm}
        )
        return 302, None, {"Location": target}

    def _token(self, h: BaseHTTPRequestHandler, raw: bytes) -> tuple[int, Any, dict[str, str]]:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if h.headers.get("Authorization") != f"Basic {expected}":
            return 401, {"error": "invalid_client"}, {}
        form = {k: v[-1] for k, v in parse_qs(raw.decode()).items()}
        with self.lock:
            if form.get("grant_type") == "authorization_code":
                found = self._codes.pop(form.get("code", ""), None)
                if found is None or found[1] != form.get("redirect_uri"):
                    return 400, {"error": "invalid_grant"}, {}
                realm = found[0]
            elif form.get("grant_type") == "refresh_token":
                realm_or_none = self._refresh.pop(form.get("refresh_token", ""), None)
                if realm_or_none is None:
                    return 400, {"error": "invalid_grant"}, {}
                realm = realm_or_none
                self.refreshes += 1
            else:
                return 400, {"error": "unsupported_grant_type"}, {}
            n = next(self._ids)
            access, refresh = f"access-{n}", f"refresh-{n}"
            self._access[access] = (realm, self.now() + self.access_ttl)
            self._refresh[refresh] = realm
        return (
            200,
            {
                "token_type": "bearer",
                "access_token": access,
                "refresh_token": refresh,
                "expires_in": self.access_ttl,
                "x_refresh_token_expires_in": 8726400,
            },
            {},
        )

    def _api(
        self,
        h: BaseHTTPRequestHandler,
        method: str,
        realm: str,
        kind: str,
        q: dict[str, str],
        raw: bytes,
    ) -> tuple[int, Any, dict[str, str]]:
        body: Any = None
        if raw:
            body = json.loads(raw)
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        weight = len(items) if kind == "batch" and isinstance(items, list) else 1
        call = Call(
            self.now(),
            method,
            f"/v3/company/{realm}/{kind}",
            q.get("requestid"),
            weight,
            kind == "batch",
        )
        with self.lock:
            self.calls.append(call)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.latency:
                time.sleep(self.latency)
            status, payload, headers = self._api_inner(h, method, realm, kind, q, body)
        finally:
            with self.lock:
                self.in_flight -= 1
        call.status = status
        return status, payload, headers

    def _api_inner(
        self,
        h: BaseHTTPRequestHandler,
        method: str,
        realm: str,
        kind: str,
        q: dict[str, str],
        body: Any,
    ) -> tuple[int, Any, dict[str, str]]:
        token = (h.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self.lock:
            known = self._access.get(token)
        if known is None or known[0] != realm or known[1] <= self.now():
            return (
                401,
                {
                    "fault": {
                        "type": "AUTHENTICATION",
                        "error": [
                            {
                                "message": "message=AuthenticationFailed; errorCode=003200; "
                                "statusCode=401",
                                "detail": "Token expired",
                                "code": "3200",
                            }
                        ],
                    }
                },
                {},
            )
        request_id = q.get("requestid")
        if not request_id:
            self.violations.append(f"{kind}: no requestid")
        if q.get("minorversion") is None:
            self.violations.append(f"{kind}: no minorversion")
        with self.lock:
            injected = self._injected[0] if self._injected else None
            if injected is not None:
                injected.times -= 1
                if injected.times <= 0:
                    self._injected.pop(0)
        if injected is not None:
            headers = {}
            if injected.retry_after is not None:
                headers["Retry-After"] = str(injected.retry_after)
            code = "3001" if injected.status == 429 else "10000"
            return (
                injected.status,
                {
                    "Fault": {
                        "type": "SERVICE",
                        "Error": [{"Message": f"injected {injected.status}", "code": code}],
                    }
                },
                headers,
            )
        if kind == "query":
            return self._query(realm, q.get("query", ""))
        if method != "POST":
            return 405, None, {}
        if request_id is None or len(request_id) > 36:
            self.violations.append(f"batch: requestid {request_id!r} missing or > 36 characters")
            return 400, _fault("requestid is required (at most 36 characters)"), {}
        with self.lock:
            cached = self._responses.get((realm, request_id))
            if cached is None:
                status, result = self._batch(realm, body)
                if status == 200:
                    self._responses[(realm, request_id)] = result
            else:
                status, result = 200, cached
            lose = status == 200 and cached is None and self.lose_responses > 0
            if lose:
                self.lose_responses -= 1
        if lose:
            return 502, {"Fault": {"Error": [{"Message": "Bad gateway"}]}}, {}
        return status, result, {}

    def _query(self, realm: str, statement: str) -> tuple[int, Any, dict[str, str]]:
        match = _QUERY.match(statement.strip())
        if match is None:
            self.violations.append(f"query: unsupported {statement!r}")
            return 400, _fault(f"unsupported query {statement!r}"), {}
        start = int(match.group(1) or 1)
        size = int(match.group(2) or 100)
        rows = self.accounts.get(realm, [])[start - 1 : start - 1 + size]
        return (
            200,
            {"QueryResponse": {"Account": rows, "startPosition": start, "maxResults": len(rows)}},
            {},
        )

    def _batch(self, realm: str, body: Any) -> tuple[int, dict[str, Any]]:
        items = body.get("BatchItemRequest") if isinstance(body, dict) else None
        problems = []
        if not isinstance(items, list) or not 1 <= len(items) <= 30:
            problems.append("BatchItemRequest must hold 1 to 30 items")
            items = []
        bids = [item.get("bId") if isinstance(item, dict) else None for item in items]
        if any(not isinstance(b, str) or not 1 <= len(b) <= 10 for b in bids):
            problems.append(f"every bId is 1 to 10 characters: {bids}")
        if len(set(map(str, bids))) != len(bids):
            problems.append(f"bIds must be unique: {bids}")
        if problems:
            self.violations.extend(problems)
            return 400, _fault("; ".join(problems))
        responses = []
        for item in items:
            bid = item["bId"]
            journal = item.get("JournalEntry")
            problem = None
            if item.get("operation") != "create" or not isinstance(journal, dict):
                problem = "operation must be create with a JournalEntry"
            else:
                problem = self._check_journal(realm, journal)
            if problem is not None:
                self.violations.append(f"{bid}: {problem}")
                responses.append({"bId": bid, "Fault": _fault(problem)["Fault"]})
                continue
            injected = self.item_faults.get(str(journal.get("DocNumber")))
            if injected is not None:
                responses.append({"bId": bid, "Fault": _fault(injected, "6000")["Fault"]})
                continue
            created = {**journal, "Id": str(next(self._ids)), "SyncToken": "0"}
            self.journal_entries.setdefault(realm, []).append(created)
            responses.append({"bId": bid, "JournalEntry": created})
        return 200, {"BatchItemResponse": responses, "time": "2024-01-01T00:00:00.000-08:00"}

    def _check_journal(self, realm: str, journal: dict[str, Any]) -> str | None:
        known = {a["Id"] for a in self.accounts.get(realm, [])}
        doc = journal.get("DocNumber")
        if doc is not None and (not isinstance(doc, str) or len(doc) > 21):
            return f"DocNumber {doc!r} is longer than 21 characters"
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(journal.get("TxnDate", ""))):
            return f"TxnDate {journal.get('TxnDate')!r} is not YYYY-MM-DD"
        lines = journal.get("Line")
        if not isinstance(lines, list) or len(lines) < 2:
            return "Line must hold at least two lines"
        totals = {"Debit": Decimal(0), "Credit": Decimal(0)}
        for line in lines:
            detail = line.get("JournalEntryLineDetail") if isinstance(line, dict) else None
            if line.get("DetailType") != "JournalEntryLineDetail" or not isinstance(detail, dict):
                return "each line needs DetailType JournalEntryLineDetail and its detail"
            amount = line.get("Amount")
            if isinstance(amount, bool) or not isinstance(amount, int | float):
                return f"Amount {amount!r} is not a number"
            value = Decimal(str(amount))
            if value <= 0 or value != value.quantize(Decimal("0.01")):
                return f"Amount {amount!r} must be positive with at most 2 decimals"
            posting = detail.get("PostingType")
            if posting not in totals:
                return f"PostingType {posting!r} must be Debit or Credit"
            ref = detail.get("AccountRef")
            if not isinstance(ref, dict) or str(ref.get("value")) not in known:
                return f"AccountRef {ref!r} is not an account of this company"
            totals[posting] += value
        if totals["Debit"] != totals["Credit"]:
            return f"debits {totals['Debit']} != credits {totals['Credit']}"
        return None


def _fault(message: str, code: str = "2020") -> dict[str, Any]:
    return {
        "Fault": {
            "type": "ValidationFault",
            "Error": [{"Message": message, "Detail": message, "code": code, "element": ""}],
        }
    }


def config_for(fake: FakeQbo, **overrides: Any) -> Any:
    """A ``QboConfig`` pointing every endpoint at the fake."""
    from ledgerflow.books.qbo import QboConfig

    settings: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uri": "https://app.example.test/api/qbo/callback",
        "api_base": fake.url,
        "authorize_url": f"{fake.url}/connect/oauth2",
        "token_url": f"{fake.url}/oauth2/v1/tokens/bearer",
        "revoke_url": f"{fake.url}/v2/oauth2/tokens/revoke",
    }
    return QboConfig(**{**settings, **overrides})


def consent(auth: Any, company_id: str, realm: str, user_id: str | None = "usr_1") -> Any:
    """Go through the consent page as a user would; returns the stored connection's info."""
    import httpx

    url = auth.authorization_url(company_id, user_id) + f"&realm={realm}"
    location = httpx.get(url, follow_redirects=False).headers["Location"]
    params = {k: v[-1] for k, v in parse_qs(urlsplit(location).query).items()}
    return auth.complete_connection(
        state=params["state"], code=params["code"], realm_id=params["realmId"]
    )
