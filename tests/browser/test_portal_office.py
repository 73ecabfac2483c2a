"""The office workflow in a real browser (headless Chromium) against the local host, Azurite and
the Loket + AFAS sandboxes: a client in review mode ("Eerst goedkeuren") set in the form, the
nightly, the Goedkeuren screen with its count badge, a stale page (412) and a changed entry (409)
shown in Dutch and reloaded, approve (booked once, "Geïmporteerd" in the run detail), reject with
a reason marked in Loket, the audit documents and the CSV export downloaded in the browser, the
E-mailmeldingen settings with per-field errors, readers who see but cannot act, and phone width.
Screenshots go to artifacts/screenshots/ (30-…)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from devtools.sandbox.afas import PROFIT_TOKEN
from devtools.sandbox.loket import ScenarioRun
from shared.bootstrap import Services
from shared.settings import Settings
from tests.browser.a11y import assert_accessible
from tests.browser.test_portal_workflow import new_client
from tests.support.api import admin_headers
from tests.support.browser_fixtures import shoot, sign_in_as
from tests.support.loket_fixtures import connect_loket
from tests.support.portal_fixtures import (
    KORENSCHOOF_MONTHLY,
    PORTAL_COST_CENTRES,
    PORTAL_MAPPING,
    VAN_DIJK_MONTHLY,
    PortalWorld,
)

pytestmark = pytest.mark.azurite

Unique = Callable[[str], str]


def ready_run(world: PortalWorld, administration: str) -> ScenarioRun:
    admin = next(a for a in world.loket.scenario.administrations() if a.id == administration)
    return next(r for r in admin.runs if r.status == 4)


def move_cost_centre(run: ScenarioRun, to: tuple[str, str]) -> None:
    """Loket's lines change after the preparation: the first line with a cost centre moves."""
    index = next(i for i, line in enumerate(run.lines) if line.cost_center)
    run.lines[index] = replace(run.lines[index], cost_center=to)


def dutch(amount: Decimal) -> str:
    whole, fraction = f"{amount:.2f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + fraction


def downloaded(page: Any, click: Callable[[], None]) -> tuple[str, bytes]:
    with page.expect_download() as info:
        click()
    download = info.value
    return download.suggested_filename, Path(download.path()).read_bytes()


def test_review_approve_reject_documents_and_notifications(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    world = portal_world
    office = unique("kantoor")
    connect_loket(Services(Settings.from_env(world.env)), office)
    api = requests.Session()
    api.headers.update(admin_headers(office))
    profit = api.put(
        world.host.url("/api/connections/afas-profit/O12345AA"),
        json={"token": PROFIT_TOKEN, "active": True},
        timeout=30,
    )
    assert profit.status_code in (200, 201), profit.text
    korenschoof = ready_run(world, KORENSCHOOF_MONTHLY)
    van_dijk = ready_run(world, VAN_DIJK_MONTHLY)

    page = open_page()
    sign_in_as(page, office)

    # Back from Loket.nl with PORTAL_URL set: the callback lands on {PORTAL_URL}#/connections,
    # which opens Koppelingen with the word the page left before it went to Loket.nl.
    page.goto(world.portal + "#/koppelingen/loket")
    expect(page.get_by_role("heading", level=1)).to_have_text("Loket koppeling toevoegen")
    page.evaluate(
        """() => {
        sessionStorage.setItem("loonbrug.return", "#/koppelingen");
        sessionStorage.setItem("loonbrug.flash",
          JSON.stringify({ kind: "ok", text: "U bent terug van Loket.nl." }));
    }"""
    )
    page.goto("about:blank")
    page.goto(world.portal + "#/connections")
    expect(page.get_by_role("heading", level=1)).to_have_text("Koppelingen")
    expect(page.get_by_text("U bent terug van Loket.nl.")).to_be_visible()
    assert page.url.endswith("#/koppelingen")
    assert page.evaluate("sessionStorage.getItem('loonbrug.return')") is None
    expect(page.get_by_role("heading", name="E-mailmeldingen")).to_be_visible()

    # Goedkeuren before anything is prepared: an empty state that says what to do.
    page.get_by_role("link", name=re.compile("^Goedkeuren")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Goedkeuren")
    expect(page.get_by_text("Er wacht niets op goedkeuring.")).to_be_visible()
    expect(page.get_by_role("link", name="Client configuraties").last).to_be_visible()
    expect(page.locator("#approvals-count")).to_be_hidden()
    assert_accessible(page)
    shoot(page, "30-goedkeuren-leeg")

    # Client 4711 in the form with "Eerst goedkeuren"; 5120 through the API, also in review mode.
    page.get_by_role("link", name="Client configuraties").first.click()
    new_client(page, KORENSCHOOF_MONTHLY, journal="80")
    page.get_by_label("Eerst goedkeuren").check()
    expect(page.get_by_label("Automatisch boeken")).not_to_be_checked()
    shoot(page, "31-client-configuratie-eerst-goedkeuren")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("Client configuratie 4711 is toegevoegd.", exact=False)).to_be_visible()
    assert api.get(world.host.url("/api/clients/4711"), timeout=30).json()["mode"] == "review"
    second = api.put(
        world.host.url("/api/clients/5120"),
        json={
            "loketPayrollAdministrationId": VAN_DIJK_MONTHLY,
            "target": {
                "type": "afas-profit",
                "environment": "12345",
                "administration": 1,
                "journal": "80",
            },
            "mode": "review",
            "mapping": {
                "accounts": PORTAL_MAPPING,
                "costCenters": "map",
                "costCenterMap": PORTAL_COST_CENTRES,
                "costUnitAxis": None,
            },
        },
        timeout=30,
    )
    assert second.status_code == 201, second.text
    page.reload()
    expect(page.locator("tbody tr", has_text="4711")).to_contain_text("Eerst goedkeuren")

    # The nightly prepares both and books nothing.
    page.get_by_role("link", name="Runs overzicht").click()
    page.get_by_role("button", name="Nachtelijke run nu starten (ontwikkeling)").click()
    nightly = page.locator("tbody tr", has_text="Nachtelijk")
    # Both loonruns wait for approval: the status says so (not a green "Uitgevoerd (2/2)").
    expect(nightly.get_by_text("Wacht op goedkeuring (0/2)")).to_be_visible(timeout=60_000)
    expect(page.locator("#approvals-count")).to_contain_text("2")  # the menu's count badge
    assert world.afas.profit_entries() == []
    nightly.get_by_role("link", name="Nachtelijk").click()
    rows = page.locator("#panel-loonruns tbody tr")
    expect(rows).to_have_count(2)
    for i in range(2):
        expect(rows.nth(i)).to_contain_text("Wacht op goedkeuring")
    # Loonruns, not clients: nothing imported yet, two wait (never a green "Uitgevoerd (2/2)").
    expect(page.locator("dl.facts .status").first).to_have_text("Wacht op goedkeuring (0/2)")
    expect(
        page.get_by_text(
            "0 van de 2 loonruns geïmporteerd in AFAS Profit; 2 wachten op goedkeuring"
        )
    ).to_be_visible()
    assert_accessible(page)
    shoot(page, "32-run-detail-wacht-op-goedkeuring")
    run_url = page.url
    run_route = run_url.split("#/", 1)[1]  # runs/{runId}

    # A reader of the office sees the pending items and cannot act.
    reader = open_page()
    sign_in_as(reader, office, name="Lex Lezer", admin=False)
    reader.goto(world.portal + "#/approvals")
    expect(reader.locator("article.approval")).to_have_count(2)
    expect(reader.get_by_role("button", name=re.compile("Goedkeuren|Afwijzen"))).to_have_count(0)
    expect(reader.get_by_text("Alleen een beheerder").first).to_be_visible()
    shoot(reader, "33-goedkeuren-lezer")

    # Goedkeuren: per client, with totals, warnings and the links.
    rows.nth(0).get_by_role("link", name="Naar Goedkeuren").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Goedkeuren")
    cards = page.locator("article.approval")
    expect(cards).to_have_count(2)
    expect(page.get_by_role("heading", level=2, name=re.compile("^Client 4711"))).to_contain_text(
        "Korenschoof maandloners"
    )
    first = cards.nth(0)
    expect(first).to_contain_text("Periode 2024 - 4")
    expect(first).to_contain_text("AFAS Profit administratie 1")
    total = sum((line.debit for line in korenschoof.lines), Decimal(0))
    expect(first.locator("dd.amount").first).to_have_text(dutch(total))
    expect(first.get_by_role("link", name=re.compile("^Bekijk de boeking"))).to_be_visible()
    assert_accessible(page)
    shoot(page, "34-goedkeuren")

    # Someone else's approval attempt found Loket changed: the item was refreshed (new etag), so
    # this page's copy is stale -> 412, explained in Dutch, the list reloads.
    move_cost_centre(korenschoof, ("KP200", "Verkoop"))
    items = api.get(world.host.url("/api/approvals"), timeout=30).json()["approvals"]
    item = next(i for i in items if i["clientId"] == "4711")
    elsewhere = api.post(world.host.url(f"/api/approvals/{item['approvalId']}/approve"), timeout=60)
    assert elsewhere.status_code == 409, elsewhere.text
    # Goedkeuren asks first, with the amount and the AFAS administration; Annuleren books nothing.
    first.get_by_role("button", name=re.compile("^Goedkeuren")).click()
    dialog = page.get_by_role("dialog", name="Journaalpost goedkeuren en boeken?")
    expect(dialog).to_contain_text("AFAS Profit administratie 1")
    expect(dialog).to_contain_text(f"€ {dutch(total)}")
    expect(dialog.get_by_role("button", name="Annuleren")).to_be_focused()
    assert_accessible(page)
    shoot(page, "34b-goedkeuren-bevestigen")
    dialog.get_by_role("button", name="Annuleren").click()
    expect(dialog).to_have_count(0)
    expect(first.get_by_role("button", name=re.compile("^Goedkeuren"))).to_be_focused()
    assert world.afas.profit_entries() == []
    first.get_by_role("button", name=re.compile("^Goedkeuren")).click()
    dialog.get_by_role("button", name="Ja, boeken in AFAS").click()
    outcome = page.locator(".outcome .notice")
    expect(outcome).to_contain_text("Het item is gewijzigd sinds u het opvroeg")
    expect(outcome).to_contain_text("opnieuw geladen")
    expect(outcome).to_be_focused()
    shoot(page, "35-goedkeuren-verouderd")

    # Loket changes again before this admin approves: 409 approval-changed, reloaded again.
    move_cost_centre(korenschoof, ("KP300", "Administratie"))
    cards.nth(0).get_by_role("button", name=re.compile("^Goedkeuren")).click()
    dialog.get_by_role("button", name="Ja, boeken in AFAS").click()
    expect(outcome).to_contain_text("De journaalpost is gewijzigd sinds de voorbereiding")
    assert world.afas.profit_entries() == []

    # Now approve what is shown: booked once, in AFAS and in the run detail.
    cards.nth(0).get_by_role("button", name=re.compile("^Goedkeuren")).click()
    dialog.get_by_role("button", name="Ja, boeken in AFAS").click()
    expect(outcome).to_contain_text("is goedgekeurd en geboekt in AFAS Profit administratie 1")
    expect(cards).to_have_count(1)
    expect(page.locator("#approvals-count")).to_contain_text("1")
    booked = world.afas.profit_entries()
    assert len(booked) == 1
    assert "300" in {line.dimensions.get(1) for line in booked[0].lines}
    assert korenschoof.status == 7  # processed in Loket

    # Afwijzen 5120: a reason is required (beside the field), then marked failed in Loket.
    last = cards.nth(0)
    expect(last).to_contain_text("Periode 2024 - 5")
    last.get_by_role("button", name=re.compile("^Afwijzen")).click()
    reason = last.get_by_label("Reden")
    expect(reason).to_be_focused()
    page.keyboard.press("Escape")  # closes the form, focus back on its button
    expect(reason).to_be_hidden()
    expect(last.get_by_role("button", name=re.compile("^Afwijzen"))).to_be_focused()
    page.keyboard.press("Enter")
    expect(reason).to_be_focused()
    last.get_by_role("button", name="Afwijzen bevestigen").click()
    expect(last.locator(".field-error")).to_have_text("Geef een reden op (minimaal 3 tekens).")
    expect(reason).to_have_attribute("aria-invalid", "true")
    reason.fill("Verkeerde kostenplaats")
    last.get_by_label("Markeer in Loket als mislukt").check()
    assert_accessible(page)
    shoot(page, "36-afwijzen")
    last.get_by_role("button", name="Afwijzen bevestigen").click()
    expect(outcome).to_contain_text("is afgewezen en in Loket gemarkeerd als mislukt")
    expect(page.get_by_text("Er wacht niets op goedkeuring.")).to_be_visible()
    expect(page.locator("#approvals-count")).to_be_hidden()
    assert van_dijk.status == 6
    assert any("Verkeerde kostenplaats" in message for _, _, message in world.loket.patches)
    assert len(world.afas.profit_entries()) == 1

    # The run detail: 4711 Geïmporteerd, 5120 afgewezen.
    page.goto(run_url)
    imported = rows.filter(has_text="4711")
    expect(imported).to_contain_text("Geïmporteerd")
    expect(imported).to_contain_text(f"Journaalpost {booked[0].entry_number}")
    expect(rows.filter(has_text="5120")).to_contain_text("Afgewezen door Anna Beheer")
    expect(rows.filter(has_text="5120").locator(".status")).to_have_text("Afgewezen")
    expect(page.locator("dl.facts .status").first).to_have_text("Uitgevoerd (1/2, 1 afgewezen)")
    shoot(page, "37-run-detail-na-goedkeuren")

    # The audit copy of the rejected loonrun: never sent, and it says so.
    rows.filter(has_text="5120").get_by_role(
        "link", name=re.compile("^Documenten en export")
    ).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Loonrun 2024 - 5 van client 5120")
    facts = page.locator("dl.facts")
    expect(facts.locator(".status")).to_have_text("Afgewezen")
    expect(facts).to_contain_text("Niet naar AFAS verstuurd: afgewezen")
    expect(page.get_by_text("Wat naar AFAS is verstuurd")).to_have_count(0)
    expect(page.get_by_text("Wat naar AFAS verstuurd zou worden (niet verstuurd)")).to_be_visible()
    assert_accessible(page)
    shoot(page, "37b-loonrun-afgewezen-auditkopie")
    page.goto(run_url)

    # The audit copy and the exports of 4711, downloaded in the browser (with the dev sign-in).
    imported.get_by_role("link", name=re.compile("^Documenten en export")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Loonrun 2024 - 4 van client 4711")
    listed = api.get(
        world.host.url(f"/api/{run_route}/journal-runs/{korenschoof.id}/documents"), timeout=30
    ).json()["documents"]
    names = [d["name"] for d in listed]
    assert {"loket-lines.json", "entry.json", "afas-request.json", "afas-response.json"} <= set(
        names
    )
    versions = [n for n in names if re.fullmatch(r"afas-request-[0-9a-f]{12}\.json", n)]
    assert len(versions) == 2  # the entry changed twice; every version is kept
    documents = page.locator("table tbody tr")
    expect(documents).to_have_count(len(names))
    expect(documents.first).to_contain_text("De journaalrun zoals Loket.nl hem gaf")
    expect(documents.filter(has_text=versions[0])).to_contain_text(
        "Wat naar AFAS is verstuurd (latere versie)"
    )
    assert_accessible(page)
    shoot(page, "38-loonrun-auditkopie")
    name, data = downloaded(
        page, lambda: page.get_by_role("link", name="loket-lines.json downloaden").click()
    )
    assert name == "loonjournaal-4711-2024-04-loket-lines.json"  # client and period, no ids
    lines = json.loads(data)
    assert lines["count"] == len(korenschoof.lines)
    # A download shows it is busy and starts once, however often it is clicked meanwhile.
    csv_link = page.get_by_role("link", name=re.compile("^Journaalpost als CSV"))
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "export.csv" in r.url else None)
    name, data = downloaded(page, lambda: csv_link.dblclick())
    expect(csv_link).not_to_have_attribute("aria-busy", "true")
    assert len(asked) == 1, asked
    assert name == "loonjournaal-4711-2024-04.csv"
    assert data.startswith("\ufeff".encode())
    csv = data.decode("utf-8-sig").split("\r\n")
    assert csv[0] == "Rekening;Omschrijving;Kostenplaats;Debet;Credit"
    body = [line.split(";") for line in csv[1:] if line]
    assert sum(Decimal(r[-2].replace(",", ".")) for r in body) == total
    assert "300" in {r[2] for r in body}  # the entry that was approved and booked, not the first
    name, data = downloaded(
        page, lambda: page.get_by_role("link", name=re.compile("^AFAS-bestand")).click()
    )
    assert name == "loonjournaal-4711-2024-04-afas.json"
    fields = [
        e["Fields"]
        for e in json.loads(data)["FiEntryPar"]["Element"]["Objects"][0]["FiEntries"]["Element"]
    ]
    assert booked[0].voucher_numbers == {f["BpNr"] for f in fields if "BpNr" in f}

    # E-mailmeldingen: not configured here (no e-mail service), per-field errors, saved.
    page.get_by_role("link", name="Koppelingen").first.click()
    page.get_by_role("link", name="E-mailmeldingen instellen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("E-mailmeldingen")
    expect(page.get_by_text("kan (nog) geen e-mail versturen", exact=False)).to_be_visible()
    page.get_by_label("E-mailadres 1", exact=True).fill("salaris@kantoor.example.nl")
    page.get_by_role("button", name="Adres toevoegen").click()
    expect(page.get_by_label("E-mailadres 2", exact=True)).to_be_focused()
    page.get_by_label("E-mailadres 2", exact=True).fill("geen-adres")
    expect(page.get_by_label("Ochtendoverzicht van de nachtelijke run")).to_be_checked()
    page.get_by_label("Direct bericht als een koppeling opnieuw toestemming", exact=False).uncheck()
    page.get_by_role("button", name="Opslaan").click()
    second_field = page.locator("li.recipient", has=page.get_by_label("E-mailadres 2", exact=True))
    expect(second_field.locator(".field-error")).to_be_visible()
    expect(page.get_by_label("E-mailadres 2", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("E-mailadres 1", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)
    shoot(page, "39-e-mailmeldingen-fout")
    # The error goes as soon as the field is edited (the next save checks again).
    page.get_by_label("E-mailadres 2", exact=True).fill("Teamlead@Kantoor.example.nl")
    expect(second_field.locator(".field-error")).to_have_count(0)
    expect(page.get_by_label("E-mailadres 2", exact=True)).not_to_have_attribute(
        "aria-invalid", "true"
    )
    expect(page.get_by_role("alert")).to_have_count(0)  # no field left to see: summary gone too
    page.get_by_role("button", name="Opslaan").click()
    expect(
        page.get_by_text("De instellingen voor e-mailmeldingen zijn opgeslagen.")
    ).to_be_visible()
    expect(page.get_by_label("E-mailadres 2", exact=True)).to_have_value(
        "teamlead@kantoor.example.nl"
    )
    expect(page.get_by_text("door Anna Beheer", exact=False)).to_be_visible()
    shoot(page, "40-e-mailmeldingen")
    saved = api.get(world.host.url("/api/notifications"), timeout=30).json()
    assert saved["recipients"] == ["salaris@kantoor.example.nl", "teamlead@kantoor.example.nl"]
    assert (saved["morningSummary"], saved["journalRunFailed"], saved["reauthorization"]) == (
        True,
        True,
        False,
    )
    assert saved["emailConfigured"] is False

    # The reader sees the settings, cannot change them.
    reader.get_by_role("link", name="Koppelingen").first.click()
    reader.get_by_role("link", name="E-mailmeldingen bekijken").click()
    # Plain text for a reader, not a form whose fields cannot be used.
    expect(reader.locator("main li", has_text="salaris@kantoor.example.nl")).to_be_visible()
    expect(reader.locator("main li", has_text="Ochtendoverzicht")).to_contain_text("Aan")
    expect(reader.locator("main li", has_text="opnieuw toestemming")).to_contain_text("Uit")
    expect(reader.locator("main input, main form")).to_have_count(0)
    shoot(reader, "40b-e-mailmeldingen-lezer")
    expect(reader.get_by_role("button", name="Opslaan")).to_have_count(0)
    expect(reader.get_by_role("button", name="Adres toevoegen")).to_have_count(0)

    # Phone width: the new screens fit.
    phone = open_page(width=390, height=844)
    sign_in_as(phone, office)
    for route, ready, shot in (
        ("#/approvals", phone.get_by_text("Er wacht niets op goedkeuring."), "41-goedkeuren"),
        ("#/notifications", phone.get_by_label("E-mailadres 2", exact=True), "42-e-mailmeldingen"),
        (
            f"#/{run_route}/loonruns/{korenschoof.id}",
            phone.locator("tbody tr").nth(5),
            "43-loonrun",
        ),
    ):
        phone.goto(world.portal + route)
        expect(ready).to_be_visible()
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390, route
        shoot(phone, f"{shot}-telefoon")
