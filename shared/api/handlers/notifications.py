"""Notification settings of the office: who gets e-mail, and which e-mails."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from shared.api.http import ApiResponse, json_response, read_model
from shared.api.operations import Access, Operation, Reply, RequestContext
from shared.api.schemas import RequestModel, ResponseModel
from shared.store.notifications import NotificationSettings

MAX_RECIPIENTS = 20
EmailAddress = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=254,
        pattern=r"^[^@\s,;<>\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$",
    ),
]


class NotificationsIn(RequestModel):
    recipients: list[EmailAddress] = Field(max_length=MAX_RECIPIENTS)
    morning_summary: bool = Field(strict=True, description="Summary of the nightly, per client")
    reauthorization: bool = Field(strict=True, description="Loket or AFAS needs a new consent")
    journal_run_failed: bool = Field(strict=True, description="A journal run could not be booked")


class NotificationsOut(ResponseModel):
    recipients: list[str]
    morning_summary: bool
    reauthorization: bool
    journal_run_failed: bool
    email_configured: bool = Field(description="Whether this installation can send e-mail")
    updated_at: datetime | None
    updated_by: str


def _out(ctx: RequestContext, value: NotificationSettings) -> NotificationsOut:
    return NotificationsOut(
        recipients=list(value.recipients),
        morning_summary=value.morning_summary,
        reauthorization=value.reauthorization,
        journal_run_failed=value.journal_run_failed,
        email_configured=ctx.services.settings.email_configured,
        updated_at=value.updated_at,
        updated_by=value.updated_by,
    )


def get_notifications(ctx: RequestContext) -> ApiResponse:
    value = ctx.services.notifications.settings(ctx.office_id) or NotificationSettings()
    return json_response(200, _out(ctx, value))


def put_notifications(ctx: RequestContext) -> ApiResponse:
    body = read_model(ctx.request, NotificationsIn)
    recipients = tuple(dict.fromkeys(body.recipients))  # drop duplicates, keep the order
    saved = ctx.services.notifications.save_settings(
        ctx.office_id,
        NotificationSettings(
            recipients=recipients,
            morning_summary=body.morning_summary,
            reauthorization=body.reauthorization,
            journal_run_failed=body.journal_run_failed,
        ),
        now=ctx.services.clock(),
        user=ctx.user.name,
    )
    return json_response(200, _out(ctx, saved))


GET_NOTIFICATIONS = Operation(
    name="get_notifications",
    method="GET",
    route="notifications",
    access=Access.READER,
    summary="E-mail notification settings of the office",
    tag="notifications",
    handler=get_notifications,
    replies={200: Reply("The settings (defaults when never saved).", NotificationsOut)},
)

PUT_NOTIFICATIONS = Operation(
    name="put_notifications",
    method="PUT",
    route="notifications",
    access=Access.ADMIN,
    summary="Set the e-mail recipients and which notifications the office gets",
    tag="notifications",
    handler=put_notifications,
    body=NotificationsIn,
    replies={200: Reply("Saved.", NotificationsOut)},
)

OPERATIONS = (GET_NOTIFICATIONS, PUT_NOTIFICATIONS)
