"""Request and response shapes: the HTTP contract that clients and the web page rely on."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..jobs import Job
from ..jobs.models import to_datetime

JOB_EXAMPLE: dict[str, Any] = {
    "id": "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4D",
    "type": "upload_and_categorize",
    "status": "running",
    "progress": 45,
    "message": "Categorizing transaction 45/100...",
    "result": None,
    "error": None,
    "company_id": "demo",
    "created_at": "2026-11-26T10:00:00Z",
    "started_at": "2026-11-26T10:00:01Z",
    "finished_at": None,
    "attempts": 1,
}


class JobOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [JOB_EXAMPLE]})

    id: str
    type: str
    status: Literal["pending", "running", "complete", "failed", "cancelled"]
    progress: int = Field(ge=0, le=100)
    message: str | None
    result: Any
    error: str | None
    company_id: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    attempts: int

    @classmethod
    def of(cls, job: Job) -> JobOut:
        return cls(
            id=job.id,
            type=job.task,
            status=job.status.value,
            progress=job.progress,
            message=job.message,
            result=job.result,
            error=job.error,
            company_id=job.company_id,
            created_at=to_datetime(job.created_at),  # type: ignore[arg-type]
            started_at=to_datetime(job.started_at),
            finished_at=to_datetime(job.finished_at),
            attempts=job.attempts,
        )


class JobAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"job_id": JOB_EXAMPLE["id"], "status": "pending"}]}
    )

    job_id: str
    status: str


class JobList(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(examples=[None])


class CategorizeIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"company_id": "demo", "limit": 500}]}
    )

    company_id: str = Field(min_length=1, max_length=64)
    limit: int | None = Field(default=None, ge=1, le=1_000_000)


class BulkApproveIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"company_id": "demo", "min_confidence": 0.95},
                {"company_id": "demo", "transaction_ids": ["txn_01JD4Q8V6T3W7X9Y2Z5A1B3C4D"]},
            ]
        },
    )

    company_id: str = Field(min_length=1, max_length=64)
    transaction_ids: list[str] | None = Field(default=None, min_length=1, max_length=100_000)
    min_confidence: float | None = Field(default=None, ge=0, le=1)

    @model_validator(mode="after")
    def _something_chosen(self) -> BulkApproveIn:
        if self.transaction_ids is None and self.min_confidence is None:
            raise ValueError("give transaction_ids or min_confidence (or both)")
        return self


class ExportIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"company_id": "demo", "since": "2026-01-01", "format": "iif"}]
        },
    )

    company_id: str = Field(min_length=1, max_length=64)
    since: dt.date | None = None
    format: Literal["api", "iif", "csv"] = "api"


class TokenOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"access_token": "eyJhbGciOi...", "token_type": "bearer"}]}
    )

    access_token: str
    token_type: Literal["bearer"] = "bearer"


class CompanyOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "demo", "name": "Demo Co", "role": "owner"}]}
    )

    id: str
    name: str
    role: str


class AccountOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "acc_01JD4Q8V6T3W7X9Y2Z5A1B3C4D",
                    "name": "Meals",
                    "kind": "expense",
                    "qbo_account_type": "Expense",
                    "qbo_detail_type": "EntertainmentMeals",
                    "is_bank": False,
                    "active": True,
                }
            ]
        },
    )

    id: str
    name: str
    kind: str
    qbo_account_type: str
    qbo_detail_type: str
    is_bank: bool
    active: bool


class TransactionOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "txn_01JD4Q8V6T3W7X9Y2Z5A1B3C4D",
                    "date": "2026-11-02",
                    "description": "SQ *BLUE BOTTLE COFFEE OAKLAND CA",
                    "merchant": "blue bottle coffee",
                    "amount_cents": -650,
                    "currency": "USD",
                    "status": "categorized",
                    "account_id": "acc_01JD4Q8V6T3W7X9Y2Z5A1B3C4E",
                    "confidence": 0.97,
                    "method": "model",
                    "needs_review": False,
                    "bank_account_id": "bnk_01JD4Q8V6T3W7X9Y2Z5A1B3C4F",
                }
            ]
        },
    )

    id: str
    date: dt.date
    description: str
    merchant: str | None
    amount_cents: int
    currency: str
    status: str
    account_id: str | None
    confidence: float | None
    method: str | None
    needs_review: bool
    bank_account_id: str


class TransactionPage(BaseModel):
    transactions: list[TransactionOut]
    next_cursor: str | None


class RuleSuggestionOut(BaseModel):
    name: str
    conditions: list[dict[str, Any]]
    account_id: str


class TransactionPatch(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"account_id": "acc_01JD4Q8V6T3W7X9Y2Z5A1B3C4E"}]},
    )

    account_id: str = Field(min_length=1, max_length=64)


class TransactionPatched(BaseModel):
    transaction: TransactionOut
    suggested_rule: RuleSuggestionOut | None


class JournalLineOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    account_id: str
    debit_cents: int
    credit_cents: int
    description: str | None


class JournalEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    date: dt.date
    memo: str | None
    status: str
    transaction_id: str | None
    qbo_id: str | None
    lines: list[JournalLineOut]


class JournalEntryPage(BaseModel):
    journal_entries: list[JournalEntryOut]
    next_cursor: str | None


class RuleCondition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: Literal["description", "merchant", "amount", "direction"]
    op: Literal["contains", "regex", "equals", "between", "gte", "lte", "is"]
    value: Any


class RuleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "Coffee is meals",
                    "conditions": [{"field": "merchant", "op": "contains", "value": "coffee"}],
                    "account_id": "acc_01JD4Q8V6T3W7X9Y2Z5A1B3C4E",
                }
            ]
        },
    )

    name: str = Field(min_length=1, max_length=200)
    conditions: list[RuleCondition] = Field(min_length=1, max_length=20)
    account_id: str = Field(min_length=1, max_length=64)
    position: int | None = Field(default=None, ge=1, le=100_000)
    active: bool = True


class RuleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    position: int
    name: str
    conditions: list[dict[str, Any]]
    account_id: str
    active: bool


class ReceiptOut(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "rcp_01JD4Q8V6T3W7X9Y2Z5A1B3C4D",
                    "status": "matched",
                    "vendor": "Blue Bottle Coffee",
                    "date": "2026-11-02",
                    "subtotal_cents": 600,
                    "tax_cents": 50,
                    "total_cents": 650,
                    "currency": "USD",
                    "field_confidences": {"vendor": 0.93, "date": 0.98, "total": 0.99},
                    "matched_transaction_id": "txn_01JD4Q8V6T3W7X9Y2Z5A1B3C4E",
                    "job_id": "job_01JD4Q8V6T3W7X9Y2Z5A1B3C4F",
                    "error": None,
                    "created_at": "2026-11-26T10:00:00Z",
                }
            ]
        },
    )

    id: str
    status: str
    error: str | None = Field(
        description="Why processing failed, for the user (with status 'failed'); else null."
    )
    vendor: str | None
    date: dt.date | None
    subtotal_cents: int | None
    tax_cents: int | None
    total_cents: int | None
    currency: str | None
    field_confidences: dict[str, float] | None
    matched_transaction_id: str | None
    job_id: str | None
    created_at: dt.datetime


class ReceiptDetail(ReceiptOut):
    raw_text: str | None
    candidates: list[dict[str, Any]] | None
    image_url: str
    matched_transaction: TransactionOut | None


class ReceiptPage(BaseModel):
    receipts: list[ReceiptOut]
    next_cursor: str | None


class ErrorOut(BaseModel):
    detail: Any
