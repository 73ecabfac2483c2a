"""AFAS connection routes and clients on real Azurite and the AFAS sandbox over HTTP."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest

from devtools.sandbox.afas import (
    PROFIT_TOKEN,
    PROFIT_TOKEN_WITHOUT_FIENTRIES,
    PROFIT_TOKEN_WITHOUT_TRANSACTIONS,
    REPORTING_GROUP,
    SB_ADMINISTRATION_ID,
    AfasSandbox,
    token_data,
)
from shared.afas.errors import AfasValidationError, SbPartiallySucceeded
from shared.afas.sb import SbEndpointNotGranted
from shared.api.handlers import afas_connections as afas
from shared.bootstrap import Services
from shared.oauth.tokens import ConsentRequired
from shared.store.connections import ConnectionKey, ConnectionKind, ConnectionState
from tests.support.afas_fixtures import call, connect_sb, profit_entry, sb_consent, sb_entry
from tests.support.api import admin_headers, reader_headers

DATA = token_data("full")


def new_tracking() -> str:
    """A Tracking-Identifier: the header is a uuid (openapi-6-0-0.json)."""
    return str(uuid.uuid4())


PASTED = f"<token>\n  <version>1</version>\n  <data>{DATA[:40]}\n{DATA[40:]}</data>\n</token>\n"


def put_profit(
    services: Services, office: str, body: dict[str, object], environment: str = "12345"
) -> tuple[int, dict[str, object]]:
    response = call(
        services,
        afas.PROFIT_CONNECT,
        headers=admin_headers(office),
        route={"environment": environment},
        body=json.dumps(body).encode(),
    )
    return response.status, response.json()


def raw_row(services: Services, key: ConnectionKey) -> str:
    entity = services.storage.table("Connections").get_entity(key.office_id, key.row_key)
    return json.dumps({k: str(v) for k, v in entity.items()})


def test_a_profit_token_is_checked_then_stored_encrypted(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    status, body = put_profit(afas_services, office, {"token": PASTED, "active": True}, "O12345AA")
    assert status == 201, body
    assert body["environment"] == "12345" and body["environmentName"] == "O12345AA"
    assert body["state"] == "connected" and body["active"] is True
    assert afas_sandbox.count("metainfo") == 1  # checked with one cheap read
    key = ConnectionKey(office, ConnectionKind.AFAS_PROFIT, "12345")
    raw = raw_row(afas_services, key)
    assert DATA not in raw and DATA[:40] not in raw and '"enc_afas_token": "v1.' in raw
    secrets = afas_services.connections.read_secrets(key)
    assert secrets is not None and secrets.afas_token is not None
    assert secrets.afas_token.reveal() == PROFIT_TOKEN  # whitespace and line breaks removed
    # The stored connection books through the Services factory.
    with afas_services.profit_client(office, "12345") as client:
        number = client.post_entry(profit_entry(unique("LB-")))
    assert afas_sandbox.profit_entries()[-1].entry_number == number
    # Replacing the token answers 200.
    status, _ = put_profit(afas_services, office, {"token": DATA})
    assert status == 200


@pytest.mark.parametrize(
    ("token", "environment", "slug", "hint_part", "field"),
    [
        ("A" * 64, "12345", "afas-token-refused", "gebruikerstoken", "token"),
        (PROFIT_TOKEN, "54321", "afas-environment-not-found", "5 cijfers", "environment"),
        (PROFIT_TOKEN_WITHOUT_FIENTRIES, "12345", "afas-connector-missing", "FiEntries", "token"),
        (PROFIT_TOKEN_WITHOUT_TRANSACTIONS, "12345", "afas-connector-missing", "Profit_Transactions", "token"),
    ],
)  # fmt: skip
def test_a_token_afas_refuses_is_422_with_a_hint_and_not_stored(
    afas_services: Services,
    unique: Callable[[str], str],
    token: str,
    environment: str,
    slug: str,
    hint_part: str,
    field: str,
) -> None:
    office = unique("office")
    status, body = put_profit(afas_services, office, {"token": token}, environment)
    assert status == 422, body
    assert body["type"] == f"https://loonbrug.nl/problems/{slug}"
    assert hint_part in str(body["hint"]) or hint_part in str(body["detail"])
    assert body["errors"] == [{"field": field, "detail": "is door AFAS geweigerd"}]
    assert token not in json.dumps(body)
    assert afas_services.connections.for_office(office) == []


def test_the_missing_connector_is_named_in_the_detail(
    afas_services: Services, unique: Callable[[str], str]
) -> None:
    status, body = put_profit(
        afas_services, unique("office"), {"token": PROFIT_TOKEN_WITHOUT_TRANSACTIONS}
    )
    assert status == 422 and "Profit_Transactions" in str(body["detail"])
    assert "FiEntries" not in str(body["detail"])


@pytest.mark.parametrize(
    ("body", "environment", "field"),
    [
        ({"token": "geen token"}, "12345", "token"),
        ({"token": PROFIT_TOKEN}, "1234", "environment"),
        ({"token": PROFIT_TOKEN, "environmentName": "O54321AA"}, "12345", "environment"),
        ({"token": PROFIT_TOKEN, "colour": "red"}, "12345", "colour"),
        ({"token": 12345}, "12345", "token"),
        ({"active": True}, "12345", "token"),  # no token and no connection yet
    ],
)
def test_bad_input_is_422_naming_the_field(
    afas_services: Services,
    afas_sandbox: AfasSandbox,
    unique: Callable[[str], str],
    body: dict[str, object],
    environment: str,
    field: str,
) -> None:
    status, answer = put_profit(afas_services, unique("office"), body, environment)
    assert status == 422, answer
    assert field in [e["field"] for e in answer["errors"]]  # type: ignore[attr-defined]
    assert afas_sandbox.count("metainfo") == 0


def test_inactive_keeps_the_connection_and_reactivation_rechecks_the_token(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    assert put_profit(afas_services, office, {"token": PROFIT_TOKEN})[0] == 201
    status, body = put_profit(afas_services, office, {"active": False})
    assert status == 200 and body["state"] == "inactive" and body["active"] is False
    key = ConnectionKey(office, ConnectionKind.AFAS_PROFIT, "12345")
    stored = afas_services.connections.read_secrets(key)
    assert stored is not None and stored.afas_token is not None  # token kept
    afas_sandbox.profit().revoke(PROFIT_TOKEN)
    status, body = put_profit(afas_services, office, {"active": True})
    assert status == 422 and str(body["type"]).endswith("afas-token-refused")
    connection = afas_services.connections.get(key)
    assert connection is not None and connection.state is ConnectionState.INACTIVE


def test_afas_down_is_503_and_nothing_stored(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    afas_sandbox.maintenance = 7200
    office = unique("office")
    response = call(
        afas_services,
        afas.PROFIT_CONNECT,
        headers=admin_headers(office),
        route={"environment": "12345"},
        body=json.dumps({"token": PROFIT_TOKEN}).encode(),
    )
    assert response.status == 503 and response.headers["Retry-After"] == "7200"
    assert "niet opgeslagen" in response.json()["detail"]
    assert afas_services.connections.for_office(office) == []


def test_only_admins_may_change_afas_connections(
    afas_services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    for operation, route in ((afas.PROFIT_CONNECT, "12345"), (afas.SB_CONNECT, "enyoi")):
        response = call(
            afas_services,
            operation,
            headers=reader_headers(office),
            route={"environment": route},
            body=json.dumps({"token": PROFIT_TOKEN}).encode(),
        )
        assert response.status == 403
    assert call(afas_services, afas.PROFIT_CONNECT, route={"environment": "1"}).status == 401


def test_no_token_value_reaches_the_logs(
    afas_services: Services,
    afas_sandbox: AfasSandbox,
    unique: Callable[[str], str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    office = unique("office")
    put_profit(afas_services, office, {"token": PASTED})
    put_profit(afas_services, office, {"token": "B" * 64})
    put_profit(afas_services, office, {"token": PROFIT_TOKEN_WITHOUT_FIENTRIES})
    connect_sb(afas_services, office)
    with afas_services.sb_client(office, "enyoi") as sb:
        sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), new_tracking())
    text = caplog.text
    assert "afas-profit connection of office" in text  # the log was captured at all
    secrets = [
        DATA,
        "B" * 64,
        token_data("no-fientries"),
        *afas_sandbox._sb_access,
        *afas_sandbox._sb_refresh,
    ]
    assert not [s for s in secrets if s in text]


# -- SB ----------------------------------------------------------------------------------------


def test_sb_consent_stores_tokens_encrypted_and_books_once_per_tracking_identifier(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_sb(afas_services, office)
    key = ConnectionKey(office, ConnectionKind.AFAS_SB, "enyoi")
    raw = raw_row(afas_services, key)
    issued = [*afas_sandbox.issued_sb_tokens()]
    assert issued and not [token for token in issued if token in raw]
    with afas_services.sb_client(office, "enyoi") as sb:
        assert [a.id for a in sb.list_administrations()] == [SB_ADMINISTRATION_ID]
        numbers = {a.number for a in sb.list_accounts(SB_ADMINISTRATION_ID)}
        assert {"4000", "1710", "1600"} <= numbers and "4999" not in numbers
        with pytest.raises(SbEndpointNotGranted):  # a payroll app lacks the reporting group
            list(sb.list_periods(SB_ADMINISTRATION_ID))
        afas_sandbox.grant_sb(REPORTING_GROUP, "enyoi")
        periods = list(sb.list_periods(SB_ADMINISTRATION_ID))
        found = {(p.year, p.number) for p in periods}  # PeriodNumber 1.0 read as 1
        assert len(periods) == len(found) == 60 and (2023, 1) in found
        tracking = new_tracking()
        first = sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), tracking)
        second = sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), tracking)
    assert first == second and first.instance_ids
    bookings = [b for b in afas_sandbox.sb_bookings() if b.tracking_identifier == tracking]
    assert len(bookings) == 1 and afas_sandbox.sb_repeats == 1
    headers = afas_sandbox.last_headers["POST /enyoi/api/payrolljournalentry"]
    assert headers["accept-version"] == "1" and headers["tracking-identifier"] == tracking


@pytest.mark.parametrize("fault", ["book_then_fail", "book_then_drop"])
def test_sb_book_then_fail_is_retried_with_the_same_tracking_identifier(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str], fault: str
) -> None:
    office = unique("office")
    connect_sb(afas_services, office)
    getattr(afas_sandbox, fault)("api/payrolljournalentry")
    tracking = new_tracking()
    with afas_services.sb_client(office, "enyoi") as sb:
        booking = sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), tracking)
    assert len([b for b in afas_sandbox.sb_bookings() if b.tracking_identifier == tracking]) == 1
    assert afas_sandbox.count("payrolljournalentry", "POST") == 2
    assert booking.instance_ids == (afas_sandbox.sb_bookings()[-1].instance_id,)


def test_sb_refreshes_before_the_30_minute_expiry_without_rotation(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_sb(afas_services, office)
    key = ConnectionKey(office, ConnectionKind.AFAS_SB, "enyoi")
    before = afas_services.connections.read_secrets(key)
    assert before is not None and before.connection.access_expires_at is not None
    nearly_expired = before.connection.access_expires_at - timedelta(minutes=1)
    later = Services(afas_services.settings, clock=lambda: nearly_expired)
    with later.sb_client(office, "enyoi") as sb:
        list(sb.list_administrations())
    assert afas_sandbox.sb_grants["refresh_token"] == 1
    after = afas_services.connections.read_secrets(key)
    assert after is not None and after.access_token != before.access_token
    assert after.refresh_token == before.refresh_token  # SB does not rotate (sandbox decision)


def test_sb_401_refreshes_once_and_revoked_consent_needs_reauthorization(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    connect_sb(afas_services, office)
    afas_sandbox.expire_sb_access_tokens()
    with afas_services.sb_client(office, "enyoi") as sb:
        assert list(sb.list_administrations())
        assert afas_sandbox.sb_grants["refresh_token"] == 1
        afas_sandbox.expire_sb_access_tokens()
        afas_sandbox.revoke_sb_refresh_tokens()
        with pytest.raises(ConsentRequired):
            list(sb.list_administrations())
    connection = afas_services.connections.get(
        ConnectionKey(office, ConnectionKind.AFAS_SB, "enyoi")
    )
    assert connection is not None and connection.state is ConnectionState.REAUTHORIZE


def test_sb_refusals_are_typed_with_trace_id_and_hint(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    from decimal import Decimal

    from shared.journal.entries import SbLine

    office = unique("office")
    connect_sb(afas_services, office)
    lines = (
        SbLine("9999", Decimal("10"), Decimal("0")),
        SbLine("1600", Decimal("0"), Decimal("10")),
    )
    with afas_services.sb_client(office, "enyoi") as sb:
        with pytest.raises(AfasValidationError) as caught:
            sb.post_entry(sb_entry(SB_ADMINISTRATION_ID, lines=lines), new_tracking())
        assert caught.value.status == 400 and caught.value.code == "account-unknown"
        assert caught.value.trace_id and caught.value.trace_id in caught.value.detail
        afas_sandbox.sb_partially_succeed = True
        with pytest.raises(SbPartiallySucceeded):
            sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), new_tracking())
    assert afas_sandbox.count("payrolljournalentry", "POST") == 2  # 400 is not retried


def test_sb_throttling_is_retried_within_bounds(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    import time

    office = unique("office")
    connect_sb(afas_services, office)
    afas_sandbox.throttle("api/payrolljournalentry", status=429, retry_after=1)
    afas_sandbox.throttle("api/payrolljournalentry", status=503, retry_after=1)
    started = time.monotonic()
    with afas_services.sb_client(office, "enyoi") as sb:
        sb.post_entry(sb_entry(SB_ADMINISTRATION_ID), new_tracking())
    assert 2.0 <= time.monotonic() - started < 6
    assert len(afas_sandbox.sb_bookings()) == 1


def test_sb_callback_failures_store_nothing_and_return_to_the_portal_saying_so(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Unknown or used state: 400 in Dutch. A refused consent returns to the portal's
    Koppelingen screen with afas-sb=geweigerd (issue 17 item 7: never "all is well")."""
    office = unique("office")
    unknown = call(afas_services, afas.SB_CALLBACK, query={"state": "forged", "code": "x"})
    assert unknown.status == 400 and "niet door Loonbrug gestart" in unknown.json()["detail"]
    done, params = sb_consent(afas_services, office)
    assert done.status == 302
    replay = call(afas_services, afas.SB_CALLBACK, query=params)
    assert replay.status == 400 and "al gebruikt" in replay.json()["detail"]
    other = unique("office")
    afas_sandbox.sb_deny_consent = True
    denied, _ = sb_consent(afas_services, other)
    assert denied.status == 302
    assert denied.headers["Location"] == (
        "http://127.0.0.1:7071/#/connections?afas-sb=geweigerd&omgeving=enyoi"
    )
    assert afas_services.connections.for_office(other) == []
    bad_env = call(
        afas_services, afas.SB_CONNECT, headers=admin_headers(office), route={"environment": "a/b"}
    )
    assert bad_env.status == 422


def test_toggling_by_number_keeps_the_environment_name_and_type(
    afas_services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    body: dict[str, object] = {"token": PROFIT_TOKEN, "environmentName": "T12345AB"}
    assert put_profit(afas_services, office, body)[0] == 201
    assert put_profit(afas_services, office, {"active": False})[1]["state"] == "inactive"
    status, answer = put_profit(afas_services, office, {"active": True})
    assert status == 200 and answer["state"] == "connected"
    assert answer["environmentName"] == "T12345AB"
    connection = afas_services.connections.get(
        ConnectionKey(office, ConnectionKind.AFAS_PROFIT, "12345")
    )
    assert connection is not None and connection.details["environmentType"] == "test"
