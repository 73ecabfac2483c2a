"""Loket.nl JSON -> the typed values of ``shared.journal.models``.

Every function raises :class:`LoketContractError` when the JSON is not what the API promises
(a missing field, a wrong type, an unknown status); it never guesses a value and never skips a
line silently. Where loket-api.md marks a fact uncertain ([I]) the reading sits in ONE small
function below with a comment starting "ASSUMPTION"; the final report lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.clock import AMSTERDAM
from shared.journal.models import (
    Employer,
    JournalLine,
    JournalRun,
    JournalRunStatus,
    PayrollAdministration,
    PayrollPeriod,
    PeriodType,
)
from shared.loket.errors import LoketContractError

Json = Mapping[str, Any]


# -- assumptions ([I] in loket-api.md), one function each ----------------------------------------


def loket_moment(value: str) -> datetime:
    """ASSUMPTION [I]: Loket date-times without an offset (``2024-03-26T10:02:11``) are local
    Dutch time (Europe/Amsterdam); the spec shows no offset and no source says which zone.
    A value that does carry an offset (or ``Z``) is taken as it says."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=AMSTERDAM)


def employer_number(value: Any) -> str | None:
    """ASSUMPTION [I]: ``employerNumber`` may be an int or a string; we keep it as text."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise LoketContractError(f"employerNumber has type {type(value).__name__}")
    return str(value)


def component_label(value: Any) -> str | None:
    """ASSUMPTION [I]: ``payrollComponent`` is a metadata object whose sub-fields were not read;
    we take the first of ``description``, ``value``, ``code``, ``key`` that is present."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise LoketContractError("payrollComponent is not an object")
    for name in ("description", "value", "code", "key"):
        if value.get(name) not in (None, ""):
            return str(value[name])
    return None


def cost_object(value: Any, field: str) -> tuple[str | None, str | None]:
    """ASSUMPTION [I]: ``costUnit`` has the same ``{key, code, description}`` shape as
    ``costCenter`` (the costUnit model was not read); both may be null."""
    if value is None:
        return None, None
    if not isinstance(value, Mapping):
        raise LoketContractError(f"{field} is not an object")
    code = value.get("code")
    if code in (None, ""):
        raise LoketContractError(f"{field}.code is missing")
    description = value.get("description")
    return str(code), (str(description) if description not in (None, "") else None)


def journal_run_status(key: Any) -> JournalRunStatus:
    """The eight documented ``journalRunStatus.key`` values [C]; anything else is a contract
    violation (Loket added a status we do not know how to treat, so we do not book it)."""
    if isinstance(key, bool) or not isinstance(key, int):
        raise LoketContractError(f"journalRunStatus.key is not an integer: {key!r}")
    try:
        return JournalRunStatus(key)
    except ValueError:
        raise LoketContractError(
            f"unknown journalRunStatus.key {key}",
            dutch=f"Loket.nl meldt een onbekende status ({key}) voor een journaalrun; Loonbrug "
            "boekt deze run niet.",
        ) from None


# -- small field readers ------------------------------------------------------------------------


def _field(data: Json, path: str) -> Any:
    current: Any = data
    for part in path.split("."):
        if not isinstance(current, Mapping) or part not in current:
            raise LoketContractError(f"field {path} is missing")
        current = current[part]
    return current


def _text(data: Json, path: str) -> str:
    value = _field(data, path)
    if not isinstance(value, str) or not value.strip():
        raise LoketContractError(f"field {path} is not a non-empty string")
    return value


def _int(data: Json, path: str) -> int:
    value = _field(data, path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise LoketContractError(f"field {path} is not an integer")
    return value


def _optional_int(data: Json, path: str) -> int | None:
    value = data.get(path)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise LoketContractError(f"field {path} is not an integer")
    return value


def _date(data: Json, path: str) -> date:
    value = _text(data, path)
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise LoketContractError(f"field {path} is not a date") from None


def _optional_moment(data: Json, name: str) -> datetime | None:
    value = data.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise LoketContractError(f"field {name} is not a date-time string")
    try:
        return loket_moment(value)
    except ValueError:
        raise LoketContractError(f"field {name} is not a date-time") from None


def _amount(data: Json, name: str) -> Decimal:
    value = _field(data, name)
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        # Floats never get here: the client parses JSON numbers with parse_float=Decimal.
        raise LoketContractError(f"field {name} is not a number")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise LoketContractError(f"field {name} is not a number") from None
    if not amount.is_finite():
        raise LoketContractError(f"field {name} is not a finite number")
    return amount


def _object(value: Any, what: str) -> Json:
    if not isinstance(value, Mapping):
        raise LoketContractError(f"{what} is not a JSON object")
    return value


# -- the domain values --------------------------------------------------------------------------


def parse_employer(item: Any) -> Employer:
    data = _object(item, "employer")
    return Employer(
        id=_text(data, "id"),
        name=_text(data, "companyName"),
        number=employer_number(data.get("employerNumber")),
    )


def parse_payroll_administration(item: Any, *, employer_id: str) -> PayrollAdministration:
    data = _object(item, "payroll administration")
    period_type = data.get("payrollPeriodType")
    key = period_type.get("key") if isinstance(period_type, Mapping) else None
    return PayrollAdministration(
        id=_text(data, "id"),
        employer_id=employer_id,
        name=_text(data, "name"),
        client_number=_optional_int(data, "clientNumber"),
        period_type=PeriodType.from_loket_key(key if isinstance(key, int) else None),
    )


def parse_payroll_period(data: Json) -> PayrollPeriod:
    period = _object(_field(data, "payrollRun.payrollPeriod"), "payrollRun.payrollPeriod")
    test_year = period.get("testYear", False)
    if not isinstance(test_year, bool):
        raise LoketContractError("field payrollPeriod.testYear is not a boolean")
    return PayrollPeriod(
        year=_int(period, "year"),
        number=_int(period, "periodNumber"),
        start=_date(period, "periodStartDate"),
        end=_date(period, "periodEndDate"),
        test_year=test_year,
    )


def parse_journal_run(item: Any, *, administration_id: str) -> JournalRun:
    """ASSUMPTION [I] (high confidence): list items and the detail ``content`` share the
    ``JournalRun`` schema."""
    data = _object(item, "journal run")
    return JournalRun(
        id=_text(data, "id"),
        administration_id=administration_id,
        status=journal_run_status(_field(data, "journalRunStatus.key")),
        sequence_number=_int(data, "sequenceNumber"),
        payroll_run_id=_text(data, "payrollRun.payrollRunId"),
        payroll_run_sequence=_int(data, "payrollRun.sequenceNumberApproved"),
        period=parse_payroll_period(data),
        requested_at=_optional_moment(data, "requestTime"),
        finished_at=_optional_moment(data, "processingFinishedTime"),
    )


def parse_journal_line(item: Any) -> JournalLine:
    data = _object(item, "journal result line")
    account = _object(_field(data, "generalLedgerAccount"), "generalLedgerAccount")
    cost_center, cost_center_description = cost_object(data.get("costCenter"), "costCenter")
    cost_unit, cost_unit_description = cost_object(data.get("costUnit"), "costUnit")
    description = account.get("description")
    return JournalLine(
        account=_text(account, "code"),
        account_description=str(description) if description not in (None, "") else "",
        debit=_amount(data, "debetAmount"),  # sic: Loket spells it "debet"
        credit=_amount(data, "creditAmount"),
        cost_center=cost_center,
        cost_center_description=cost_center_description,
        cost_unit=cost_unit,
        cost_unit_description=cost_unit_description,
        component=component_label(data.get("payrollComponent")),
    )


def parse_approval_time(content: Any) -> datetime | None:
    """ASSUMPTION [I]: "Datum goedgekeurd" is ``approvalTime`` of the payroll run; a payroll run
    that is not approved (yet) has it null."""
    data = _object(content, "payroll run")
    return _optional_moment(data, "approvalTime")
