"""AFAS pieces without I/O: the error→hint table, input parsing, payloads, retry policy."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from shared.afas.environment import (
    EnvironmentKind,
    InputError,
    parse_profit_environment,
    parse_sb_environment,
    profit_base_url,
    profit_token,
)
from shared.afas.errors import (
    KNOWN_ERRORS,
    AfasError,
    AfasRetriableError,
    AfasSystem,
    AfasValidationError,
    explain,
)
from shared.afas.models import MetaInfo
from shared.afas.profit import (
    authorization_header,
    check_entry,
    entry_number_of,
    fi_entries_payload,
    meta_info_of,
    missing_connectors,
    token_expiry,
)
from shared.afas.retry import RetryPolicy
from shared.afas.sb import payroll_entry_payload
from shared.afas.wire import dumps
from shared.clock import AMSTERDAM
from tests.support.afas_fixtures import profit_entry, sb_entry

DATA = "BCE80D3725B381259AB584C1D2E3F4A5B6C7D8E9F0A1B2C3D4E5F6A7B8C9D0E1"

# -- the table: AFAS text (or status) → code → a hint naming what to do ------------------------

TABLE = [
    # blocked ledger account [C] afas.help 96995
    ("Boekingen op geblokkeerde rekening niet toegestaan", None, "account-blocked", "Deblokkeer"),
    # closed period, both documented forms [C]
    ("Datum '1-11-2023' valt in een geblokkeerde periode", None, "period-blocked", "periode"),
    ("Voor deze administratie is periode 8 van jaar 2023 geblokkeerd.", None, "period-blocked", "deblokkeren"),
    ("Periode 13 van boekjaar 2025 bestaat niet.", None, "period-missing", "Periodetabel"),
    ("De ingevulde waarde bij 'Dagboek' bestaat niet.", None, "journal-unknown", "dagboekcode"),
    ("Dagboek '81' is geblokkeerd.", None, "journal-unknown", "memoriaaldagboek"),
    ("De ingevulde waarde bij 'Rekeningnummer' bestaat niet.", None, "account-unknown", "transponering"),
    ("Vul een waarde in bij 'Rekeningnummer'.", None, "account-unknown", "transponering"),
    ("The entered value for 'Account Number' does not exist", None, "account-unknown", "transponering"),
    ("Grootboekrekening '9999' bestaat niet.", None, "account-unknown", "transponering"),
    ("De journaalpost is niet in balans. Het verschil is 0,01.", None, "not-balanced", "debet en credit"),
    ("Code verbijzondering voor as 'Kostenplaats' moet gevuld worden voor rekening 8074", None,
     "allocation-required", "Rekening 8074 vraagt in AFAS een code op de as 'Kostenplaats'"),
    ("Voor code verbijzondering 'ABC' is geen toewijzing bij rekening 'YXZ' of de toewijzing is "
     "geblokkeerd.", None, "allocation-unknown", "verbijzonderingscode ABC toe aan grootboekrekening YXZ"),
    ("General message: Deze UpdateConnector wordt niet ondersteund of de gebruiker is niet "
     "geautoriseerd.", None, "connector-not-authorized", "FiEntries"),
    ("GetConnector not supported for this app or the user is not authorized", None,
     "connector-not-authorized", "Profit_Transactions"),
    ("This GetConnector (definition) is blocked", None, "connector-not-authorized", "App connector"),
    # a 401 on a connector: the published 401 has no body; Loonbrug's text names the connector
    ("AFAS Profit weigert de toegang tot connector Profit_Transactions.", 401, "connector-refused",
     "toegang tot Profit_Transactions"),
    ("AFAS Profit weigert de toegang tot connector FiEntries. AFAS meldt: GetConnector not "
     "supported for this app or the user is not authorized", 401, "connector-refused",
     "Voeg FiEntries toe aan de App connector"),
    ("", 401, "token-invalid", "gebruikerstoken"),
    ("Er is geen ingelogde gebruiker.", 401, "token-invalid", "gebruikerstoken"),
    ("De ingelogde gebruiker heeft niet voldoende rechten.", 403, "access-denied", "IP-beperking"),
    ("", 503, "maintenance", "afasstatus.nl"),
    ("AFAS Online is tijdelijk niet beschikbaar wegens onderhoud.", 503, "maintenance", "later"),
    ("", 429, "rate-limited", "opnieuw"),
    ("De boekingslayout is in gebruik door een andere gebruiker.", 500, "booking-locked", "later opnieuw"),
    ("De maximale tijdsduur voor het uitvoeren van de opdracht is verstreken.", 500, "server-timeout", "controleert"),
    ("No unit available", 500, "administration-unknown", "administratienummer"),
    ("Projectboeking is verplicht voor grootboekrekening 4000.", 500, "project-required", "project"),
]  # fmt: skip


@pytest.mark.parametrize(("message", "status", "code", "hint_part"), TABLE)
def test_known_afas_errors_map_to_a_dutch_hint(
    message: str, status: int | None, code: str, hint_part: str
) -> None:
    found = explain(message, status=status)
    assert found is not None, message
    assert found.known.code == code
    assert hint_part.lower() in found.hint.lower()
    error = AfasError(message, status=status, log_reference="ABC123")
    assert error.code == code
    assert error.hint == found.hint
    assert error.detail.startswith(found.known.summary)


def test_every_known_error_is_covered_by_the_table() -> None:
    assert {known.code for known in KNOWN_ERRORS} - {row[2] for row in TABLE} <= {
        "zero-amount",
        "entry-number-given",
    }


def test_an_unknown_error_keeps_afas_text_and_log_reference() -> None:
    error = AfasError(
        "Iets volstrekt onbekends", status=500, error_number=-1, log_reference="B8213AF1C3C5"
    )
    assert error.code == "unknown"
    assert "Iets volstrekt onbekends" in error.detail
    assert "B8213AF1C3C5" in error.detail and "B8213AF1C3C5" in error.hint
    assert "omgevingslogboek" in error.hint
    sb = AfasError("Raar", system=AfasSystem.SB, status=400, trace_id="trace-77")
    assert "TraceId trace-77" in sb.detail and "trace-77" in sb.hint


# -- environment and token input -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "name", "number", "kind", "stored_name"),
    [
        ("12345", None, "12345", EnvironmentKind.PRODUCTION, None),
        ("O12345AA", None, "12345", EnvironmentKind.PRODUCTION, "O12345AA"),
        ("t12345ab", None, "12345", EnvironmentKind.TEST, "T12345AB"),
        ("A12345AA", "a12345aa", "12345", EnvironmentKind.ACCEPT, "A12345AA"),
        ("54805", "OB5480AW", "54805", EnvironmentKind.PRODUCTION, "OB5480AW"),  # the manual's
    ],
)
def test_environment_from_number_or_name(
    value: str, name: str | None, number: str, kind: EnvironmentKind, stored_name: str | None
) -> None:
    parsed = parse_profit_environment(value, name)
    assert (parsed.number, parsed.kind, parsed.name) == (number, kind, stored_name)


@pytest.mark.parametrize(
    ("value", "name"),
    [("1234", None), ("O1234AA", None), ("O12345AA", "O54321AA"), ("12345", "O54321AA"), ("", None),
     ("12345", "bad name!")],
)  # fmt: skip
def test_bad_environment_input_is_refused_in_dutch(value: str, name: str | None) -> None:
    with pytest.raises(InputError) as caught:
        parse_profit_environment(value, name)
    assert "omgeving" in str(caught.value).lower()


def test_base_url_follows_the_environment_type_only_for_afas_online() -> None:
    online = "https://{environment}.rest.afas.online/ProfitRestServices"
    assert profit_base_url(online, parse_profit_environment("T12345AB")) == (
        "https://12345.resttest.afas.online/ProfitRestServices"
    )
    assert profit_base_url(online, parse_profit_environment("A12345AA")).startswith(
        "https://12345.restaccept."
    )
    test_template = "https://{environment}.resttest.afas.online/ProfitRestServices"
    assert profit_base_url(test_template, parse_profit_environment("12345")).startswith(
        "https://12345.resttest."
    )
    sandbox = "http://127.0.0.1:9999/{environment}/ProfitRestServices"
    assert profit_base_url(sandbox, parse_profit_environment("T12345AB")) == (
        "http://127.0.0.1:9999/12345/ProfitRestServices"
    )


@pytest.mark.parametrize(
    "pasted",
    [
        f"<token><version>1</version><data>{DATA}</data></token>",
        f"  <token>\n  <version>1</version>\r\n  <data>{DATA[:30]}\n{DATA[30:]}</data>\n</token>\n",
        DATA,
        f"  {DATA}\n",
    ],
)
def test_token_as_afas_shows_it_or_bare_data(pasted: str) -> None:
    token = profit_token(pasted)
    assert token.reveal() == f"<token><version>1</version><data>{DATA}</data></token>"
    header = authorization_header(token).reveal()
    assert header.startswith("AfasToken ")
    assert base64.b64decode(header.split(" ", 1)[1]).decode() == token.reveal()


@pytest.mark.parametrize("pasted", ["", "geheim", "<token><data>XYZ</data></token>", DATA[:20]])
def test_a_bad_token_is_refused_without_repeating_it(pasted: str) -> None:
    with pytest.raises(InputError) as caught:
        profit_token(pasted)
    assert "token" in str(caught.value)
    if pasted:
        assert pasted not in str(caught.value)


def test_sb_environment_names() -> None:
    assert parse_sb_environment(" Enyoi ") == "enyoi"
    for bad in ("", "a/b", "x" * 80, "met spatie"):
        with pytest.raises(InputError):
            parse_sb_environment(bad)


# -- payloads ---------------------------------------------------------------------------------


def test_fi_entries_payload_has_exact_amounts_and_cost_centres() -> None:
    entry = profit_entry("LB202503S1-AAAA0001")
    raw = dumps(fi_entries_payload(entry))
    assert b'"AmDe":4000.00' in raw and b'"AmCr":3512.34' in raw  # JSON numbers, no float
    document = json.loads(raw, parse_float=Decimal)
    element = document["FiEntryPar"]["Element"]
    assert element["Fields"] == {"Year": 2025, "Peri": 3, "UnId": 1, "JoCo": "80"}
    lines = element["Objects"][0]["FiEntries"]["Element"]
    assert [line["Fields"]["AcNr"] for line in lines] == ["4000", "4100", "1710", "1600"]
    assert {line["Fields"]["BpNr"] for line in lines} == {"LB202503S1-AAAA0001"}
    assert all("EnNo" not in line["Fields"] for line in lines)
    dims = lines[0]["Objects"][0]["FiDimEntries"]["Element"][0]["Fields"]
    assert dims == {"DiC1": "100", "AmDe": Decimal("4000.00"), "AmCr": Decimal("0.00")}
    assert "Objects" not in lines[2]


def test_unbalanced_entry_is_refused_before_any_call() -> None:
    entry = profit_entry("LB-X")
    broken = entry.__class__(**{**entry.__dict__, "lines": entry.lines[:-1]})
    with pytest.raises(AfasValidationError) as caught:
        check_entry(broken)
    assert caught.value.code == "not-balanced"


def test_sb_payload_sends_the_side_that_has_an_amount() -> None:
    payload = payroll_entry_payload(sb_entry("701b747b-eea2-5ed1-8518-973e5c670252"))
    assert payload["PayrollJournalEntryLine"][0] == {
        "LedgerAccountNumber": "4000",
        "AmountDebit": Decimal("4000.00"),
    }
    assert b'"AmountCredit":1300.00' in dumps(payload)


@pytest.mark.parametrize(
    "body",
    [
        {"results": {"FiEntryPar": {"UnId": "4", "EnNo": "54605"}}},
        {"FiEntryPar": {"UnId": "1", "EnNo": "54605", "InId": "IH001057X"}},
        {"results": {"FiEntries": {"EnNo": "54605", "UnId": "1"}}},
        {"results": {"FiEntries": [{"EnNo": 54605}]}},
    ],
)
def test_every_documented_201_shape_gives_the_entry_number(body: object) -> None:
    assert entry_number_of(body) == 54605


def test_the_published_201_example_has_no_number_to_read() -> None:
    """Mutaties.json's FiEntries 201 example carries placeholders: no number, so the voucher
    lookup decides (not a crash)."""
    example = {"results": {"FiEntries": {"EnNo": "PrimaryKeyValue", "UnId": "PrimaryKeyValue",
                                         "InID": "PrimaryKeyValue"}}}  # fmt: skip
    assert entry_number_of(example) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0", None),  # every published /MetaInfo example
        (0, None),
        ("", None),
        (None, None),
        ("2026-01-31", datetime(2026, 1, 31, tzinfo=AMSTERDAM)),
        ("31-01-2026", datetime(2026, 1, 31, tzinfo=AMSTERDAM)),
        ("2026-01-31T17:30:00Z", datetime(2026, 1, 31, 17, 30, tzinfo=AMSTERDAM)),
        ("2026-01-31T17:30:00+01:00", datetime(2026, 1, 31, 16, 30, tzinfo=UTC)),
    ],
)
def test_token_expiry_is_read_tolerantly(raw: object, expected: datetime | None) -> None:
    assert token_expiry(raw) == (expected, True)


@pytest.mark.parametrize("raw", ["nooit", "31/01/2026", True, "2026-13-01"])
def test_an_unreadable_token_expiry_is_not_an_error(raw: object) -> None:
    assert token_expiry(raw) == (None, False)


def test_the_published_metainfo_example_is_read() -> None:
    example: dict[str, Any] = {
        "updateConnectors": [{"id": "HrCreateApplicant", "description": "Aanmaken sollicitatie"},
                             {"id": "FbSubscription", "description": "Abonnement"},
                             {"id": "KnAddress", "description": "Adres"}],
        "getConnectors": [{"id": "Profit_Fin_ChangedEntrydate",
                           "description": "Profit_Fin_ChangedEntrydate"},
                          {"id": "Profit_Functions", "description": "Profit_Functions"}],
        "info": {"envid": "A123456AC", "appName": "OpenAPI Spec Example",
                 "group": "AuthorizationGroup 101 (12345.USER)", "tokenExpiry": "0"},
    }  # fmt: skip
    meta = meta_info_of(example)
    assert meta.update_connectors == {"HrCreateApplicant", "FbSubscription", "KnAddress"}
    assert meta.get_connectors == {"Profit_Fin_ChangedEntrydate", "Profit_Functions"}
    assert (meta.environment_id, meta.app_name) == ("A123456AC", "OpenAPI Spec Example")
    assert meta.token_expiry is None and meta.warnings == ()
    odd = meta_info_of({**example, "info": {**example["info"], "tokenExpiry": "binnenkort"}})
    assert odd.token_expiry is None and "binnenkort" in odd.warnings[0]


def test_missing_connectors_are_named() -> None:
    meta = MetaInfo(
        update_connectors=frozenset({"fientries"}),
        get_connectors=frozenset({"Profit_Administrations", "Profit_Journals"}),
    )
    assert missing_connectors(meta) == [
        "Profit_Accounts",
        "Profit_Allocation_Assigments",
        "Profit_Transactions",
        "Profit_periods_per_administration",
    ]


def test_retry_policy_honours_retry_after_within_bounds() -> None:
    policy = RetryPolicy(attempts=3, max_retry_after=30)
    soon = AfasRetriableError("x", status=429, retry_after=2)
    assert 2 <= (policy.delay(1, soon) or 0) <= 2.25
    assert policy.delay(3, soon) is None  # attempts used up
    maintenance = AfasRetriableError("x", status=503, retry_after=7200)
    assert policy.delay(1, maintenance) is None  # never sleep through hours of maintenance
    plain = AfasRetriableError("x", status=502)
    assert all(0 < (policy.delay(n, plain) or 0) <= policy.max_delay for n in (1, 2))


def test_sb_entry_date_is_iso() -> None:
    assert payroll_entry_payload(sb_entry("a"))["Date"] == date(2025, 3, 31).isoformat()
