"""Client configurations over HTTP on the local host, validated against the Loket and AFAS sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from devtools.sandbox.afas import SB_ADMINISTRATION_ID
from tests.support.api import reader_headers
from tests.support.sync_world import ACCOUNTS, PROFIT_MAPPING, World, sync_world

MONTHLY = "Korenschoof maandloners"
PROFIT = {"type": "afas-profit", "environment": "O12345AA", "administration": 1, "journal": "80"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sync_world(tmp_path_factory.mktemp("clients")) as w:
        yield w


def errors(answer: Any) -> dict[str, str]:
    assert answer.status_code == 422, answer.text
    assert answer.headers["Content-Type"] == "application/problem+json"
    return {e["field"]: e["detail"] for e in answer.json()["errors"]}


def test_save_read_list_and_delete(world: World) -> None:
    created = world.put_client("c-save", MONTHLY, PROFIT, PROFIT_MAPPING, name="Korenschoof")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["target"] == {
        "type": "afas-profit",
        "environment": "12345",
        "administration": 1,
        "journal": "80",
    }
    assert body["loketAdministrationName"] == MONTHLY and body["loketClientNumber"] == 4711
    assert (
        body["periodType"] == "monthly"
        and body["includeInSync"] is True
        and body["mode"] == "automatic"
    )
    assert created.headers["ETag"]
    again = world.put_client("c-save", MONTHLY, PROFIT, PROFIT_MAPPING, name="Korenschoof BV")
    assert again.status_code == 200 and again.json()["name"] == "Korenschoof BV"
    assert world.api("GET", "/api/clients/c-save").json()["name"] == "Korenschoof BV"
    assert "c-save" in [c["clientId"] for c in world.api("GET", "/api/clients").json()["clients"]]
    assert world.api("DELETE", "/api/clients/c-save").status_code == 204
    assert world.api("GET", "/api/clients/c-save").status_code == 404
    assert world.api("DELETE", "/api/clients/c-save").status_code == 404


def test_validation_against_the_live_systems_names_each_field(world: World) -> None:
    unknown_adm = world.api(
        "PUT",
        "/api/clients/c-bad",
        json={
            "loketPayrollAdministrationId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            "target": PROFIT,
        },
    )
    assert "niet zichtbaar" in errors(unknown_adm)["loketPayrollAdministrationId"]
    wrong_adm = world.put_client("c-bad", MONTHLY, {**PROFIT, "administration": 7})
    assert "administratie 7 bestaat niet" in errors(wrong_adm)["target.administration"]
    wrong_journal = world.put_client("c-bad", MONTHLY, {**PROFIT, "journal": "99"})
    assert "dagboek 99 bestaat niet" in errors(wrong_journal)["target.journal"]
    blocked_journal = world.put_client("c-bad", MONTHLY, {**PROFIT, "journal": "81"})
    assert "geblokkeerd" in errors(blocked_journal)["target.journal"]
    no_connection = world.put_client("c-bad", MONTHLY, {**PROFIT, "environment": "54321"})
    assert "geen AFAS Profit-koppeling" in errors(no_connection)["target.environment"]
    bad_env = world.put_client("c-bad", MONTHLY, {**PROFIT, "environment": "X1"})
    assert "target.environment" in errors(bad_env)
    sb_unknown = world.put_client(
        "c-bad",
        MONTHLY,
        {
            "type": "afas-sb",
            "environment": "enyoi",
            "administrationId": "00000000-0000-0000-0000-000000000000",
        },
    )
    assert "bestaat niet in AFAS SB" in errors(sb_unknown)["target.administrationId"]
    assert world.api("GET", "/api/clients/c-bad").status_code == 404  # nothing half saved


def test_bad_input_is_422_with_the_field_named(world: World) -> None:
    admin_id = world.administration(MONTHLY)
    cases: list[tuple[dict[str, Any], str]] = [
        (
            {"loketPayrollAdministrationId": admin_id, "target": {**PROFIT, "administration": "1"}},
            "target.administration",
        ),
        ({"loketPayrollAdministrationId": admin_id, "target": PROFIT, "colour": "red"}, "colour"),
        (
            {
                "loketPayrollAdministrationId": admin_id,
                "target": PROFIT,
                "mapping": {"accounts": {"4000": "x" * 17}},
            },
            "mapping.accounts.4000",
        ),
        (
            {
                "loketPayrollAdministrationId": admin_id,
                "target": PROFIT,
                "rounding": {"account": "8999", "maxDifference": "0.005"},
            },
            "rounding.maxDifference",
        ),
        (
            {
                "loketPayrollAdministrationId": admin_id,
                "target": PROFIT,
                "mapping": {"description": "{onbekend}"},
            },
            "mapping.description",
        ),
        (
            {"loketPayrollAdministrationId": admin_id, "target": PROFIT, "includeInSync": "yes"},
            "includeInSync",
        ),
        ({"loketPayrollAdministrationId": admin_id, "target": {"type": "exact"}}, "target"),
    ]
    for body, field in cases:
        found = errors(world.api("PUT", "/api/clients/c-input", json=body))
        assert any(f == field or f.startswith(field) for f in found), (field, found)
    assert world.api("PUT", "/api/clients/bad%20id", json={}).status_code in (404, 422)
    assert world.api("GET", "/api/clients/c-input").status_code == 404


def test_readers_cannot_change_and_other_offices_see_nothing(world: World) -> None:
    assert world.put_client("c-roles", MONTHLY, PROFIT, PROFIT_MAPPING).status_code == 201
    import requests

    reader = reader_headers(world.office)
    assert (
        requests.get(world.host.url("/api/clients/c-roles"), headers=reader, timeout=10).status_code
        == 200
    )
    assert (
        requests.delete(
            world.host.url("/api/clients/c-roles"), headers=reader, timeout=10
        ).status_code
        == 403
    )
    other = reader_headers("another-office")
    assert (
        requests.get(world.host.url("/api/clients/c-roles"), headers=other, timeout=10).status_code
        == 404
    )


def test_mapping_edits_and_switching_off(world: World) -> None:
    assert world.put_client("c-map", MONTHLY, PROFIT, PROFIT_MAPPING).status_code == 201
    edited = {
        **PROFIT_MAPPING,
        "accounts": {**ACCOUNTS, "4100": "4110"},
        "fallbackAccount": "4110",
        "description": "Lonen {periode} {klant}",
        "periodRule": "end-date-month",
    }
    answer = world.put_client("c-map", MONTHLY, PROFIT, edited)
    assert answer.status_code == 200
    mapping = answer.json()["mapping"]
    assert mapping["accounts"]["4100"] == "4110" and mapping["fallbackAccount"] == "4110"
    assert (
        mapping["periodRule"] == "end-date-month"
        and mapping["description"] == "Lonen {periode} {klant}"
    )
    # Switching a client out of the nightly keeps its setup, even while AFAS is unreachable.
    world.afas.throttle("Profit_Administrations", status=503, retry_after=1, times=50)
    off = world.put_client("c-map", MONTHLY, PROFIT, edited, includeInSync=False)
    assert off.status_code == 200 and off.json()["includeInSync"] is False
    assert off.json()["mapping"] == mapping
    changed_while_down = world.put_client("c-map", MONTHLY, {**PROFIT, "journal": "82"}, edited)
    assert (
        changed_while_down.status_code == 503
        and "niets opgeslagen" in changed_while_down.json()["detail"]
    )
    world.afas.faults.clear()


def test_scenario_9_preview_refuses_a_journal_run_of_another_clients_administration(
    world: World,
) -> None:
    """Issue 15, scenario 9: the preview of a client showed a journal run of any administration
    the office's Loket consent can see (the "same administration" check never ran). Now such a
    run does not exist for the client: 404, the same answer as an unknown id, so the preview
    tells nothing about another client's payroll, not even that the run exists."""
    assert world.put_client("c-own", MONTHLY, PROFIT, PROFIT_MAPPING).status_code in (200, 201)
    own = next(r for r in world.runs_of(MONTHLY) if r.status == 4 and r.lines)
    assert (
        world.api(
            "POST", "/api/clients/c-own/preview", json={"loketJournalRunId": own.id}
        ).status_code
        == 200
    )
    others = [
        run
        for name in ("Korenschoof 4-wekers", "Van Dijk installatie")  # same employer, another
        for run in world.runs_of(name)
        if run.status == 4 and run.lines
    ]
    assert len(others) >= 2
    unknown = world.api(
        "POST",
        "/api/clients/c-own/preview",
        json={"loketJournalRunId": "00000000-0000-0000-0000-000000000000"},
    )
    for run in others:
        answer = world.api(
            "POST", "/api/clients/c-own/preview", json={"loketJournalRunId": run.id.upper()}
        )
        assert answer.status_code == 404, answer.text
        assert answer.headers["Content-Type"] == "application/problem+json"
        problem = answer.json()
        assert problem["detail"] == unknown.json()["detail"]
        assert "Loket-loonadministratie van deze client" in problem["detail"]
        assert "lines" not in problem and run.id not in answer.text


def test_preview_shows_the_entry_and_findings_and_books_nothing(world: World) -> None:
    assert world.put_client("c-prev", MONTHLY, PROFIT, PROFIT_MAPPING).status_code in (200, 201)
    ready = world.runs_of(MONTHLY)[1]
    before = len(world.afas.profit_entries())
    answer = world.api("POST", "/api/clients/c-prev/preview", json={"loketJournalRunId": ready.id})
    assert answer.status_code == 200, answer.text
    preview = answer.json()
    assert preview["targetType"] == "afas-profit" and preview["postable"] is True
    assert (preview["year"], preview["period"], preview["journal"]) == (2024, 2, "80")
    assert preview["totalDebit"] == preview["totalCredit"]
    assert preview["reference"].startswith("LB202402S2-")
    assert {f["code"] for f in preview["findings"]} <= {"allocation-dropped"}
    assert len(world.afas.profit_entries()) == before  # nothing booked
    blocked = world.put_client(
        "c-prev", MONTHLY, PROFIT, {**PROFIT_MAPPING, "accounts": {**ACCOUNTS, "4200": "4999"}}
    )
    assert blocked.status_code == 200
    failing = world.api(
        "POST", "/api/clients/c-prev/preview", json={"loketJournalRunId": ready.id}
    ).json()
    assert failing["postable"] is False
    assert any("4999 is geblokkeerd" in f["text"] and f["hint"] for f in failing["findings"])
    missing = world.api(
        "POST",
        "/api/clients/c-prev/preview",
        json={"loketJournalRunId": "00000000-0000-0000-0000-000000000000"},
    )
    assert missing.status_code == 404
    sb = world.put_client(
        "c-prev-sb",
        MONTHLY,
        {"type": "afas-sb", "environment": "enyoi", "administrationId": SB_ADMINISTRATION_ID},
        {"accounts": ACCOUNTS},
    )
    assert sb.status_code == 201, sb.text
    sb_preview = world.api(
        "POST", "/api/clients/c-prev-sb/preview", json={"loketJournalRunId": ready.id}
    ).json()
    assert sb_preview["targetType"] == "afas-sb" and sb_preview["journal"] is None
    assert any(f["code"] == "sb-no-allocation" for f in sb_preview["findings"])


def test_schema_errors_and_the_live_checks_come_back_in_one_round(world: World) -> None:
    """Issue 17 item 9: a body with a schema error (a too long AFAS account, a journal that is
    not text) still has its readable parts checked against Loket and AFAS, so one answer names
    every field (before: one round for the schema, one for the description, one for AFAS)."""
    found = errors(
        world.api(
            "PUT",
            "/api/clients/c-round",
            json={
                "loketPayrollAdministrationId": "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                "target": {**PROFIT, "administration": 7, "journal": 80},
                "mapping": {"accounts": {"4000": "x" * 17}, "description": "{onbekend}"},
            },
        )
    )
    assert "niet zichtbaar" in found["loketPayrollAdministrationId"]  # Loket
    assert "administratie 7 bestaat niet" in found["target.administration"]  # AFAS
    assert found["target.journal"] == "moet tekst zijn"  # schema; no AFAS remark on top
    assert "mapping.accounts.4000" in found  # schema
    assert "mapping.description" in found  # placeholders
    # The schema is fine, the description and AFAS are not: both in one answer.
    both = errors(
        world.put_client(
            "c-round", MONTHLY, {**PROFIT, "journal": "99"}, {"description": "{onbekend}"}
        )
    )
    assert set(both) == {"target.journal", "mapping.description"}
    assert world.api("GET", "/api/clients/c-round").status_code == 404  # nothing stored


def test_validate_only_checks_everything_and_stores_nothing(world: World) -> None:
    body = {
        "loketPayrollAdministrationId": world.administration(MONTHLY),
        "target": PROFIT,
        "mapping": PROFIT_MAPPING,
    }
    fine = world.api("PUT", "/api/clients/c-dry?validateOnly=true", json=body)
    assert fine.status_code == 204, fine.text
    wrong = world.api(
        "PUT",
        "/api/clients/c-dry?validateOnly=true",
        json={**body, "target": {**PROFIT, "journal": "99"}},
    )
    assert "dagboek 99 bestaat niet" in errors(wrong)["target.journal"]
    assert world.api("GET", "/api/clients/c-dry").status_code == 404
