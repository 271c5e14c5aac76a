"""Connecting a company to QuickBooks Online (OAuth 2 authorization-code flow)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel

from ...books.qbo import ConnectionInfo, QboAuth, QboConfig, QboError, QboOAuthError
from ..deps import PrincipalDep, Runtime, RuntimeDep, require_member, require_writer

router = APIRouter(prefix="/api", tags=["quickbooks"])


class QboStatus(BaseModel):
    connected: bool
    realm_id: str | None = None
    connected_at: dt.datetime | None = None
    needs_reconnect: bool = False


class QboConnect(BaseModel):
    authorization_url: str


def _auth(runtime: Runtime) -> QboAuth:
    # Cheap to build; the token refreshes that need its per-company locks run in the workers.
    return QboAuth(runtime.writers, QboConfig.from_env(), runtime.secret)


def auth_for(runtime: Runtime) -> QboAuth:
    try:
        return _auth(runtime)
    except QboError as exc:  # not configured on this server
        raise HTTPException(409, str(exc)) from None


def _status(info: ConnectionInfo | None) -> QboStatus:
    if info is None:
        return QboStatus(connected=False)
    return QboStatus(
        connected=True,
        realm_id=info.realm_id,
        connected_at=info.connected_at,
        needs_reconnect=info.needs_reconnect,
    )


@router.get("/companies/{company_id}/quickbooks", response_model=QboStatus, responses={404: {}})
def status(company_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> QboStatus:
    """Whether the company is connected to QuickBooks Online (never shows the tokens)."""
    require_member(principal, company_id)
    try:
        auth = _auth(runtime)
    except QboError:
        return QboStatus(connected=False)
    return _status(auth.connection(company_id))


@router.post(
    "/companies/{company_id}/quickbooks/connect",
    response_model=QboConnect,
    responses={403: {}, 404: {}, 409: {"description": "QuickBooks is not configured here."}},
)
def connect(company_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> QboConnect:
    """Start connecting: open ``authorization_url`` in the browser; Intuit returns to the
    callback."""
    require_writer(principal, company_id)
    url = auth_for(runtime).authorization_url(company_id, principal.user_id)
    return QboConnect(authorization_url=url)


@router.get("/quickbooks/callback", responses={302: {}, 400: {}, 403: {}, 409: {}})
def callback(
    runtime: RuntimeDep,
    principal: PrincipalDep,
    state: Annotated[str, Query(max_length=2000)],
    code: Annotated[str | None, Query(max_length=2000)] = None,
    realm_id: Annotated[str | None, Query(alias="realmId", max_length=64)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> RedirectResponse:
    """Where Intuit sends the browser back; stores the (encrypted) tokens."""
    auth = auth_for(runtime)
    try:
        started = auth.verify_state(state)
    except QboOAuthError as exc:
        raise HTTPException(400, str(exc)) from None
    if started.user_id != principal.user_id:
        raise HTTPException(403, "This connection was started by another user.")
    require_writer(principal, started.company_id)
    if error or not code or not realm_id:
        raise HTTPException(400, f"QuickBooks did not connect: {error or 'no code returned'}")
    try:
        auth.complete_connection(state=state, code=code, realm_id=realm_id)
    except QboOAuthError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse(f"/#export?company={started.company_id}", status_code=302)


@router.delete(
    "/companies/{company_id}/quickbooks", status_code=204, responses={403: {}, 404: {}, 409: {}}
)
def disconnect(company_id: str, runtime: RuntimeDep, principal: PrincipalDep) -> None:
    """Revoke the tokens at Intuit and forget the connection."""
    require_writer(principal, company_id)
    auth_for(runtime).disconnect(company_id)
