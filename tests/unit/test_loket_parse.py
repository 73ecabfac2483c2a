"""Loket JSON -> typed values: pure functions, status/field tables, the isolated assumptions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.journal.models import JournalRunStatus, PeriodType
from shared.loket import parse
from shared.loket.client import Page, page_of, patch_body
from shared.loket.errors import LoketContractError, LoketMessage, LoketRejected
from shared.loket.oauth import authorize_url, expires_in
from shared.oauth.consent import pkce_challenge
from shared.secret import Secret

RUN: dict[str, Any] = {
    "id": "3f0c0000-0000-0000-0000-000000000001",
    "sequenceNumber": 12,
    "journalRunStatus": {"key": 4, "value": "Journaal gereed"},
    "payrollRun": {
        "payrollRunId": "9a1e0000-0000-0000-0000-000000000001",
        "sequenceNumberApproved": 5,
        "payrollPeriod": {
            "year": 2024,
            "periodNumber": 3,
            "periodStartDate": "2024-03-01",
            "periodEndDate": "2024-03-31",
            "testYear": False,
        },
    },
    "requestTime": "2024-03-26T10:02:11",
    "processingFinishedTime": "2024-03-26T10:02:40",
}


def test_the_documented_journal_run_example_parses() -> None:
    run = parse.parse_journal_run(RUN, administration_id="adm")
    assert run.status is JournalRunStatus.READY
    assert (run.sequence_number, run.payroll_run_sequence) == (12, 5)
    assert run.period.start == date(2024, 3, 1) and run.period.end == date(2024, 3, 31)
    assert run.period.test_year is False
    # Naive Loket time is Amsterdam time: 10:02 CET is 09:02 UTC.
    assert run.requested_at == datetime(2024, 3, 26, 9, 2, 11, tzinfo=UTC)
    assert run.finished_at is not None and run.finished_at.utcoffset() == timedelta(hours=1)


def test_summer_time_and_explicit_offsets() -> None:
    assert parse.loket_moment("2024-07-01T12:00:00").utcoffset() == timedelta(hours=2)
    assert parse.loket_moment("2024-07-01T12:00:00Z") == datetime(2024, 7, 1, 12, tzinfo=UTC)
    assert parse.loket_moment("2024-07-01T12:00:00+00:00").hour == 12


def drop(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    import copy

    result = copy.deepcopy(data)
    *parents, last = dotted.split(".")
    node = result
    for part in parents:
        node = node[part]
    del node[last]
    return result


@pytest.mark.parametrize(
    "missing",
    [
        "id",
        "journalRunStatus",
        "journalRunStatus.key",
        "sequenceNumber",
        "payrollRun.payrollRunId",
        "payrollRun.payrollPeriod",
        "payrollRun.payrollPeriod.year",
        "payrollRun.payrollPeriod.periodEndDate",
    ],
)
def test_a_missing_field_is_a_contract_error(missing: str) -> None:
    with pytest.raises(LoketContractError) as caught:
        parse.parse_journal_run(drop(RUN, missing), administration_id="adm")
    assert missing.split(".")[-1] in str(caught.value) or "missing" in str(caught.value)
    assert "niets geboekt" in caught.value.dutch


@pytest.mark.parametrize("key", [8, -1, 42, "4", None, True])
def test_an_unknown_status_is_a_contract_error(key: object) -> None:
    run = {**RUN, "journalRunStatus": {"key": key, "value": "?"}}
    with pytest.raises(LoketContractError):
        parse.parse_journal_run(run, administration_id="adm")


def test_the_unknown_status_message_is_dutch_and_names_it() -> None:
    with pytest.raises(LoketContractError) as caught:
        parse.journal_run_status(42)
    assert caught.value.dutch.startswith("Loket.nl meldt een onbekende status (42)")


def test_result_lines_keep_exact_decimals_and_nullable_dimensions() -> None:
    line = parse.parse_journal_line(
        {
            "generalLedgerAccount": {"key": 17, "code": "4000", "description": "Brutolonen"},
            "costCenter": {"key": 2, "code": "SAL073", "description": "Sales Den Bosch"},
            "costUnit": None,
            "payrollComponent": {"key": 1, "description": "Loon"},
            "debetAmount": Decimal("12500.10"),
            "creditAmount": 0,
        }
    )
    assert (line.account, line.account_description) == ("4000", "Brutolonen")
    assert line.debit == Decimal("12500.10") and line.credit == Decimal("0")
    assert isinstance(line.credit, Decimal)
    assert (line.cost_center, line.cost_center_description) == ("SAL073", "Sales Den Bosch")
    assert line.cost_unit is None and line.component == "Loon"


@pytest.mark.parametrize(
    "broken",
    [
        {"debetAmount": "twelve"},
        {"debetAmount": True},
        {"debetAmount": "NaN"},
        {"generalLedgerAccount": {"key": 1}},
        {"costCenter": "SAL073"},
        {"costUnit": {"key": 3}},
    ],
)
def test_broken_lines_are_contract_errors(broken: dict[str, Any]) -> None:
    line = {
        "generalLedgerAccount": {"key": 1, "code": "4000"},
        "debetAmount": 1,
        "creditAmount": 0,
        **broken,
    }
    with pytest.raises(LoketContractError):
        parse.parse_journal_line(line)


def test_employers_and_administrations() -> None:
    employer = parse.parse_employer(
        {"id": "e1", "companyName": "Voorbeeld BV", "employerNumber": 1234}
    )
    assert employer.number == "1234"
    assert (
        parse.parse_employer({"id": "e1", "companyName": "X", "employerNumber": "A12"}).number
        == "A12"
    )
    administration = parse.parse_payroll_administration(
        {
            "id": "a1",
            "name": "Maand",
            "clientNumber": 4711,
            "payrollPeriodType": {"key": 3, "value": "4 weken"},
        },
        employer_id="e1",
    )
    assert administration.period_type is PeriodType.FOUR_WEEKLY
    assert administration.client_number == 4711 and administration.employer_id == "e1"
    unknown = parse.parse_payroll_administration({"id": "a2", "name": "Y"}, employer_id="e1")
    assert unknown.period_type is PeriodType.UNKNOWN and unknown.client_number is None
    with pytest.raises(LoketContractError):
        parse.parse_employer({"id": "e1"})


def test_approval_time() -> None:
    assert parse.parse_approval_time({"approvalTime": None}) is None
    approved = parse.parse_approval_time({"approvalTime": "2024-03-25T14:30:00"})
    assert approved == datetime(2024, 3, 25, 13, 30, tzinfo=UTC)
    with pytest.raises(LoketContractError):
        parse.parse_approval_time({"approvalTime": "gisteren"})


def test_component_label_takes_what_is_there() -> None:
    assert parse.component_label({"key": 1, "value": "Loon"}) == "Loon"
    assert parse.component_label({"key": 7}) == "7"
    assert parse.component_label(None) is None


def test_the_authorize_url() -> None:
    verifier = Secret("v" * 64)
    url = authorize_url(
        "https://oauth.loket-acc.nl/",
        client_id="11111111-2222-3333-4444-555555555555",
        redirect_uri="https://loonbrug.example/api/oauth/loket/callback",
        state=Secret("the-state"),
        code_challenge=pkce_challenge(verifier),
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://oauth.loket-acc.nl/authorize"
    assert {k: v[0] for k, v in parse_qs(parts.query).items()} == {
        "client_id": "11111111-2222-3333-4444-555555555555",
        "redirect_uri": "https://loonbrug.example/api/oauth/loket/callback",
        "response_type": "code",
        "scope": "all",
        "state": "the-state",
        "code_challenge": pkce_challenge(verifier),
        "code_challenge_method": "S256",
    }


@pytest.mark.parametrize(
    ("value", "seconds"), [(3599, 3599), ("120", 120), (None, 3599), (0, 3599), (True, 3599)]
)
def test_expires_in(value: object, seconds: int) -> None:
    assert expires_in(value) == seconds


def test_page_envelope() -> None:
    assert page_of({"totalPages": 0, "totalSize": 0, "currentPage": 1}, 1) == Page(
        [], 1, 0, 0, None
    )
    assert page_of({"totalPages": 3, "currentPage": 2, "_embedded": [1]}, 2).next_page == 3
    with pytest.raises(LoketContractError):
        page_of({"totalPages": 3, "currentPage": 1, "_embedded": [1]}, 2)
    with pytest.raises(LoketContractError):
        page_of({"currentPage": 1, "_embedded": []}, 1)
    with pytest.raises(LoketContractError):
        page_of({"totalPages": 1, "currentPage": 1, "_embedded": {"id": 1}}, 1)


def test_patch_body_and_rejections() -> None:
    body = patch_body("MarkAsProcessed", "Geboekt\nin AFAS " + "x" * 600)
    assert body["action"] == "MarkAsProcessed"
    assert body["message"].startswith("Geboekt in AFAS") and len(body["message"]) == 500
    rejected = LoketRejected("x", messages=(LoketMessage("BrokenBusinessRule", "period closed"),))
    assert rejected.dutch.endswith("Melding van Loket: period closed")


def test_retry_after_in_seconds_or_as_an_http_date() -> None:
    from email.utils import format_datetime

    import requests

    from shared.loket.client import retry_after

    def answer(value: str | None) -> requests.Response:
        response = requests.Response()
        if value is not None:
            response.headers["Retry-After"] = value
        return response

    assert retry_after(answer("7")) == 7
    assert retry_after(answer(None)) is None
    assert retry_after(answer("soon")) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after(answer(later)) or 0) <= 30


@pytest.mark.parametrize("value", ["²", "1" * 40, 10**15, "0", -5, "abc"])
def test_an_absurd_token_lifetime_is_read_safely(value: object) -> None:
    from shared.loket.oauth import MAX_EXPIRES_IN, expires_in

    assert 0 < expires_in(value) <= MAX_EXPIRES_IN
