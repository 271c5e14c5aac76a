"""Bookkeeping reads and edits: companies, accounts, transactions, journal entries, rules."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Response

from ...books import queries
from ...books.models import Company
from ...books.rules import RuleValidationError
from ..deps import PrincipalDep, SessionDep, not_found, require_member, require_writer
from ..schemas import (
    AccountOut,
    CompanyOut,
    JournalEntryOut,
    JournalEntryPage,
    RuleIn,
    RuleOut,
    RuleSuggestionOut,
    TransactionOut,
    TransactionPage,
    TransactionPatch,
    TransactionPatched,
)

router = APIRouter(prefix="/api", tags=["books"])
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


def _page_args(cursor: str | None) -> str | None:
    if cursor is not None:
        try:
            queries.decode_cursor(cursor)
        except ValueError:
            raise HTTPException(
                422, [{"loc": ["query", "cursor"], "msg": "invalid cursor"}]
            ) from None
    return cursor


@router.get("/companies", response_model=list[CompanyOut])
def my_companies(principal: PrincipalDep, session: SessionDep) -> list[CompanyOut]:
    """The companies the caller belongs to, with their role in each."""
    if not principal.roles:
        return []
    companies = (
        session.query(Company).filter(Company.id.in_(principal.roles)).order_by(Company.name)
    )
    return [CompanyOut(id=c.id, name=c.name, role=principal.roles[c.id]) for c in companies]


@router.get(
    "/companies/{company_id}/accounts", response_model=list[AccountOut], responses={404: {}}
)
def accounts(company_id: str, principal: PrincipalDep, session: SessionDep) -> list[AccountOut]:
    """The company's chart of accounts."""
    require_member(principal, company_id)
    return [AccountOut.model_validate(a) for a in queries.list_accounts(session, company_id)]


@router.get(
    "/companies/{company_id}/transactions", response_model=TransactionPage, responses={404: {}}
)
def transactions(
    company_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    status: Literal["new", "categorized", "approved", "exported"] | None = None,
    needs_review: bool | None = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> TransactionPage:
    """Transactions newest first, filtered by status or by "needs review"."""
    require_member(principal, company_id)
    page = queries.list_transactions(
        session, company_id, status, needs_review, limit, _page_args(cursor)
    )
    return TransactionPage(
        transactions=[TransactionOut.model_validate(t) for t in page.items],
        next_cursor=page.next_cursor,
    )


@router.patch(
    "/transactions/{transaction_id}",
    response_model=TransactionPatched,
    responses={403: {}, 404: {}, 422: {}},
)
def recategorize(
    transaction_id: str, body: TransactionPatch, principal: PrincipalDep, session: SessionDep
) -> TransactionPatched:
    """Set a transaction's category by hand; suggests a rule for its merchant."""
    for company_id in principal.roles:
        if queries.get_transaction(session, company_id, transaction_id) is not None:
            break
    else:
        raise not_found("Transaction not found.")
    require_writer(principal, company_id, "Transaction")
    try:
        txn, suggestion = queries.set_transaction_category(
            session, company_id, transaction_id, body.account_id, principal.user_id
        )
    except ValueError as exc:
        raise HTTPException(422, [{"loc": ["body", "account_id"], "msg": str(exc)}]) from None
    return TransactionPatched(
        transaction=TransactionOut.model_validate(txn),
        suggested_rule=RuleSuggestionOut(
            name=suggestion.name, conditions=suggestion.conditions, account_id=suggestion.account_id
        )
        if suggestion
        else None,
    )


@router.get(
    "/companies/{company_id}/journal-entries", response_model=JournalEntryPage, responses={404: {}}
)
def journal_entries(
    company_id: str,
    principal: PrincipalDep,
    session: SessionDep,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> JournalEntryPage:
    """Journal entries newest first, each with its balanced lines."""
    require_member(principal, company_id)
    page = queries.list_journal_entries(session, company_id, None, limit, _page_args(cursor))
    return JournalEntryPage(
        journal_entries=[JournalEntryOut.model_validate(e) for e in page.items],
        next_cursor=page.next_cursor,
    )


@router.get("/companies/{company_id}/rules", response_model=list[RuleOut], responses={404: {}})
def rules(company_id: str, principal: PrincipalDep, session: SessionDep) -> list[RuleOut]:
    """The company's categorization rules in the order they are tried."""
    require_member(principal, company_id)
    return [RuleOut.model_validate(r) for r in queries.list_rules(session, company_id)]


@router.post(
    "/companies/{company_id}/rules",
    status_code=201,
    response_model=RuleOut,
    responses={403: {}, 404: {}, 422: {}},
)
def create_rule(
    company_id: str, body: RuleIn, principal: PrincipalDep, session: SessionDep
) -> RuleOut:
    """Add a rule (all conditions must match; the first matching rule wins)."""
    require_writer(principal, company_id)
    try:
        rule = queries.create_rule(
            session,
            company_id,
            body.name,
            [c.model_dump() for c in body.conditions],
            body.account_id,
            position=body.position,
            active=body.active,
            user_id=principal.user_id,
        )
    except (RuleValidationError, ValueError) as exc:
        raise HTTPException(422, [{"loc": ["body"], "msg": str(exc)}]) from None
    return RuleOut.model_validate(rule)


@router.delete(
    "/companies/{company_id}/rules/{rule_id}", status_code=204, responses={403: {}, 404: {}}
)
def delete_rule(
    company_id: str, rule_id: str, principal: PrincipalDep, session: SessionDep
) -> Response:
    """Delete a rule; the ones after it move up."""
    require_writer(principal, company_id)
    if not queries.delete_rule(session, company_id, rule_id, principal.user_id):
        raise not_found("Rule not found.")
    return Response(status_code=204)
