"""Every screen of the portal, as an admin and as a reader, at 1280 px and at phone width (issue 17
items 2, 3, 5, 10), in headless Chromium against the local host, Azurite and the sandboxes:

* a screenshot of each into artifacts/screenshots/ (50-… admin, 60-… reader, -telefoon);
* at 1280 px no element is wider than its container, at 390 px nothing scrolls sideways;
* the manual's terms: no "Dashboard" crumb, the "Configuratie" menu group, "Client configuraties";
* "Gekoppeld door" is a person's name (the principal's display name kept at consent), and a
  connection made before names were kept says so instead of showing an id;
* read-only fields look read-only (dashed border, grey background, not-allowed cursor), for a
  reader on the whole form and for the admin's fields that cannot change."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from devtools.sandbox.afas import PROFIT_TOKEN
from shared.bootstrap import Services
from shared.settings import Settings
from tests.browser.test_portal_run_status import OVERFLOW_JS
from tests.support.api import admin_headers
from tests.support.browser_fixtures import shoot, sign_in_as
from tests.support.localhost import wait_until
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
NOT_KEPT = "Een beheerder (naam niet bewaard)"

# How a field looks: the style a read-only field must have and an editable one must not.
LOOK_JS = """
(el) => {
  const s = getComputedStyle(el);
  return { border: s.borderTopStyle, background: s.backgroundColor, cursor: s.cursor,
           readOnly: el.readOnly === true, disabled: el.disabled === true };
}
"""


def client_body(administration: str, mode: str) -> dict[str, Any]:
    return {
        "loketPayrollAdministrationId": administration,
        "target": {
            "type": "afas-profit",
            "environment": "12345",
            "administration": 1,
            "journal": "80",
        },
        "mode": mode,
        "mapping": {
            "accounts": PORTAL_MAPPING,
            "costCenters": "map",
            "costCenterMap": PORTAL_COST_CENTRES,
            "costUnitAxis": None,
        },
    }


def office_with_a_night(world: PortalWorld, office: str, *, night: bool = True) -> tuple[str, str]:
    """Loket connected as before names were kept, AFAS Profit through the API (the principal's
    name "Test Gebruiker"), two clients (4711 books, 5120 waits for approval) and one nightly
    (the module's first: the sandbox's ready Loket runs are processed after it). Answers the
    run id and the Loket run of 4711."""
    services = Services(Settings.from_env(world.env))
    connect_loket(services, office)  # no display name: as stored before this change
    api = requests.Session()
    api.headers.update(admin_headers(office))
    profit = api.put(
        world.host.url("/api/connections/afas-profit/O12345AA"),
        json={"token": PROFIT_TOKEN, "active": True},
        timeout=30,
    )
    assert profit.status_code in (200, 201), profit.text
    for client, administration, mode in (
        ("4711", KORENSCHOOF_MONTHLY, "automatic"),
        ("5120", VAN_DIJK_MONTHLY, "review"),
    ):
        saved = api.put(
            world.host.url(f"/api/clients/{client}"),
            json=client_body(administration, mode),
            timeout=30,
        )
        assert saved.status_code == 201, saved.text
    if not night:
        return "", ""
    started = requests.post(
        world.host.url("/admin/functions/nightly_sync"), json={"input": ""}, timeout=30
    )
    assert started.status_code == 202

    def finished() -> dict[str, Any] | None:
        runs = api.get(world.host.url("/api/runs"), timeout=30).json()["runs"]
        return runs[0] if runs and runs[0]["status"] != "running" else None

    run = wait_until(finished, timeout=90, what="the nightly run finishes")
    detail = api.get(world.host.url(f"/api/runs/{run['runId']}"), timeout=30).json()
    korenschoof = next(j for j in detail["journalRuns"] if j["clientId"] == "4711")
    return run["runId"], korenschoof["loketJournalRunId"]


def screens(run_id: str, loket_run: str) -> list[tuple[str, str, str]]:
    """(name, address, the h1 it shows) of every screen."""
    return [
        ("runs-overzicht", "#/runs", "Runs overzicht"),
        ("run", f"#/runs/{run_id}", "Nachtelijke run"),
        ("loonrun", f"#/runs/{run_id}/loonruns/{loket_run}", "Loonrun"),
        ("rerun-uitvoeren", "#/rerun", "Rerun uitvoeren"),
        ("goedkeuren", "#/approvals", "Goedkeuren"),
        ("koppelingen", "#/koppelingen", "Koppelingen"),
        ("loket-koppeling", "#/koppelingen/loket", "Loket koppeling"),
        ("afas-koppeling-kiezen", "#/koppelingen/afas", "AFAS koppeling toevoegen"),
        ("afas-profit-bewerken", "#/koppelingen/afas-profit/O12345AA", "AFAS Profit koppeling"),
        ("afas-sb-toevoegen", "#/koppelingen/afas-sb/nieuw", "AFAS SB koppeling"),
        ("e-mailmeldingen", "#/notifications", "E-mailmeldingen"),
        ("client-configuraties", "#/clients", "Client configuraties"),
        ("client-configuratie-toevoegen", "#/clients/nieuw", "Client configuratie toevoegen"),
        ("client-configuratie", "#/clients/4711", "Client configuratie 4711"),
        ("voorbeeld-journaalpost", f"#/voorbeeld?client=4711&run={loket_run}", "Voorbeeld"),
        ("pagina-niet-gevonden", "#/bestaat-niet", "Pagina niet gevonden"),
    ]


def settle(page: Any) -> None:
    """Wait until the screen has drawn what it loads (no "bezig" spinner or loading text)."""
    page.wait_for_function(
        "() => !document.querySelector('main .loading, main [aria-busy=\"true\"]')"
        " && document.querySelector('main h1')"
        # more than the crumbs and the title: the screen's own content is there
        " && document.querySelector('main > div').children.length > 2"
    )


def visit(page: Any, world: PortalWorld, address: str, title: str) -> None:
    page.goto(world.portal + address)
    expect(page.locator("main h1")).to_contain_text(title)
    settle(page)


def test_every_screen_as_admin_and_reader_fits_and_speaks_the_manual(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    world = portal_world
    office = unique("kantoor")
    run_id, loket_run = office_with_a_night(world, office)
    all_screens = screens(run_id, loket_run)
    main_screens = {"runs-overzicht", "run", "loonrun", "koppelingen", "client-configuraties"}
    main_screens |= {"client-configuratie", "goedkeuren", "rerun-uitvoeren"}

    for role, number, admin in (("beheerder", 50, True), ("lezer", 70, False)):
        name = "Anna Beheer" if admin else "Lars Lezer"
        page = open_page()
        sign_in_as(page, office, name=name, admin=admin)
        phone = open_page(width=390, height=844)
        sign_in_as(phone, office, name=name, admin=admin)
        for index, (screen, address, title) in enumerate(all_screens):
            if not admin and screen == "client-configuratie-toevoegen":
                title = "Client configuratie toevoegen"  # a reader is told only admins can
            visit(page, world, address, title)
            # The manual's terms: no Dashboard crumb; the menu's Configuratie group.
            expect(page.locator("body")).not_to_contain_text("Dashboard")
            assert page.evaluate(OVERFLOW_JS) == [], (role, screen)
            shoot(page, f"{number + index:02d}-{screen}-{role}-1280")
            # Phone width: no screen scrolls sideways (tables stack into cards).
            visit(phone, world, address, title)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390, screen
            if screen in main_screens or not admin:
                shoot(phone, f"{number + index:02d}-{screen}-{role}-telefoon")
        # The office id (a technical id) is no header text; a tooltip on the name at most.
        expect(page.locator("#user")).not_to_contain_text(office)
        expect(page.locator("#user")).to_contain_text(name)
        group = page.get_by_role("list", name="Configuratie")
        expect(group.get_by_role("link")).to_have_text(
            ["Koppelingen", "Client configuraties", "Voorbeeld journaalpost"]
        )


def test_gekoppeld_door_is_a_name_and_old_connections_say_so(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    """Issue 17 item 12: "Gekoppeld door" shows who consented by name, never an id."""
    world = portal_world
    office = unique("kantoor")
    services = Services(Settings.from_env(world.env))
    connect_loket(services, office, user_id="5f1c-oid-of-anna")  # before names were kept
    api = requests.Session()
    api.headers.update(admin_headers(office, user_id="9a7e-oid-of-test"))
    assert (
        api.put(
            world.host.url("/api/connections/afas-profit/O12345AA"),
            json={"token": PROFIT_TOKEN, "active": True},
            timeout=30,
        ).status_code
        == 201
    )
    page = open_page()
    sign_in_as(page, office, name="Anna Beheer")
    page.goto(world.portal + "#/koppelingen")
    loket = page.locator("section", has=page.get_by_role("heading", name="Loket.nl"))
    expect(loket.locator("dd").nth(3)).to_have_text(NOT_KEPT)
    afas = page.locator("tr", has_text="AFAS Profit")
    expect(afas.locator("td[data-label='Gekoppeld door']")).to_have_text("Test Gebruiker")
    expect(page.locator("main")).not_to_contain_text("oid-of")

    # A new consent in the portal keeps the name of who gave it.
    loket.get_by_role("link", name="Opnieuw koppelen").click()
    page.get_by_role("button", name="Log in bij Loket.nl").click()
    expect(page.get_by_text("U bent terug van Loket.nl")).to_be_visible()
    loket = page.locator("section", has=page.get_by_role("heading", name="Loket.nl"))
    expect(loket.locator("dd").nth(3)).to_have_text("Anna Beheer")
    shoot(page, "49-koppelingen-gekoppeld-door")
    reader = open_page()
    sign_in_as(reader, office, name="Lars Lezer", admin=False)
    reader.goto(world.portal + "#/koppelingen")
    expect(reader.locator("dd", has_text="Anna Beheer")).to_be_visible()


def test_read_only_fields_look_read_only(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    """Issue 17 item 14: a field that cannot change looks it (dashed border, grey background,
    no-entry cursor): the reader's whole form, and the admin's Clientnummer of a saved client;
    an editable field keeps its white, solid look."""
    world = portal_world
    office = unique("kantoor")
    office_with_a_night(world, office, night=False)

    admin = open_page()
    sign_in_as(admin, office)
    visit(admin, world, "#/clients/4711", "Client configuratie 4711")
    number = admin.get_by_label("Clientnummer")
    fixed = number.evaluate(LOOK_JS)
    assert fixed["readOnly"] and fixed["border"] == "dashed" and fixed["cursor"] == "not-allowed"
    editable = admin.get_by_label("Naam (optioneel)").evaluate(LOOK_JS)
    assert not editable["readOnly"] and not editable["disabled"]
    assert editable["border"] == "solid" and editable["cursor"] != "not-allowed"
    assert fixed["background"] != editable["background"]
    shoot(admin, "48-client-configuratie-alleen-lezen-velden-beheerder")

    reader = open_page()
    sign_in_as(reader, office, name="Lars Lezer", admin=False)
    visit(reader, world, "#/clients/4711", "Client configuratie 4711")
    fields = reader.locator("main form input:not([type=radio]), main form select, main textarea")
    assert fields.count() > 5
    for i in range(fields.count()):
        look = fields.nth(i).evaluate(LOOK_JS)
        assert look["readOnly"] or look["disabled"], i
        assert look["border"] == "dashed" and look["cursor"] == "not-allowed", (i, look)
        assert look["background"] == fixed["background"], (i, look)
    expect(reader.get_by_role("button", name="Opslaan")).to_have_count(0)
    assert re.search("alleen een beheerder", reader.locator("main").inner_text())
