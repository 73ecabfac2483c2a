"""The Runs page with 1,000 runs stored for the office: "1 tot 10 van 1000 resultaten", page
numbers, the search box, page weight and time to first render (written to
artifacts/portal-metrics.json for the closing note)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from devtools.azurite import ROOT
from shared.bootstrap import Services
from shared.runs.model import JobOutcome, RunType
from shared.settings import Settings
from shared.store.runs import NewRun
from tests.support.api import admin_headers
from tests.support.browser_fixtures import shoot, sign_in_as
from tests.support.portal_fixtures import PortalWorld

pytestmark = pytest.mark.azurite

RUNS = 1000
DETAILED = 20  # the newest runs get two finished jobs each ("Uitgevoerd (2/2)")
METRICS = ROOT / "artifacts" / "portal-metrics.json"

WEIGHT_JS = """
() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const files = performance.getEntriesByType('resource').filter((e) => /\\.(js|css)(\\?|$)/.test(e.name));
  const api = performance.getEntriesByType('resource').filter((e) => e.name.includes('/api/') && !e.name.includes('/api/portal/'));
  const sum = (list, key) => list.reduce((total, e) => total + e[key], 0);
  const paint = performance.getEntriesByName('first-contentful-paint')[0];
  return {
    files: files.length + 1,
    transferred: nav.transferSize + sum(files, 'transferSize'),
    encoded: nav.encodedBodySize + sum(files, 'encodedBodySize'),
    decoded: nav.decodedBodySize + sum(files, 'decodedBodySize'),
    apiCalls: api.length,
    apiEncoded: sum(api, 'encodedBodySize'),
    firstContentfulPaint: paint ? paint.startTime : null,
    htmlResponseEnd: Math.round(nav.responseEnd),
    domInteractive: Math.round(nav.domInteractive),
    earlyJs: files.filter((e) => e.name.includes('/early.js')).map((e) => Math.round(e.responseEnd)),
    mainJs: files.filter((e) => e.name.includes('/main.js')).map((e) => Math.round(e.responseEnd)),
    runsRendered: performance.getEntriesByName('loonbrug:runs-rendered')[0].startTime,
    // where the time goes: the runs API call (request to last byte) and when it started
    apiRuns: api.filter((e) => e.name.includes('/api/runs?')).map((e) => ({
      start: Math.round(e.startTime), ms: Math.round(e.responseEnd - e.startTime),
      server: Math.round(e.responseStart - e.requestStart) })),
    apiOther: api.filter((e) => !e.name.includes('/api/runs?')).map((e) => ({
      name: e.name.split('/api/')[1].slice(0, 30), start: Math.round(e.startTime),
      ms: Math.round(e.responseEnd - e.startTime) })),
  };
}
"""


def seed_runs(services: Services, office: str) -> None:
    runs = services.runs
    start = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)

    def one(index: int) -> None:
        created = start + timedelta(hours=index)
        nightly = index % 3 != 0
        client = None if nightly else f"{4700 + index % 9}"
        new = NewRun(
            office_id=office,
            run_id=f"seed-{index:04d}",
            type=RunType.NIGHTLY if nightly else RunType.RERUN,
            created_at=created,
            created_by="system" if nightly else "Anna Beheer",
            client_id=client,
            business_date=created.date() if nightly else None,
            approved_from=None if nightly else date(2025, 1 + index % 12, 1),
            approved_to=None if nightly else date(2025, 1 + index % 12, 28),
        )
        if index < RUNS - DETAILED:
            run = runs.create(new, jobs_total=0)
            assert run is not None
            runs.mark_planned(run)
            return
        clients = ["4711", "5120"]
        runs.add_jobs(new, clients)
        run = runs.create(new, jobs_total=len(clients))
        assert run is not None
        runs.mark_planned(run)
        for client_id in clients:
            runs.finish_job(office, new.run_id, client_id, JobOutcome(imported=3), now=created)

    # One at a time: every run is counted in the office's counter rows, so parallel creators
    # only conflict on them and retry (8 threads took 64 s here, one takes a fraction of that).
    for index in range(RUNS):
        one(index)


def measure(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.wait_for_function(
        "() => performance.getEntriesByName('loonbrug:runs-rendered').length > 0"
    )
    return dict(page.evaluate(WEIGHT_JS))


def test_runs_page_with_1000_runs(
    portal_world: PortalWorld, open_page: Callable[..., Any], unique: Callable[[str], str]
) -> None:
    office = unique("kantoor")
    services = Services(Settings.from_env(portal_world.env))
    seed_runs(services, office)
    assert len(services.runs.page(office, limit=100).runs) == 100

    cold: list[dict[str, Any]] = []
    for _ in range(3):  # a fresh browser context each time: nothing cached
        page = open_page()
        sign_in_as(page, office)
        cold.append(measure(page, portal_world.portal + "#/runs"))
    warm_loads = []
    for _ in range(3):  # same context: files from the cache
        page.goto("about:blank")
        warm_loads.append(measure(page, portal_world.portal + "#/runs"))
    warm = warm_loads[-1]
    big_page = open_page()
    sign_in_as(big_page, office)
    hundred = measure(big_page, portal_world.portal + "#/runs?aantal=100")
    expect(big_page.locator("tbody tr")).to_have_count(100)

    # Paging as the manual shows it: "1 tot 10 van 1000 resultaten", page numbers, newest first.
    rows = page.locator("tbody tr")
    expect(rows).to_have_count(10)
    expect(rows.first).to_contain_text("Uitgevoerd (6/6)")  # two clients, 3 loonruns each
    expect(page.get_by_text("1 tot 10 van 1000 resultaten", exact=True)).to_be_visible()
    first_page = [rows.nth(i).get_attribute("data-run-id") for i in range(10)]
    assert first_page == [f"seed-{i:04d}" for i in range(RUNS - 1, RUNS - 11, -1)]
    pages = page.get_by_role("navigation", name="Pagina's")
    expect(pages.get_by_role("button", name="Pagina 100", exact=True)).to_be_visible()
    expect(pages.get_by_role("button", name="Pagina 1", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    pages.get_by_role("button", name="Volgende").click()
    expect(page.get_by_text("11 tot 20 van 1000 resultaten", exact=True)).to_be_visible()
    expect(rows.first).to_have_attribute("data-run-id", f"seed-{RUNS - 11:04d}")
    pages.get_by_role("button", name="Pagina 3", exact=True).click()
    expect(rows.first).to_have_attribute("data-run-id", f"seed-{RUNS - 21:04d}")
    expect(rows.first).to_contain_text("Niets te boeken")  # no loonruns: never "(0/0)"
    pages.get_by_role(
        "button", name="Pagina 100", exact=True
    ).click()  # the last page, straight away
    expect(page.get_by_text("991 tot 1000 van 1000 resultaten", exact=True)).to_be_visible()
    expect(rows.last).to_have_attribute("data-run-id", "seed-0000")
    pages.get_by_role("button", name="Vorige").click()
    expect(page.get_by_text("981 tot 990 van 1000 resultaten", exact=True)).to_be_visible()
    page.get_by_label("Type").select_option("rerun")
    expect(
        page.get_by_text("1 tot 10 van 334 resultaten (gefilterd uit 1000 resultaten)")
    ).to_be_visible()
    for i in range(10):
        expect(rows.nth(i).get_by_role("link")).to_have_text("Rerun")
    shoot(page, "24-runs-overzicht-1000-runs-reruns")
    # Zoeken, as in the manual ("Zoeken: 05-08-2022 13:58"): the created moment as shown.
    created = rows.first.locator("td").nth(3).inner_text()
    page.get_by_label("Zoeken").fill(created)
    page.get_by_label("Zoeken").press("Enter")
    # A search reads the newest 500 runs (one bounded range query) and says so.
    expect(
        page.get_by_text("1 tot 1 van 1 resultaten (gezocht in de nieuwste 500 van 1000 runs)")
    ).to_be_visible()
    expect(rows).to_have_count(1)
    page.get_by_label("Zoeken").fill("geen-run-zo")
    page.get_by_label("Zoeken").press("Enter")
    expect(
        page.get_by_text("Geen runs gevonden met 'geen-run-zo' in de nieuwste 500 runs.")
    ).to_be_visible()
    shoot(page, "24b-runs-overzicht-zoeken-leeg")

    phone = open_page(width=390, height=844)
    sign_in_as(phone, office)
    measure(phone, portal_world.portal + "#/runs")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shoot(phone, "25-runs-overzicht-1000-runs-telefoon", full_page=False)

    # The API alone, as the page calls it (no browser): median of 15 sequential calls.
    api = requests.Session()
    api.headers.update(admin_headers(office))
    timings = []
    for _ in range(16):
        started = time.perf_counter()
        answer = api.get(portal_world.host.url("/api/runs?limit=10&page=1"), timeout=30)
        timings.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200 and answer.json()["total"] == RUNS
    figures = {
        "apiRunsFirstPageMedianMs": round(statistics.median(timings[1:]), 1),
        "runsStored": RUNS,
        "pageSize": 10,
        "coldLoads": cold,
        "warmLoad": warm,
        "pageSize100": hundred,
        "medianFirstRenderMs": round(statistics.median(m["runsRendered"] for m in cold), 1),
        "medianWarmFirstRenderMs": round(
            statistics.median(m["runsRendered"] for m in warm_loads), 1
        ),
        "warmFirstRenderMs": [round(m["runsRendered"], 1) for m in warm_loads],
        "medianFirstContentfulPaintMs": round(
            statistics.median(m["firstContentfulPaint"] for m in cold), 1
        ),
        "pageWeightBytes": {
            "transferred": cold[0]["transferred"],
            "encoded": cold[0]["encoded"],
            "decoded": cold[0]["decoded"],
            "files": cold[0]["files"],
        },
    }
    METRICS.parent.mkdir(parents=True, exist_ok=True)
    METRICS.write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))
    # The Runs page loads 8 files and stays small and quick; early.js asks for the runs and the
    # connections before the modules are there (each answer used once, no second request).
    assert cold[0]["files"] == 8  # index.html, app.css, early, main, ui, format, api, runs
    assert [len(m["apiRuns"]) for m in cold] == [1, 1, 1]
    assert cold[0]["encoded"] < 40_000
    assert warm["transferred"] < cold[0]["transferred"] / 2  # versioned files come from cache
    assert figures["medianFirstRenderMs"] < 5_000
