"""The office workflow end to end on the local host: review mode (approve, reject), the morning
summary and other e-mails (SMTP sandbox), the audit copy and the exports."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from devtools.sandbox.afas import SB_ADMINISTRATION_ID
from devtools.sandbox.smtp import SmtpSandbox
from shared.store.connections import ConnectionKey, ConnectionKind
from tests.support.api import admin_headers, reader_headers
from tests.support.localhost import wait_until
from tests.support.sync_world import ACCOUNTS, SB_MAPPING, World, loket_totals, sync_world

MONTHLY = "Korenschoof maandloners"
FOUR_WEEKLY = "Korenschoof 4-wekers"
VAN_DIJK = "Van Dijk installatie"
RECIPIENTS = ["salaris@kantoor.example.nl", "teamlead@kantoor.example.nl"]


@pytest.fixture
def world(tmp_path: Path, smtp: SmtpSandbox) -> Iterator[World]:
    with sync_world(
        tmp_path, extra_env={**smtp.env(), "NOTIFY_SENDER": "loonbrug@kantoor.example.nl"}
    ) as w:
        answer = w.api(
            "PUT",
            "/api/notifications",
            json={
                "recipients": RECIPIENTS,
                "morningSummary": True,
                "reauthorization": True,
                "journalRunFailed": True,
            },
        )
        assert answer.status_code == 200, answer.text
        yield w


def nightly(world: World) -> dict[str, Any]:
    world.nightly()
    return world.wait_for_run(world.latest_run()["runId"], timeout=90)


def rows_of(run: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
    return {(r["clientId"], r["sequenceNumber"]): r for r in run["journalRuns"]}


def pending(world: World) -> list[dict[str, Any]]:
    answer = world.api("GET", "/api/approvals")
    assert answer.status_code == 200, answer.text
    items = answer.json()["approvals"]
    assert isinstance(items, list)
    return items


def documents(world: World, run_id: str, journal_run: str) -> dict[str, Any]:
    answer = world.api("GET", f"/api/runs/{run_id}/journal-runs/{journal_run}/documents")
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def document(world: World, run_id: str, journal_run: str, name: str) -> Any:
    answer = world.api("GET", f"/api/runs/{run_id}/journal-runs/{journal_run}/documents/{name}")
    assert answer.status_code == 200, answer.text
    return json.loads(answer.content)


def test_review_then_approve_books_exactly_once(world: World, smtp: SmtpSandbox) -> None:
    world.profit_client("4711", MONTHLY, mode="review")
    run = nightly(world)
    rows = rows_of(run)
    monthly = world.runs_of(MONTHLY)[1]
    assert rows[("4711", 2)]["status"] == "awaiting_approval"
    assert rows[("4711", 2)]["statusText"] == "Wacht op goedkeuring"
    assert world.afas.profit_entries() == []  # nothing booked
    assert world.loket_status(monthly.id) == 4  # and Loket not told
    assert any("wacht op goedkeuring" in m["text"] for m in run["messages"])
    # The run counts loonruns: one waits, none imported (not a green "Uitgevoerd (1/1)").
    assert (run["outcome"], run["statusText"]) == (
        "awaiting_approval",
        "Wacht op goedkeuring (0/1)",
    )
    assert (run["journalRunsTotal"], run["journalRunsAwaitingApproval"]) == (1, 1)
    listed = world.api("GET", "/api/runs").json()["runs"]
    assert [r["statusText"] for r in listed if r["runId"] == run["runId"]] == [
        "Wacht op goedkeuring (0/1)"
    ]

    items = pending(world)
    assert len(items) == 1
    item = items[0]
    assert item["state"] == "pending" and item["clientId"] == "4711"
    assert item["loketJournalRunId"] == monthly.id and item["runId"] == run["runId"]
    total = sum((ln.debit for ln in monthly.lines), Decimal(0))
    assert Decimal(item["totalDebit"]) == total == Decimal(item["totalCredit"])
    assert isinstance(item["findings"], list) and item["etag"]

    # The morning summary says one is waiting, with a link to the run.
    mail = smtp.wait_for(1)[0]
    assert "1 wacht op goedkeuring" in mail.subject
    assert f"/api/portal/#/runs/{run['runId']}" in mail.text
    assert (
        "- 4711" in mail.text and "0 geïmporteerd, 0 mislukt, 1 wacht op goedkeuring" in mail.text
    )
    assert "/api/portal/#/approvals" in mail.text

    # Readers see, only admins act; other offices do not see the item at all.
    path = f"/api/approvals/{item['approvalId']}/approve"
    as_reader = requests.post(
        world.host.url(path), headers=reader_headers(world.office), timeout=30
    )
    assert as_reader.status_code == 403
    assert requests.get(
        world.host.url("/api/approvals"), headers=reader_headers(world.office), timeout=30
    ).json()["approvals"]
    other = requests.post(world.host.url(path), headers=admin_headers("other-office"), timeout=30)
    assert other.status_code == 404
    stale = requests.post(
        world.host.url(path), headers={**world.admin, "If-Match": '"W/stale"'}, timeout=30
    )
    assert stale.status_code == 412

    # Two admins approve at the same moment: one books, the other is told it is taken.
    answers: list[requests.Response] = []
    barrier = threading.Barrier(2)

    def approve() -> None:
        barrier.wait()
        answers.append(world.api("POST", path))

    threads = [threading.Thread(target=approve) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 409], [a.text for a in answers]
    done = next(a for a in answers if a.status_code == 200).json()
    assert done["state"] == "approved" and done["entryNumber"] and done["markedInLoket"]
    loser = next(a for a in answers if a.status_code == 409).json()
    assert loser["type"].endswith("/approval-conflict") and loser["detail"]

    assert len(world.afas.profit_entries()) == 1
    assert world.afas.count("connectors/FiEntries", "POST") == 1
    assert world.loket_status(monthly.id) == 7
    again = world.api("POST", path)
    assert again.status_code == 409 and "al goedgekeurd" in again.json()["detail"]
    assert pending(world) == []

    # The outcome is on the original run's journal-run row, with a message.
    detail = world.api("GET", f"/api/runs/{run['runId']}").json()
    row = rows_of(detail)[("4711", 2)]
    assert row["status"] == "imported" and row["entryNumber"] == done["entryNumber"]
    assert any("geïmporteerd" in m["text"] for m in detail["messages"])
    assert (detail["outcome"], detail["statusText"]) == ("imported", "Uitgevoerd (1/1)")
    # The list follows the decision too (one count, however many admins clicked).
    listed = world.api("GET", "/api/runs").json()["runs"]
    summary = next(r for r in listed if r["runId"] == run["runId"])
    assert (summary["outcome"], summary["statusText"]) == ("imported", "Uitgevoerd (1/1)")
    assert (summary["journalRunsImported"], summary["journalRunsAwaitingApproval"]) == (1, 0)

    # The audit copy: what Loket gave, what went to AFAS, and AFAS's answer.
    listed = documents(world, run["runId"], monthly.id)
    names = [d["name"] for d in listed["documents"]]
    assert names == [
        "loket-journal-run.json",
        "loket-lines.json",
        "entry.json",
        "afas-request.json",
        "findings.json",
        "afas-response.json",
    ]
    assert all(len(d["sha256"]) == 64 and d["retainUntil"] for d in listed["documents"])
    answer = document(world, run["runId"], monthly.id, "afas-response.json")
    assert answer["outcome"] == "booked" and answer["entryNumber"] == done["entryNumber"]
    assert answer["approvedBy"]
    lines = document(world, run["runId"], monthly.id, "loket-lines.json")
    assert lines["count"] == len(monthly.lines)
    sent = document(world, run["runId"], monthly.id, "afas-request.json")
    assert sent["FiEntryPar"]["Element"]["Fields"]["JoCo"] == "80"

    # A rerun over the window books nothing again.
    started = world.api(
        "POST",
        "/api/reruns",
        json={"approvedFrom": "2024-01-01", "approvedTo": "2024-12-31", "clientId": "4711"},
    )
    rerun = world.wait_for_run(started.json()["runId"])
    assert rows_of(rerun)[("4711", 2)]["status"] == "skipped"
    assert len(world.afas.profit_entries()) == 1


def test_review_then_reject_with_and_without_marking_in_loket(
    world: World, smtp: SmtpSandbox
) -> None:
    world.profit_client("4711", MONTHLY, mode="review")
    sb_target = {
        "type": "afas-sb",
        "environment": "enyoi",
        "administrationId": SB_ADMINISTRATION_ID,
    }
    answer = world.put_client("4712", FOUR_WEEKLY, sb_target, SB_MAPPING, mode="review")
    assert answer.status_code in (200, 201), answer.text
    run = nightly(world)
    items = {i["clientId"]: i for i in pending(world)}
    assert set(items) == {"4711", "4712"}

    bad = world.api("POST", f"/api/approvals/{items['4711']['approvalId']}/reject", json={})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "reason"

    monthly = world.runs_of(MONTHLY)[1]
    marked = world.api(
        "POST",
        f"/api/approvals/{items['4711']['approvalId']}/reject",
        json={"reason": "Verkeerde kostenplaats", "markFailedInLoket": True},
    )
    assert marked.status_code == 200, marked.text
    assert marked.json()["state"] == "rejected" and marked.json()["markedInLoket"] is True
    assert world.loket_status(monthly.id) == 6
    patch = [m for rid, action, m in world.loket.patches if rid == monthly.id]
    assert patch and "Verkeerde kostenplaats" in patch[-1]

    four_weekly = world.runs_of(FOUR_WEEKLY)[0]
    quiet = world.api(
        "POST",
        f"/api/approvals/{items['4712']['approvalId']}/reject",
        json={"reason": "Nog niet compleet"},
    )
    assert quiet.status_code == 200 and quiet.json()["markedInLoket"] is False
    assert world.loket_status(four_weekly.id) == 4
    # Approve after reject: the rejection stands.
    late = world.api("POST", f"/api/approvals/{items['4711']['approvalId']}/approve")
    assert late.status_code == 409 and "afgewezen" in late.json()["detail"]

    assert pending(world) == []
    assert world.afas.profit_entries() == [] and world.afas.sb_bookings() == []
    detail = world.api("GET", f"/api/runs/{run['runId']}").json()
    rows = rows_of(detail)
    # Rejected is its own status ("Afgewezen"), not "Overgeslagen".
    assert (rows[("4711", 2)]["status"], rows[("4711", 2)]["statusText"]) == (
        "rejected",
        "Afgewezen",
    )
    assert "Afgewezen door" in rows[("4711", 2)]["note"]
    assert (detail["outcome"], detail["statusText"]) == ("rejected", "Afgewezen (0/2)")
    listed = world.api("GET", "/api/runs").json()["runs"]
    summary = next(r for r in listed if r["runId"] == run["runId"])
    assert (summary["journalRunsRejected"], summary["journalRunsAwaitingApproval"]) == (2, 0)
    assert summary["statusText"] == "Afgewezen (0/2)"

    # The next run does not prepare a rejected journal run again.
    started = world.api(
        "POST", "/api/reruns", json={"approvedFrom": "2024-01-01", "approvedTo": "2024-12-31"}
    )
    rerun = world.wait_for_run(started.json()["runId"])
    assert rows_of(rerun)[("4711", 2)]["status"] == "skipped"
    assert pending(world) == []
    assert world.afas.profit_entries() == [] and world.afas.sb_bookings() == []


def test_morning_summary_failures_reauthorisation_audit_and_exports(
    world: World, smtp: SmtpSandbox
) -> None:
    world.profit_client("4711", MONTHLY)
    blocked = {
        "accounts": {**ACCOUNTS, "4200": "4999"},
        "costCenters": "map",
        "costCenterMap": {"KP100": "100", "KP200": "200", "KP300": "300"},
        "costUnitAxis": None,
    }
    world.profit_client("5120", VAN_DIJK, blocked)
    smtp.refuse = True  # the summary's moment is missed: the mail service refuses
    run = nightly(world)
    rows = rows_of(run)
    assert rows[("4711", 2)]["status"] == "imported"
    assert rows[("5120", 1)]["status"] == "failed" and rows[("5120", 3)]["status"] == "failed"
    world.host.wait_for_log(r"notification summary for office .* not sent")
    assert smtp.received() == []

    # The next tick sends what was missed: the summary and the two failures, once each.
    smtp.refuse = False
    world.nightly()
    mails = smtp.wait_for(1)
    world.nightly()
    world.host.wait_for_log(r"nightly tick planned", count=3)
    mails = smtp.received()
    summaries = [m for m in mails if m.message["X-Loonbrug-Event"] == "summary"]
    assert len(summaries) == 1, [m.subject for m in mails]
    summary = summaries[0]
    assert sorted(summary.envelope_to) == sorted(RECIPIENTS)
    assert summary.subject.startswith("Loonbrug: nachtelijke run van ")
    assert "1 geïmporteerd, 2 mislukt, 0 wacht op goedkeuring" in summary.subject
    assert (
        "- 4711 " in summary.text
        and ": 1 geïmporteerd, 0 mislukt, 0 wacht op goedkeuring" in summary.text
    )
    assert (
        "- 5120 " in summary.text
        and ": 0 geïmporteerd, 2 mislukt, 0 wacht op goedkeuring" in summary.text
    )
    assert f"{world.host.base_url}/api/portal/#/runs/{run['runId']}" in summary.text
    assert "Uitgevoerd met fouten (1/3)" in summary.text  # loonruns: 1 imported, 2 failed
    assert "<table" in summary.html and f"#/runs/{run['runId']}" in summary.html
    assert summary.message_id.endswith("@kantoor.example.nl>")

    # The failure mails belong to their moment (the sweep resends only summaries and
    # re-authorisations): the refused ones are not sent later.
    assert [m for m in mails if m.message["X-Loonbrug-Event"] == "failed"] == []

    # Delivered again (a redelivered job, a second tick): no second mail for any event.
    services = world.services
    stored_run = services.runs.get(world.office, run["runId"])
    assert stored_run is not None
    count = len(smtp.received())
    services.notifier.nightly_finished(stored_run)
    services.notifier.nightly_finished(stored_run)
    assert len(smtp.received()) == count == 1

    # A failure in a later run is a new event and is sent at once.
    started = world.api(
        "POST",
        "/api/reruns",
        json={"approvedFrom": "2024-01-01", "approvedTo": "2024-12-31", "clientId": "5120"},
    )
    rerun = world.wait_for_run(started.json()["runId"])
    failed_now = smtp.wait_for(count + 1)
    new = [m for m in failed_now[count:] if m.message["X-Loonbrug-Event"] == "failed"]
    assert new and all("5120" in m.subject and "niet geboekt" in m.subject for m in new)
    assert f"#/runs/{rerun['runId']}" in new[0].text and "geblokkeerd" in new[0].text
    # The same failure delivered again (a redelivered job records it again): no second mail.
    failed_row = rows_of(rerun)[("5120", 3)]
    with services.loket_client(world.office) as loket:
        journal_run = loket.get_journal_run(
            failed_row["loketJournalRunId"],
            administration_id=world.administration(VAN_DIJK),
        )
    sent_so_far = len(smtp.received())
    for _ in range(2):
        services.notifier.journal_run_failed(
            world.office, rerun["runId"], "5120", journal_run, failed_row["note"]
        )
    assert len(smtp.received()) == sent_so_far

    # Loket needs a new consent: one mail, however often the tick looks.
    key = ConnectionKey(world.office, ConnectionKind.LOKET)
    connection = services.connections.get(key)
    assert connection is not None
    services.connections.update(
        connection, needs_reauthorization=True, reason="Loket heeft de toestemming ingetrokken."
    )
    before = len(smtp.received())
    world.nightly()
    reauth = wait_until(
        lambda: [m for m in smtp.received() if m.message["X-Loonbrug-Event"] == "reauth"],
        timeout=20,
        what="the re-authorisation mail",
    )
    world.nightly()
    world.host.wait_for_log(r"nightly tick planned", count=5)
    assert len([m for m in smtp.received() if m.message["X-Loonbrug-Event"] == "reauth"]) == 1
    assert len(smtp.received()) == before + 1
    assert "Loket.nl" in reauth[0].subject and "opnieuw" in reauth[0].subject
    assert "ingetrokken" in reauth[0].text and "/api/portal/#/connections" in reauth[0].text

    # The audit copy of a failed run: Loket's side, the entry that would have been sent, the
    # findings, and no AFAS answer (nothing was posted).
    failed_id = rows[("5120", 3)]["loketJournalRunId"]
    listed = documents(world, run["runId"], failed_id)
    names = [d["name"] for d in listed["documents"]]
    assert "afas-response.json" not in names
    assert {"loket-lines.json", "entry.json", "afas-request.json", "findings.json"} <= set(names)
    findings = document(world, run["runId"], failed_id, "findings.json")["findings"]
    assert any(f["code"] == "account-blocked" or "4999" in f["text"] for f in findings)

    # Exports, from the audit copy: CSV (Dutch) and the AFAS JSON, for a failed and a booked run.
    van_dijk = world.runs_of(VAN_DIJK)[2]
    csv_answer = world.api("GET", f"/api/runs/{run['runId']}/journal-runs/{failed_id}/export.csv")
    assert csv_answer.status_code == 200
    assert csv_answer.headers["Content-Type"].startswith("text/csv")
    assert csv_answer.content.startswith("\ufeff".encode())
    text = csv_answer.content.decode("utf-8-sig")
    lines = text.split("\r\n")
    assert lines[0] == "Rekening;Omschrijving;Kostenplaats;Debet;Credit"
    body = [ln.split(";") for ln in lines[1:] if ln]
    debit = sum(Decimal(r[-2].replace(",", ".")) for r in body)
    assert debit == sum((ln.debit for ln in van_dijk.lines), Decimal(0))
    assert all("," in r[-1] and "." not in r[-1] for r in body)
    assert any(r[0] == "4999" for r in body)

    booked_id = rows[("4711", 2)]["loketJournalRunId"]
    as_json = world.api("GET", f"/api/runs/{run['runId']}/journal-runs/{booked_id}/export.json")
    assert as_json.status_code == 200
    entry = json.loads(as_json.content, parse_float=Decimal)
    entry_lines = entry["FiEntryPar"]["Element"]["Objects"][0]["FiEntries"]["Element"]
    totals: dict[tuple[str, str], Decimal] = {}
    for element in entry_lines:
        f = element["Fields"]
        for side, amount in (("D", f["AmDe"]), ("C", f["AmCr"])):
            if amount:
                totals[(f["AcNr"], side)] = totals.get((f["AcNr"], side), Decimal(0)) + amount
    assert totals == loket_totals(world.runs_of(MONTHLY)[1], ACCOUNTS)
    missing = world.api("GET", f"/api/runs/{run['runId']}/journal-runs/nope/export.csv")
    assert missing.status_code == 404
    elsewhere = requests.get(
        world.host.url(f"/api/runs/{run['runId']}/journal-runs/{booked_id}/documents"),
        headers=admin_headers("other-office"),
        timeout=30,
    )
    assert elsewhere.status_code == 404


def test_notification_settings_validation(world: World) -> None:
    got = world.api("GET", "/api/notifications").json()
    assert got["recipients"] == RECIPIENTS and got["emailConfigured"] is True
    bad = world.api(
        "PUT",
        "/api/notifications",
        json={
            "recipients": ["geen-adres"],
            "morningSummary": True,
            "reauthorization": True,
            "journalRunFailed": False,
        },
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"].startswith("recipients")
    as_reader = requests.put(
        world.host.url("/api/notifications"),
        headers=reader_headers(world.office),
        json={
            "recipients": [],
            "morningSummary": False,
            "reauthorization": False,
            "journalRunFailed": False,
        },
        timeout=30,
    )
    assert as_reader.status_code == 403


def test_approve_refreshes_instead_of_booking_when_loket_changed(world: World) -> None:
    world.profit_client("4711", MONTHLY, mode="review")
    run = nightly(world)
    item = pending(world)[0]
    monthly = world.runs_of(MONTHLY)[1]
    # Loket's lines change after the preparation (another cost centre on one line).
    index = next(i for i, ln in enumerate(monthly.lines) if ln.cost_center)
    monthly.lines[index] = replace(monthly.lines[index], cost_center=("KP300", "Kantoor"))
    path = f"/api/approvals/{item['approvalId']}/approve"
    changed = world.api("POST", path)
    assert changed.status_code == 409, changed.text
    assert changed.json()["type"].endswith("/approval-changed")
    assert world.afas.profit_entries() == [] and world.loket_status(monthly.id) == 4
    refreshed = pending(world)[0]
    assert refreshed["approvalId"] == item["approvalId"] and refreshed["etag"] != item["etag"]
    # The new entry is kept next to the first one in the audit copy, nothing overwritten.
    names = [d["name"] for d in documents(world, run["runId"], monthly.id)["documents"]]
    assert "afas-request.json" in names
    assert any(n.startswith("afas-request-") for n in names)
    # Approving what is now shown books it, once.
    booked = requests.post(
        world.host.url(path), headers={**world.admin, "If-Match": refreshed["etag"]}, timeout=30
    )
    assert booked.status_code == 200, booked.text
    assert len(world.afas.profit_entries()) == 1
    dims = {ln.dimensions.get(1) for ln in world.afas.profit_entries()[0].lines}
    assert "300" in dims
