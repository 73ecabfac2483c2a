"""Aansluiting end to end on the local host (issue 20): last year of a client booked by the nightly,
then changed in the Profit sandbox the way people do (an entry deleted, an amount edited, the
same payroll journal imported again by hand, an entry moved), a run that never got booked; and a
clean current year. Each shows the right class and Dutch text in the API and the CSV, and the weekly
e-mail tells only what is new."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.sandbox.loket import (
    Scenario,
    ScenarioAdministration,
    ScenarioEmployer,
    ScenarioLine,
    make_run,
    sandbox_id,
)
from devtools.sandbox.smtp import SmtpSandbox
from shared.clock import to_amsterdam, utc_now
from shared.reconciliation.weekly import RECONCILIATION_POISON_QUEUE, OfficeJob
from tests.support.api import reader_headers
from tests.support.localhost import wait_until
from tests.support.sync_world import World, sync_world

D = Decimal
NAME = "Aansluiting Bakkerij"
CLIENT = "7001"
RENUMBERED = "7101"  # the same client after Loket renumbered it
RECIPIENTS = ["salaris@kantoor.example.nl"]
# The weekly job reconciles this year and last year: the differences are in last year, and this
# year is the clean one (the Profit sandbox has periods for 2024-2027).
CLEAN = to_amsterdam(utc_now()).year
YEAR = CLEAN - 1


def lines(period: int, *, blocked: bool = False) -> list[ScenarioLine]:
    gross = D(f"{2000 + period}.{period:02d}")
    pension = D("123.45")
    tax = D("456.78")
    out = [
        ScenarioLine("4000", "Brutolonen", gross, D(0), ("KP100", "Productie")),
        ScenarioLine("4200", "Pensioen", pension, D(0)),
        ScenarioLine("1500", "Af te dragen loonheffing", D(0), tax),
        ScenarioLine("1600", "Te betalen netto lonen", D(0), gross + pension - tax),
    ]
    if blocked:  # 4999 is blocked in AFAS: the pre-check refuses the entry
        out.append(ScenarioLine("4999", "Oude loonkosten", D("10.00"), D(0)))
        out.append(ScenarioLine("1600", "Te betalen netto lonen", D(0), D("10.00")))
    return out


def scenario() -> Scenario:
    employer = sandbox_id("employer", 7001)
    administration = sandbox_id(employer, "administration", "maand")
    runs = [
        make_run(administration, p, 4, YEAR, p, lines=lines(p, blocked=p == 4)) for p in range(1, 7)
    ]
    runs.append(make_run(administration, 7, 4, CLEAN, 1, lines=lines(1)))
    return Scenario(
        employers=[
            ScenarioEmployer(
                employer,
                "Aansluiting Bakkerij B.V.",
                7001,
                [ScenarioAdministration(administration, NAME, 7001, 1, runs, short_name="AB")],
            )
        ]
    )


@pytest.fixture
def world(tmp_path: Path, smtp: SmtpSandbox) -> Iterator[World]:
    weekday = str(to_amsterdam(utc_now()).isoweekday())
    env = {
        **smtp.env(),
        "NOTIFY_SENDER": "loonbrug@kantoor.example.nl",
        "RECONCILIATION_WEEKDAY": weekday,
    }
    with sync_world(tmp_path, loket=scenario(), extra_env=env) as w:
        answer = w.api(
            "PUT",
            "/api/notifications",
            json={
                "recipients": RECIPIENTS,
                "morningSummary": False,
                "reauthorization": False,
                "journalRunFailed": True,
            },
        )
        assert answer.status_code == 200, answer.text
        yield w


def reconciliation(world: World, year: int, **params: str) -> requests.Response:
    return world.api(
        "GET", f"/api/clients/{CLIENT}/reconciliation", params={"year": str(year), **params}
    )


def by_period(body: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {p["period"]: p for p in body["periods"]}


def voucher(body: dict[str, Any], period: int) -> str:
    (run,) = by_period(body)[period]["journalRuns"]
    reference: str = run["reference"]
    assert reference.startswith(f"LB{YEAR}")
    return reference


def weekly(world: World, count: int) -> None:
    assert world.host.run_function("weekly_reconciliation").status_code == 202
    world.host.wait_for_log(
        r"Executed 'Functions.weekly_reconciliation' \(Succeeded", count=count, timeout=60
    )
    # One message per office, reconciled by the queue worker.
    world.host.wait_for_log(
        r"Executed 'Functions.reconciliation_worker' \(Succeeded", count=count, timeout=60
    )


def mails_about_differences(smtp: SmtpSandbox) -> list[Any]:
    return [m for m in smtp.received() if "tussen Loket en AFAS" in m.subject]


def test_every_difference_is_classified_in_the_api_csv_and_weekly_mail(
    world: World, smtp: SmtpSandbox
) -> None:
    world.profit_client(CLIENT, NAME)
    world.nightly()
    run = world.wait_for_run(world.latest_run()["runId"], timeout=120)
    statuses = sorted((r["payrollPeriod"], r["status"]) for r in run["journalRuns"])
    assert (f"{YEAR}-4", "failed") in statuses
    assert sum(1 for _, s in statuses if s == "imported") == 6

    # Freshly booked: every period with a run agrees, except the one that never got booked.
    fresh = reconciliation(world, YEAR)
    assert fresh.status_code == 200, fresh.text
    body = fresh.json()
    assert [d["kind"] for d in body["differences"]] == ["never-booked"]
    assert [by_period(body)[p]["status"] for p in (1, 2, 3, 5, 6)] == ["green"] * 5
    first_mail_count = len(smtp.received())

    # What people do in Profit afterwards.
    world.afas.delete_profit_entry(voucher(body, 1))
    world.afas.edit_profit_line(voucher(body, 2), "4000", debit=D("2002.03"))  # was 2002.02
    world.afas.import_manual_copy(voucher(body, 3), new_voucher="LOON-2024-03")
    world.afas.move_profit_entry(voucher(body, 6), YEAR, 7)

    answer = reconciliation(world, YEAR)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    periods = by_period(body)
    assert body["status"] == "red"
    assert body["text"] == f"5 verschillen in 5 perioden van {YEAR}."

    (gone,) = periods[1]["differences"]
    assert (gone["kind"], gone["title"]) == ("gone", "Verdwenen uit AFAS")
    assert "staat niet meer in AFAS" in gone["text"] and voucher(body, 1) in gone["text"]
    assert gone["links"]["journalRun"].startswith(f"#/runs/{run['runId']}/loonruns/")
    assert gone["links"]["documents"].endswith("/documents")

    (changed,) = periods[2]["differences"]
    assert (changed["kind"], changed["title"]) == ("changed", "Gewijzigd in AFAS")
    # Compared per ledger account and cost centre (Profit_Transactions_Allocated).
    assert body["basis"]["perAllocation"] is True and body["basis"]["hint"] == ""
    assert "kostenplaats" in body["basis"]["text"]
    assert (
        "rekening 4000, kostenplaats 100: debet € 2.002,02 in Loket, € 2.002,03 in AFAS"
        in changed["text"]
    )
    assert changed["accounts"] == [
        {
            "account": "4000",
            "costCentre": "100",
            "loketDebit": "2002.02",
            "loketCredit": "0.00",
            "afasDebit": "2002.03",
            "afasCredit": "0.00",
        }
    ]

    (duplicate,) = periods[3]["differences"]
    assert (duplicate["kind"], duplicate["title"]) == ("duplicate", "Dubbel in AFAS")
    assert "met de hand ingelezen" in duplicate["text"]
    assert "LOON-2024-03" in duplicate["text"] and len(duplicate["entryNumbers"]) == 2
    assert Decimal(periods[3]["afas"]["debit"]) == 2 * Decimal(periods[3]["loket"]["debit"])

    (never,) = periods[4]["differences"]
    assert (never["kind"], never["title"]) == ("never-booked", "Nooit geboekt")
    assert "nooit door Loonbrug in AFAS geboekt" in never["text"]
    assert (
        "mislukt in de nachtelijke run van " in never["text"] and run["runId"] not in never["text"]
    )
    assert "4999" in never["text"]  # the run history's reason

    assert periods[5]["status"] == "green" and periods[5]["differences"] == []
    assert periods[5]["text"] == "Loket en AFAS sluiten aan, tot op de cent."

    (moved,) = periods[6]["differences"]
    assert (moved["kind"], moved["title"]) == ("other-period", "Andere periode")
    assert f"staat in AFAS in periode {YEAR}-07" in moved["text"]
    assert f"hoort hij in periode {YEAR}-06" in moved["text"]
    # Where the entry went, the totals do not agree either: red, pointing at period 6.
    assert periods[7]["status"] == "red" and periods[7]["differences"] == []
    assert periods[7]["text"].endswith("zie het verschil bij periode 6.")

    # Cheap on purpose: Loket's listing, one Profit read, one look-up for the deleted voucher.
    assert body["calls"] == {"loket": 1, "afas": 2, "total": 3}
    per_allocation = {d["key"]: d["kind"] for d in body["differences"]}

    # Readers may read, other offices see nothing.
    as_reader = requests.get(
        world.host.url(f"/api/clients/{CLIENT}/reconciliation?year={YEAR}"),
        headers=reader_headers(world.office),
        timeout=30,
    )
    assert as_reader.status_code == 200 and as_reader.json()["status"] == "red"
    bad = reconciliation(world, 1900)
    assert bad.status_code == 422 and bad.headers["Content-Type"].startswith(
        "application/problem+json"
    )
    assert "kan niet" in bad.json()["detail"]

    # The CSV says the same.
    exported = reconciliation(world, YEAR, format="csv")
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")), delimiter=";"))
    kinds = {(r["Periode"], r["Soort verschil"]) for r in rows if r["Soort verschil"]}
    assert kinds == {
        ("1", "Verdwenen uit AFAS"),
        ("2", "Gewijzigd in AFAS"),
        ("3", "Dubbel in AFAS"),
        ("4", "Nooit geboekt"),
        ("6", "Andere periode"),
    }
    assert next(r for r in rows if r["Periode"] == "5")["Status"] == "Sluit aan"

    # A clean year (this year) is green.
    clean = reconciliation(world, CLEAN).json()
    assert clean["status"] == "green" and clean["differences"] == []
    assert clean["text"] == f"Loket en AFAS sluiten in {CLEAN} aan, tot op de cent."
    assert by_period(clean)[1]["status"] == "green"
    assert clean["calls"] == {"loket": 1, "afas": 1, "total": 2}  # the closing figure
    assert {a["costCentre"] for a in by_period(clean)[1]["loket"]["accounts"]} == {"100", ""}

    # Without Profit_Transactions_Allocated: per ledger account, said with what to do; the same
    # differences (one refused call more).
    world.afas.refuse_profit_connector("Profit_Transactions_Allocated")
    fallback = reconciliation(world, YEAR).json()
    assert fallback["basis"]["perAllocation"] is False
    assert "Profit_Transactions_Allocated" in fallback["basis"]["hint"]
    assert {d["key"]: d["kind"] for d in fallback["differences"]} == per_allocation
    (changed_per_account,) = by_period(fallback)[2]["differences"]
    assert (
        "rekening 4000: debet € 2.002,02 in Loket, € 2.002,03 in AFAS"
        in changed_per_account["text"]
    )
    assert fallback["calls"] == {"loket": 1, "afas": 3, "total": 4}

    # The weekly e-mail: every difference once, in Dutch with what to do.
    weekly(world, 1)
    mail = wait_until(lambda: mails_about_differences(smtp), timeout=30, what="the weekly mail")[0]
    assert mail.subject == ("Loonbrug: 5 nieuwe verschillen tussen Loket en AFAS bij 1 client"), (
        mail.subject
    )
    for title in (
        "Verdwenen uit AFAS",
        "Gewijzigd in AFAS",
        "Dubbel in AFAS",
        "Nooit geboekt",
        "Andere periode",
    ):
        assert title in mail.text and title in mail.html
    assert "Wat te doen:" in mail.text
    assert f"#/clients/{CLIENT}/aansluiting?jaar={YEAR}" in mail.text
    assert len(smtp.received()) == first_mail_count + 1

    # Nothing new: no e-mail. A new difference: an e-mail about that one only.
    weekly(world, 2)
    assert len(mails_about_differences(smtp)) == 1
    world.afas.delete_profit_entry(voucher(body, 5))
    weekly(world, 3)
    mails = wait_until(
        lambda: m if len(m := mails_about_differences(smtp)) == 2 else None,
        timeout=30,
        what="the second weekly mail",
    )
    second = mails[1]
    assert second.subject == "Loonbrug: 1 nieuw verschil tussen Loket en AFAS bij 1 client"
    assert "periode 5, Verdwenen uit AFAS" in second.text
    assert "Gewijzigd in AFAS" not in second.text
    # A client renumbered in Loket, configured again under its new client number: the runs
    # booked under the old number are still Loonbrug's bookings, not "never booked".
    period_kinds = {p["period"]: [d["kind"] for d in p["differences"]] for p in body["periods"]}
    period_kinds[5] = ["gone"]
    assert world.api("DELETE", f"/api/clients/{CLIENT}").status_code == 204
    world.profit_client(RENUMBERED, NAME)
    renumbered = world.api(
        "GET", f"/api/clients/{RENUMBERED}/reconciliation", params={"year": str(YEAR)}
    ).json()
    assert {
        p["period"]: [d["kind"] for d in p["differences"]] for p in renumbered["periods"]
    } == period_kinds
    renumbered_text = by_period(renumbered)[4]["differences"][0]["text"]
    assert "mislukt in de nachtelijke run van" in renumbered_text  # by its date, never its id
    assert str(run["runId"]) not in renumbered_text
    assert world.api("DELETE", f"/api/clients/{RENUMBERED}").status_code == 204
    world.profit_client(CLIENT, NAME)

    weekly_done = reconciliation(world, YEAR).json()["weekly"]
    assert weekly_done["status"] == "done" and "is gedaan" in weekly_done["text"]

    # A weekly job that failed on every attempt (poison queue): the office sees it failed.
    world.services.storage.queue(RECONCILIATION_POISON_QUEUE).send_message(
        OfficeJob(world.office, (CLEAN, YEAR)).to_json()
    )
    world.host.wait_for_log(
        r"Executed 'Functions.reconciliation_worker_poison' \(Succeeded", count=1, timeout=60
    )
    weekly_failed = reconciliation(world, YEAR).json()["weekly"]
    assert weekly_failed["status"] == "failed", weekly_failed
    assert "na herhaalde pogingen mislukt" in weekly_failed["text"]


def test_sb_client_year_deleted_edited_duplicate_moved_and_never_booked(
    world: World, smtp: SmtpSandbox
) -> None:
    from devtools.sandbox.afas_sb import REPORTING_GROUP

    world.sb_client(CLIENT, NAME)
    world.nightly()
    world.wait_for_run(world.latest_run()["runId"], timeout=120)

    # A payroll app may not read booked entries: said in Dutch, with what to do.
    refused = reconciliation(world, YEAR)
    assert refused.status_code == 422, refused.text
    assert "Financiële rapportage" in refused.json()["hint"]

    world.afas.grant_sb(REPORTING_GROUP, "enyoi")
    fresh = reconciliation(world, YEAR)
    assert fresh.status_code == 200, fresh.text
    body = fresh.json()
    assert [d["kind"] for d in body["differences"]] == ["never-booked"]
    assert body["target"].startswith("AFAS SB enyoi")

    def code(period: int) -> str:
        (run,) = by_period(body)[period]["journalRuns"]
        assert run["reference"].startswith("Memoriaalboeking")
        return str(run["reference"])

    world.afas.delete_sb_booking(code(1))
    world.afas.edit_sb_line(code(2), "4000", debit=D("2002.03"))
    world.afas.import_sb_manual_copy(code(3))
    world.afas.move_sb_booking(code(6), YEAR, 7)

    body = reconciliation(world, YEAR).json()
    kinds = {p["period"]: [d["kind"] for d in p["differences"]] for p in body["periods"]}
    assert kinds[1] == ["gone"] and kinds[2] == ["changed"] and kinds[3] == ["duplicate"]
    assert kinds[4] == ["never-booked"] and kinds[5] == [] and kinds[6] == ["other-period"]
    changed = by_period(body)[2]["differences"][0]
    assert "rekening 4000: debet € 2.002,02 in Loket, € 2.002,03 in AFAS" in changed["text"]
    assert by_period(body)[5]["status"] == "green"
    # Periods, accounts, one page of entries, one look-up for the deleted entry; Loket 1.
    assert body["calls"]["loket"] == 1 and body["calls"]["afas"] == 4, body["calls"]
    clean = reconciliation(world, CLEAN).json()
    assert clean["status"] == "green", clean["differences"]
    # A clean SB client-year: periods, accounts, one page of entries; Loket 1.
    assert clean["calls"] == {"loket": 1, "afas": 3, "total": 4}, clean["calls"]
    assert body["basis"] == {
        "perAllocation": False,
        "text": "Vergeleken per grootboekrekening: AFAS SB kent geen kostenplaatsen.",
        "hint": "",
    }
    # SB has no dagboek: no text says one, in the API or in the weekly e-mail.
    for d in body["differences"]:
        assert "dagboek" not in (d["text"] + d["todo"]).lower(), d["text"]
    weekly(world, 1)
    mail = wait_until(lambda: mails_about_differences(smtp), timeout=30, what="the SB mail")[0]
    for title in ("Verdwenen uit AFAS", "Gewijzigd in AFAS", "Dubbel in AFAS", "Nooit geboekt"):
        assert title in mail.text and title in mail.html
    assert "Andere periode" in mail.text and "dagboek" not in mail.text.lower()
    assert "Memoriaalboeking" in mail.text


def test_totals_come_from_the_run_that_recorded_the_booking(world: World) -> None:
    """Review mode: the nightly prepares, an admin approves (the booking's holder is then the
    approval, not a run), and a later rerun finds them already booked. The Aansluiting takes each
    booked run's totals and drill-down from the run that recorded the booking, not the rerun."""
    world.profit_client(CLIENT, NAME, mode="review")
    world.nightly()
    first = world.wait_for_run(world.latest_run()["runId"], timeout=120)
    for item in world.api("GET", "/api/approvals").json()["approvals"]:
        approved = requests.post(
            world.host.url(f"/api/approvals/{item['approvalId']}/approve"),
            headers={**world.admin, "If-Match": item["etag"]},
            timeout=60,
        )
        assert approved.status_code < 500, approved.text
    booked = {
        row["loketJournalRunId"]
        for row in world.wait_for_run(first["runId"])["journalRuns"]
        if row["status"] == "imported"
    }
    assert len(booked) == 6, booked  # both years, all but the one AFAS refuses (account 4999)
    started = world.api(
        "POST",
        "/api/reruns",
        json={"approvedFrom": f"{YEAR}-01-01", "approvedTo": f"{YEAR}-12-31"},
    )
    assert started.status_code == 202, started.text
    rerun = world.wait_for_run(started.json()["runId"], timeout=120)
    assert any(r["status"] == "skipped" for r in rerun["journalRuns"]), rerun["journalRuns"]

    body = reconciliation(world, YEAR).json()
    assert [d["kind"] for d in body["differences"]] == ["never-booked"], body["differences"]
    runs = [r for p in body["periods"] for r in p["journalRuns"] if r["booked"]]
    assert len(runs) == 5 and {r["loketJournalRunId"] for r in runs} <= booked
    assert {r["runId"] for r in runs} == {first["runId"]}, runs
    # Every booked run's totals from that run's audit copy: Loket is asked only for the listing.
    assert body["calls"]["loket"] == 1, body["calls"]
