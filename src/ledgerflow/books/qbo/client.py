"""A small QuickBooks Online Accounting API client: queries and batch creates, safely retried.

Every call carries a ``requestid`` (QuickBooks' idempotency key, unique per company): a fresh
UUID for reads, the caller's for a batch, and the same one on every retry of a request, so a
batch that reached QuickBooks before a timeout or a 5xx is answered from its first response
rather than created twice. What happens on each answer:

* 401: the access token is refreshed (``QboAuth.refresh``) and the request retried once; a
  second 401 means the connection is unusable (``QboNotConnected``).
* 429, or a ``ThrottleExceeded`` fault: wait ``Retry-After`` (or an exponential backoff), make
  the company's other requests wait as well (``RateLimiter.pause``), retry.
* 5xx or a network error: exponential backoff with jitter, retry.
* Another 4xx: ``QboRejected`` with QuickBooks' message; item-level faults of a batch are not
  errors here, they are in the returned items.

After ``max_attempts`` tries, or when asked to wait longer than ``max_wait``,
``QboUnavailable`` is raised (the job is retried later). Time goes through the injected
``clock`` and ``sleep``, which the limiter shares.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import httpx

from .errors import QboNotConnected, QboRejected, QboUnavailable
from .limiter import RateLimiter, limiter_for
from .tokens import Credentials, QboConfig

MAX_BATCH_ITEMS = 30
MAX_BID = 10
MAX_BATCH_REQUEST_ID = 36
MAX_REQUEST_ID = 50
QUERY_PAGE = 1000
_THROTTLE_CODES = frozenset({"3001", "003001"})


class TokenSource(Protocol):
    config: QboConfig

    def access_token(self, company_id: str) -> Credentials: ...

    def refresh(self, company_id: str, stale: str | None = None) -> Credentials: ...


def fault_message(body: Any) -> str:
    """QuickBooks' words from a ``Fault`` (either capitalization), as one line."""
    fault = body.get("Fault") or body.get("fault") if isinstance(body, Mapping) else None
    if not isinstance(fault, Mapping):
        return ""
    errors = fault.get("Error") or fault.get("error") or []
    parts = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, Mapping):
            continue
        message = str(error.get("Message") or error.get("message") or "").strip()
        detail = str(error.get("Detail") or error.get("detail") or "").strip()
        code = error.get("code") or error.get("Code")
        text = f"{message}: {detail}" if message and detail and detail != message else message
        text = text or detail
        parts.append(f"{text} (code {code})" if code else text)
    return "; ".join(p for p in parts if p) or str(fault.get("type") or "QuickBooks fault")


def _is_throttle(body: Any) -> bool:
    fault = body.get("Fault") or body.get("fault") if isinstance(body, Mapping) else None
    if not isinstance(fault, Mapping):
        return False
    if str(fault.get("type", "")).lower() == "throttleexceeded":
        return True
    errors = fault.get("Error") or fault.get("error") or []
    return any(
        isinstance(e, Mapping) and str(e.get("code") or e.get("Code")) in _THROTTLE_CODES
        for e in (errors if isinstance(errors, list) else [])
    )


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date: rare enough to fall back on the backoff


class QboClient:
    """The API of one company, for one export (not thread-bound; the limiter is shared)."""

    def __init__(
        self,
        auth: TokenSource,
        company_id: str,
        *,
        http: httpx.Client | None = None,
        limiter: RateLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int = 6,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        max_wait: float = 300.0,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.auth = auth
        self.company_id = company_id
        self.config = auth.config
        self._http = http or httpx.Client(timeout=self.config.timeout)
        self.limiter = limiter or limiter_for(company_id)
        self._clock = clock
        self._sleep = sleep
        self.max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._max_wait = max_wait
        self._jitter = jitter

    # --- public calls ------------------------------------------------------------------------
    def query(self, statement: str) -> dict[str, Any]:
        """``GET …/query``: the ``QueryResponse`` object."""
        body = self._call("GET", "query", params={"query": statement})
        response = body.get("QueryResponse")
        return response if isinstance(response, dict) else {}

    def query_all(self, entity: str, where: str = "") -> list[dict[str, Any]]:
        """Every ``entity`` matching ``where`` (``QUERY_PAGE`` per request)."""
        rows: list[dict[str, Any]] = []
        start = 1
        while True:
            page = self.query(
                f"select * from {entity}{f' where {where}' if where else ''} "
                f"STARTPOSITION {start} MAXRESULTS {QUERY_PAGE}"
            )
            items = page.get(entity) or []
            rows.extend(item for item in items if isinstance(item, dict))
            if len(items) < QUERY_PAGE:
                return rows
            start += QUERY_PAGE

    def batch(
        self, items: Sequence[Mapping[str, Any]], request_id: str
    ) -> dict[str, dict[str, Any]]:
        """``POST …/batch``: each ``BatchItemResponse`` by its ``bId``.

        The same ``request_id`` with the same items may be sent any number of times; only the
        first reaching QuickBooks acts. Item faults are in the items (``fault_message``)."""
        if not 1 <= len(items) <= MAX_BATCH_ITEMS:
            raise ValueError(f"a batch has 1 to {MAX_BATCH_ITEMS} items, not {len(items)}")
        if not 1 <= len(request_id) <= MAX_BATCH_REQUEST_ID:
            raise ValueError(f"a batch requestid has at most {MAX_BATCH_REQUEST_ID} characters")
        bids = [str(item.get("bId", "")) for item in items]
        if len(set(bids)) != len(bids) or not all(1 <= len(b) <= MAX_BID for b in bids):
            raise ValueError(f"bIds must be unique and 1 to {MAX_BID} characters: {bids}")
        body = self._call(
            "POST",
            "batch",
            json={"BatchItemRequest": list(items)},
            request_id=request_id,
            weight=len(items),
            batch=True,
        )
        responses = body.get("BatchItemResponse") or []
        return {str(r.get("bId")): r for r in responses if isinstance(r, dict) and r.get("bId")}

    # --- the retry loop -----------------------------------------------------------------------
    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        request_id: str | None = None,
        weight: int = 1,
        batch: bool = False,
    ) -> dict[str, Any]:
        request_id = request_id or str(uuid.uuid4())
        if len(request_id) > MAX_REQUEST_ID:
            raise ValueError(f"a requestid has at most {MAX_REQUEST_ID} characters")
        creds = self.auth.access_token(self.company_id)
        refreshed = False
        attempt = 0
        problem = ""
        while True:
            attempt += 1
            url = f"{self.config.api_base.rstrip('/')}/v3/company/{creds.realm_id}/{path}"
            query = {
                **(params or {}),
                "requestid": request_id,
                "minorversion": str(self.config.minor_version),
            }
            headers = {
                "Authorization": f"Bearer {creds.access_token}",
                "Accept": "application/json",
            }
            response: httpx.Response | None = None
            with self.limiter.slot(weight, batch=batch):
                try:
                    response = self._http.request(
                        method, url, params=query, json=json, headers=headers
                    )
                except httpx.TransportError as exc:
                    problem = f"QuickBooks could not be reached ({type(exc).__name__}: {exc})"
            body = self._json(response) if response is not None else {}
            delay: float | None = None
            if response is None:
                delay = self._backoff(attempt)
            elif response.status_code == 401:
                if refreshed:
                    raise QboNotConnected(
                        "QuickBooks refused a freshly refreshed token; reconnect QuickBooks"
                    )
                creds = self.auth.refresh(self.company_id, stale=creds.access_token)
                refreshed = True
                attempt -= 1  # the retry after a refresh is not counted against the budget
                continue
            elif response.status_code == 429 or _is_throttle(body):
                problem = f"QuickBooks throttled the requests ({response.status_code})"
                delay = _retry_after(response)
                delay = self._backoff(attempt) if delay is None else delay
                if delay > self._max_wait:
                    raise QboUnavailable(f"{problem}; asked to wait {delay:.0f} s")
                self.limiter.pause(delay)
            elif response.status_code >= 500:
                problem = f"QuickBooks answered {response.status_code}: {fault_message(body)}"
                delay = self._backoff(attempt)
            elif response.status_code >= 400:
                message = fault_message(body) or response.text[:300]
                raise QboRejected(
                    f"QuickBooks refused the request ({response.status_code}): {message}",
                    response.status_code,
                )
            else:
                return body
            if attempt >= self.max_attempts:
                raise QboUnavailable(f"{problem}; gave up after {attempt} attempts")
            self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        return float(ceiling * (0.5 + self._jitter() / 2))

    @staticmethod
    def _json(response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}
