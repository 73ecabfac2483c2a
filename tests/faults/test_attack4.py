"""Attacks on issue 18's last changes (a helper's brief: "break it, then fix"): the approval item
settled by the worker, and one Profit periods read per environment and run."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from devtools.sandbox.afas import PROFIT_NUMBER, PROFIT_TOKEN, AfasSandbox
from shared.afas.errors import AfasContractError
from shared.clients.model import ProfitTarget
from shared.sync.bookers import ChartCache, FactsCache, ProfitBooker, for_run
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


def test_one_administration_s_malformed_period_row_fails_only_that_administration(
    afas_sandbox: AfasSandbox,
) -> None:
    """The environment's periods come in one read; a row AFAS sends malformed (an empty
    DateFrom) in administration 2 fails administration 2's facts, as its own read did before,
    and no other administration's (was: the whole read failed, so every job of the
    environment failed)."""
    environment = afas_sandbox.scenario.profit[PROFIT_NUMBER]
    second = environment.add_administration(2, "Werkmaatschappij 2 B.V.")
    next(p for p in second.periods if (p.year, p.period) == (2025, 4)).malformed = True
    client = fast_profit_client(afas_sandbox, PROFIT_TOKEN)
    charts = ChartCache()
    before = afas_sandbox.count("Profit_periods_per_administration")
    bookers = [
        for_run(ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, n, "80"), charts=charts),
                "office-a", "nightly-2025-05-02")
        for n in (1, 2)
    ]  # fmt: skip
    first, malformed = (b for b in bookers if isinstance(b, ProfitBooker))
    assert len(first.facts((2025,)).periods) == 12
    with pytest.raises(AfasContractError):
        malformed.facts((2025,))
    assert afas_sandbox.count("Profit_periods_per_administration") - before == 1


def test_an_administration_s_periods_are_never_older_than_the_facts_age_whoever_read_them(
    afas_sandbox: AfasSandbox,
) -> None:
    """An administration's facts take their periods from the environment's shared read. Was:
    the facts were kept for the cache's age from when *they* were built, so periods another
    administration's job had read up to that age earlier were used for up to twice as long (a
    period closed meanwhile passed the pre-check). Now the facts are made from the shared read
    each time: a period closed after it is seen once the read is older than the age."""
    environment = afas_sandbox.scenario.profit[PROFIT_NUMBER]
    second = environment.add_administration(2, "Werkmaatschappij 2 B.V.")
    april = next(p for p in second.periods if (p.year, p.period) == (2025, 4))
    client = fast_profit_client(afas_sandbox, PROFIT_TOKEN)
    charts = ChartCache()
    charts.facts = FactsCache(max_age=timedelta(seconds=1.0))

    def facts(administration: int) -> dict[tuple[int, int], bool]:
        booker = for_run(
            ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, administration, "80"), charts=charts),
            "office-a",
            "nightly-2025-05-02",
        )
        assert isinstance(booker, ProfitBooker)
        return {k: v.blocked for k, v in booker.facts((2025,)).periods.items()}

    def until(moment: float) -> None:
        time.sleep(max(0.0, moment - time.monotonic()))  # the age itself is what is waited for

    started = time.monotonic()
    assert not facts(1)[(2025, 4)]  # reads the environment's periods
    april.blocked = True  # closed in AFAS after that read
    until(started + 0.5)
    assert not facts(2)[(2025, 4)]  # the shared read, 0.5 s old: within its age
    until(started + 1.1)
    assert facts(2)[(2025, 4)]  # that read is past its age: read again, the closed period seen
