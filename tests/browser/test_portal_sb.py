"""AFAS SB under an accountant in the portal (issue 16), headless Chromium against the local host:
the App Center landing page brings the browser back to Koppelingen with the outcome; the SB form
takes the accountant's address (an Admin Center: …/admin/); the client form offers the Admin
Center's customer environments and their administrations as selects. As admin and as reader, at
1280 px and phone width; screenshots in artifacts/screenshots/ (sb-…)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

from devtools.sandbox.afas import ACCOUNTANT, ATLAS_ADMINISTRATION_ID, BIERLING_ADMINISTRATION_ID
from tests.browser.a11y import assert_accessible
from tests.support.api import admin_headers
from tests.support.browser_fixtures import shoot, sign_in_as
from tests.support.loket_fixtures import connect_loket
from tests.support.portal_fixtures import KORENSCHOOF_MONTHLY, VAN_DIJK_MONTHLY, PortalWorld

pytestmark = pytest.mark.azurite

PHONE = (390, 844)
Unique = Callable[[str], str]


def landing(world: PortalWorld, page: Any, office: str, address: str) -> None:
    """The App Center opens the landing page; Easy Auth's sign-in is the principal header here."""
    page.context.set_extra_http_headers(admin_headers(office, "dev-anna-beheer"))
    page.goto(world.host.url("/api/afas-sb/landing") + "?afasBaseUrl=" + quote(address, safe=""))
    page.context.set_extra_http_headers({})


def test_accountant_connections_and_client_selects(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    world = portal_world
    office = unique("kantoor")
    server = world.afas.sb_server_url(ACCOUNTANT)
    services_env = world.env
    from shared.bootstrap import Services
    from shared.settings import Settings

    connect_loket(Services(Settings.from_env(services_env)), office)

    page = open_page()
    sign_in_as(page, office)

    # The App Center's landing page: consent for the customer atlas, back with the outcome.
    landing(world, page, office, f"{server}/atlas/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Koppelingen")
    expect(page.get_by_text("De koppeling met AFAS SB omgeving atlas is gemaakt.")).to_be_visible()
    assert "#/koppelingen" in page.url
    shoot(page, "sb-00-landing-gekoppeld-1280")

    # The SB form with the Admin Center's address.
    page.get_by_role("link", name="AFAS koppeling toevoegen").click()
    page.get_by_role("link", name="AFAS SB koppelen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("AFAS SB koppeling toevoegen")
    page.get_by_label("Adres van AFAS SB (bij een accountant)").fill(
        "https://kantoor.example.com/admin/"
    )
    page.get_by_role("button", name="Log in bij AFAS SB").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "kantoor.example.com is geen server van AFAS SB"
    )
    expect(page.get_by_label("Adres van AFAS SB (bij een accountant)")).to_have_attribute(
        "aria-invalid", "true"
    )
    assert_accessible(page)
    shoot(page, "sb-01-koppeling-formulier-admin-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "sb-02-koppeling-formulier-admin-telefoon")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Adres van AFAS SB (bij een accountant)").fill(f"{server}/admin/")
    page.get_by_role("button", name="Log in bij AFAS SB").click()
    expect(page.get_by_text("Het Admin Center van AFAS SB is gekoppeld.")).to_be_visible()
    rows = page.locator("tr", has_text="AFAS SB")
    expect(rows.filter(has_text="Admin Center")).to_contain_text("Gekoppeld")
    expect(rows.filter(has_text="atlas")).to_contain_text("127.0.0.1")
    assert_accessible(page)
    shoot(page, "sb-03-koppelingen-admin-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "sb-04-koppelingen-admin-telefoon")
    page.set_viewport_size({"width": 1280, "height": 900})

    # The client form: bierling comes from the Admin Center; its administrations by name.
    page.goto(world.portal + "#/clients/nieuw")
    expect(page.get_by_role("heading", level=1)).to_have_text("Client configuratie toevoegen")
    page.get_by_label("Loket.nl administratie").select_option(KORENSCHOOF_MONTHLY)
    page.get_by_label("AFAS omgeving").select_option("afas-sb|bierling")
    choice = page.get_by_label("AFAS SB administratie", exact=True)
    expect(choice.locator("option", has_text="Bierling Orgelbouw")).to_have_count(1)
    choice.select_option(BIERLING_ADMINISTRATION_ID)
    expect(page.get_by_label("Id van de administratie (AFAS SB)")).to_be_hidden()
    expect(page.get_by_label("Dagboek code Profit")).to_be_hidden()
    assert_accessible(page)
    shoot(page, "sb-05-client-sb-admin-center-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "sb-06-client-sb-admin-center-telefoon")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_label("Clientnummer").fill("4711")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("Client configuratie 4711 is toegevoegd")).to_be_visible()
    expect(page.locator("tr", has_text="4711")).to_contain_text(
        "Bierling Organ Builders (bierling)"
    )

    # Typed fallback: the other customer (atlas, its own consent) with a typed id.
    page.goto(world.portal + "#/clients/nieuw")
    page.get_by_label("Loket.nl administratie").select_option(VAN_DIJK_MONTHLY)
    page.get_by_label("AFAS omgeving").select_option("afas-sb|atlas")
    choice = page.get_by_label("AFAS SB administratie", exact=True)
    expect(choice.locator("option", has_text="Atlas administration")).to_have_count(1)
    choice.select_option("__typed__")
    page.get_by_label("Id van de administratie (AFAS SB)").fill(ATLAS_ADMINISTRATION_ID)
    page.get_by_label("Clientnummer").fill("5120")
    page.get_by_role("button", name="Opslaan").click()
    expect(page.get_by_text("Client configuratie 5120 is toegevoegd")).to_be_visible()

    # A reader of the office: the same screens, read-only.
    reader = open_page()
    sign_in_as(reader, office, name="Rob Lezer", admin=False)
    reader.goto(world.portal + "#/koppelingen")
    expect(reader.locator("tr", has_text="via het Admin Center")).to_contain_text(
        "Bierling Organ Builders"
    )
    expect(reader.get_by_role("link", name="AFAS koppeling toevoegen")).to_have_count(0)
    assert_accessible(reader)
    shoot(reader, "sb-07-koppelingen-lezer-1280")
    reader.goto(world.portal + "#/koppelingen/afas-sb/nieuw")
    expect(reader.get_by_text("Alleen een beheerder")).to_be_visible()
    shoot(reader, "sb-08-koppeling-formulier-lezer-1280")
    reader.goto(world.portal + "#/clients/4711")
    choice = reader.get_by_label("AFAS SB administratie", exact=True)
    expect(choice).to_be_disabled()
    expect(choice.locator("option:checked")).to_have_text(
        f"Bierling Orgelbouw ({BIERLING_ADMINISTRATION_ID})"
    )
    assert_accessible(reader)
    shoot(reader, "sb-09-client-sb-lezer-1280")
    reader.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(reader, "sb-10-client-sb-lezer-telefoon")
    reader.goto(world.portal + "#/koppelingen")
    expect(reader.locator("tr", has_text="via het Admin Center")).to_contain_text(
        "Bierling Organ Builders"
    )
    shoot(reader, "sb-11-koppelingen-lezer-telefoon")
    reader.goto(world.portal + "#/koppelingen/afas-sb/nieuw")
    expect(reader.get_by_text("Alleen een beheerder")).to_be_visible()
    shoot(reader, "sb-12-koppeling-formulier-lezer-telefoon")


def test_an_unusable_landing_address_returns_to_the_portal_saying_so(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Unique
) -> None:
    office = unique("kantoor")
    page = open_page()
    sign_in_as(page, office)
    landing(portal_world, page, office, "https://kantoor.example.com/atlas/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Koppelingen")
    expect(page.get_by_role("alert")).to_contain_text("geen bekend adres van AFAS SB")
    assert_accessible(page)
    shoot(page, "sb-13-landing-onbekend-adres-1280")
    page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
    shoot(page, "sb-14-landing-onbekend-adres-telefoon")
