"""Review mode: the pending journal runs of the office, approve, reject."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from shared.api.http import ApiResponse, Problem, json_response, read_model
from shared.api.operations import Access, Operation, Reply, RequestContext, problem_reply
from shared.api.schemas import RequestModel, ResponseModel
from shared.store.approvals import ApprovalItem
from shared.sync.review import Decision, ReviewProblem


class FindingOut(ResponseModel):
    code: str
    text: str
    hint: str


class ApprovalOut(ResponseModel):
    approval_id: str
    state: Literal["pending", "approving", "approved", "rejected", "failed"]
    client_id: str
    loket_journal_run_id: str
    payroll_run_id: str
    payroll_period: str
    sequence_number: int
    run_id: str = Field(description="The run whose detail and documents hold the prepared entry")
    target: str = Field(description="Dutch label of the AFAS administration")
    environment: str
    reference: str = Field(description="Voucher number (Profit) or tracking identifier (SB)")
    description: str
    line_count: int
    total_debit: Decimal
    total_credit: Decimal
    findings: list[FindingOut] = Field(description="Warnings of the pre-check (nothing blocking)")
    prepared_at: datetime | None
    decided_by: str
    decided_at: datetime | None
    reason: str
    entry_number: str
    marked_in_loket: bool
    etag: str


class ApprovalListOut(ResponseModel):
    approvals: list[ApprovalOut]


class RejectIn(RequestModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=1000)]
    mark_failed_in_loket: bool = Field(default=False, strict=True)


def approval_out(item: ApprovalItem) -> ApprovalOut:
    p = item.prepared
    return ApprovalOut(
        approval_id=item.approval_id,
        state=item.state.value,
        client_id=p.client_id,
        loket_journal_run_id=p.loket_journal_run_id,
        payroll_run_id=p.payroll_run_id,
        payroll_period=p.payroll_period,
        sequence_number=p.sequence_number,
        run_id=p.run_id,
        target=p.target_label,
        environment=p.environment,
        reference=p.reference,
        description=p.description,
        line_count=p.line_count,
        total_debit=p.total_debit,
        total_credit=p.total_credit,
        findings=[FindingOut(code=w.code, text=w.text, hint=w.hint) for w in p.warnings],
        prepared_at=item.prepared_at,
        decided_by=item.decided_by,
        decided_at=item.decided_at,
        reason=item.reason,
        entry_number=item.entry_number,
        marked_in_loket=item.marked_in_loket,
        etag=item.etag,
    )


_STATUS = {
    "not-found": (404, "not-found", "Not found"),
    "conflict": (409, "approval-conflict", "Approval conflict"),
    "changed": (409, "approval-changed", "Prepared entry changed"),
    "consent": (409, "consent-required", "Consent required"),
    "precondition": (412, "precondition-failed", "Precondition failed"),
    "unavailable": (503, "temporarily-unavailable", "Temporarily unavailable"),
}


def _problem(problem: ReviewProblem) -> Problem:
    status, slug, title = _STATUS.get(problem.kind, (409, "approval-conflict", "Approval conflict"))
    headers = {"Retry-After": "60"} if status == 503 else None
    return Problem(status, slug, title, problem.dutch, hint=problem.hint or None, headers=headers)


def _answer(decision: Decision) -> ApiResponse:
    return json_response(200, approval_out(decision.item), {"ETag": decision.item.etag})


def list_approvals(ctx: RequestContext) -> ApiResponse:
    items = ctx.services.approval_service.pending(ctx.office_id)
    return json_response(200, ApprovalListOut(approvals=[approval_out(i) for i in items]))


def approve_item(ctx: RequestContext) -> ApiResponse:
    approval = ctx.request.route_params.get("approvalId", "")
    try:
        decision = ctx.services.approval_service.approve(
            ctx.office_id,
            approval,
            user=ctx.user.name,
            if_match=ctx.request.headers.get("if-match"),
        )
    except ReviewProblem as problem:
        raise _problem(problem) from None
    return _answer(decision)


def reject_item(ctx: RequestContext) -> ApiResponse:
    approval = ctx.request.route_params.get("approvalId", "")
    service = ctx.services.approval_service
    try:
        service.get(ctx.office_id, approval)  # an unknown item is a 404 before a body's 422
        body = read_model(ctx.request, RejectIn)
        decision = service.reject(
            ctx.office_id,
            approval,
            user=ctx.user.name,
            reason=body.reason,
            mark_failed=body.mark_failed_in_loket,
            if_match=ctx.request.headers.get("if-match"),
        )
    except ReviewProblem as problem:
        raise _problem(problem) from None
    return _answer(decision)


LIST_APPROVALS = Operation(
    name="list_approvals",
    method="GET",
    route="approvals",
    access=Access.READER,
    summary="Journal runs prepared in review mode, waiting for approval",
    tag="approvals",
    handler=list_approvals,
    replies={200: Reply("The pending items of the office.", ApprovalListOut)},
)

APPROVE = Operation(
    name="approve_journal_run",
    method="POST",
    route="approvals/{approvalId}/approve",
    access=Access.ADMIN,
    summary="Approve a prepared journal run: book it exactly once and mark it in Loket",
    tag="approvals",
    handler=approve_item,
    description="Optional If-Match with the item's etag. No body.",
    replies={
        200: Reply("Decided: state approved (booked) or failed (AFAS refused).", ApprovalOut),
        409: problem_reply("Already decided, being decided, or the entry changed."),
        412: problem_reply("If-Match does not match the item's etag."),
        503: problem_reply("Loket or AFAS is temporarily unavailable; nothing was booked twice."),
    },
)

REJECT = Operation(
    name="reject_journal_run",
    method="POST",
    route="approvals/{approvalId}/reject",
    access=Access.ADMIN,
    summary="Reject a prepared journal run (optionally mark it processing-failed in Loket)",
    tag="approvals",
    handler=reject_item,
    body=RejectIn,
    replies={
        200: Reply("Rejected.", ApprovalOut),
        409: problem_reply("Already decided or being decided."),
        412: problem_reply("If-Match does not match the item's etag."),
    },
)

OPERATIONS = (LIST_APPROVALS, APPROVE, REJECT)
