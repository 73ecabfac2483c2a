"""Request bodies refuse values that only look like a boolean (found by the API fuzz slice:
``{"journalRunFailed": 0}`` was stored as ``false``)."""

from __future__ import annotations

import typing
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, ValidationError

from shared.api.catalog import OPERATIONS
from shared.api.handlers.notifications import NotificationsIn


def _models(model: type[BaseModel], seen: set[type[BaseModel]]) -> Iterator[type[BaseModel]]:
    if model in seen:
        return
    seen.add(model)
    yield model
    for info in model.model_fields.values():
        for arg in (info.annotation, *typing.get_args(info.annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel):
                yield from _models(arg, seen)


def test_every_boolean_in_a_request_body_is_strict() -> None:
    seen: set[type[BaseModel]] = set()
    loose = [
        f"{model.__name__}.{name}"
        for op in OPERATIONS
        if op.body is not None
        for model in _models(op.body, seen)
        for name, info in model.model_fields.items()
        if info.annotation is bool
        and not (model.model_config.get("strict") or any(
            getattr(m, "strict", False) for m in info.metadata
        ))
    ]  # fmt: skip
    assert loose == []


@pytest.mark.parametrize("value", [0, 1, "true", "false", "yes", 1.0])
def test_notification_switches_refuse_non_booleans(value: object) -> None:
    body = {
        "recipients": [],
        "morningSummary": False,
        "reauthorization": False,
        "journalRunFailed": value,
    }
    with pytest.raises(ValidationError):
        NotificationsIn.model_validate(body)
    assert NotificationsIn.model_validate({**body, "journalRunFailed": True}).journal_run_failed
