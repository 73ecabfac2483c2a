"""Attacks on issue 18's last changes (a helper's brief: "break it, then fix"): the approval item
settled by the worker, and one Profit periods read per environment and run."""

from __future__ import annotations

from devtools.sandbox.afas import PROFIT_NUMBER, PROFIT_TOKEN, AfasSandbox
from shared.clients.model import ProfitTarget
from shared.sync.bookers import ChartCache, ProfitBooker, for_run
from tests.support.afas_fixtures import fast_profit_client


def test_an_environment_with_more_than_a_page_of_periods_gives_every_administration_its_own(
    afas_sandbox: AfasSandbox,
) -> None:
    """90 administrations x 12 periods of a year is more than one page of 1,000 rows: the last
    administration (ordered by Unit, on the second page) still gets its 12 periods, a period
    closed there closes it there only, and the environment is read in two calls."""
    environment = afas_sandbox.scenario.profit[PROFIT_NUMBER]
    for number in range(2, 92):
        environment.add_administration(number, f"Werkmaatschappij {number} B.V.")
    last = environment.administrations[91]
    next(p for p in last.periods if (p.year, p.period) == (2025, 11)).blocked = True
    client = fast_profit_client(afas_sandbox, PROFIT_TOKEN)
    charts = ChartCache()
    before = afas_sandbox.count("Profit_periods_per_administration")
    facts = {}
    for number in (91, 1, 50):
        booker = for_run(
            ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, number, "80"), charts=charts),
            "office-a",
            "nightly-2025-12-02",
        )
        assert isinstance(booker, ProfitBooker)
        facts[number] = booker.facts((2025,))
    assert afas_sandbox.count("Profit_periods_per_administration") - before == 2
    assert all(len(f.periods) == 12 for f in facts.values())
    assert facts[91].periods[(2025, 11)].blocked
    assert not facts[1].periods[(2025, 11)].blocked and not facts[50].periods[(2025, 11)].blocked
