"""Attacks on the booking promise, third round (a helper's brief: "break it, then fix"). Each
test reproduces one defect and failed before its fix; named after its scenario."""

from __future__ import annotations

from devtools.sandbox.afas import PROFIT_NAME, PROFIT_NUMBER, PROFIT_TOKEN, AfasSandbox
from shared.afas.environment import parse_profit_environment, profit_token
from shared.bootstrap import Services
from shared.clients.model import ProfitTarget
from shared.sync.targets import ChartCache, ProfitTargetLedger, for_run
from tests.support.afas_fixtures import fast_profit_client

# -- 1. the facts of one administration are shared per journal, not across journals ----------


def test_two_clients_on_one_administration_with_different_journals_get_their_own_journal_facts(
    afas_sandbox: AfasSandbox,
) -> None:
    """Two clients book into administration 1 of one Profit environment in one nightly: one
    into journal 80 (open), the other into journal 81 (blocked). Was: the facts cache was keyed
    by administration only, so the second client got journal 80's facts and its pre-check
    passed a blocked journal."""
    client = fast_profit_client(afas_sandbox, PROFIT_TOKEN)
    charts = ChartCache()
    open_journal = for_run(
        ProfitTargetLedger(client, ProfitTarget(PROFIT_NUMBER, 1, "80"), charts=charts),
        "office-a",
        "nightly-2025-04-02",
    )
    blocked_journal = for_run(
        ProfitTargetLedger(client, ProfitTarget(PROFIT_NUMBER, 1, "81"), charts=charts),
        "office-a",
        "nightly-2025-04-02",
    )
    assert isinstance(open_journal, ProfitTargetLedger)
    assert isinstance(blocked_journal, ProfitTargetLedger)
    assert not open_journal.facts((2025,)).journal_blocked
    facts = blocked_journal.facts((2025,))
    assert facts.journal_exists and facts.journal_blocked, facts


# -- 6. the chart of accounts is kept per office and environment ------------------------------


def test_two_offices_with_one_profit_environment_name_never_share_a_chart(
    afas_sandbox: AfasSandbox,
) -> None:
    """Two offices each have a Profit connection to an environment with the same number (their
    own AFAS, or one environment whose token sees a different chart). Was: the chart cache was
    keyed by environment only, so the second office's pre-check used the first office's chart
    (here: an account blocked for the second office passed)."""
    client = fast_profit_client(afas_sandbox, PROFIT_TOKEN)
    charts = ChartCache()
    run = "nightly-2025-04-02"
    target = ProfitTarget(PROFIT_NUMBER, 1, "80")
    first = for_run(ProfitTargetLedger(client, target, charts=charts), "office-a", run)
    assert isinstance(first, ProfitTargetLedger)
    assert not first.facts((2025,)).accounts["4110"].blocked
    # What the second office's AFAS says about the same account number.
    afas_sandbox.scenario.profit[PROFIT_NUMBER].accounts["4110"].blocked = True
    second = for_run(ProfitTargetLedger(client, target, charts=charts), "office-b", run)
    assert isinstance(second, ProfitTargetLedger)
    assert second.facts((2025,)).accounts["4110"].blocked
    third = ProfitTargetLedger(client, target, charts=charts, office="office-c")  # no run
    assert third.facts((2025,)).accounts["4110"].blocked


# -- 7. pooled HTTP sessions keep no cookies ------------------------------------------------


def test_a_cookie_one_office_s_afas_sets_is_never_sent_on_another_office_s_call(
    afas_sandbox: AfasSandbox, afas_services: Services
) -> None:
    """Every Profit client (every office, every connection) shares one pooled session, and so do
    the Loket clients. Was: that session kept a cookie jar, so a Set-Cookie from one office's
    AFAS (a load balancer's affinity cookie, a session id) went along on the next office's call.
    Now the pooled sessions accept no cookies at all."""
    afas_sandbox.set_cookie = "ARRAffinity=office-a-affinity; Path=/"
    environment = parse_profit_environment(PROFIT_NAME)
    office_a = afas_services.new_profit_client(environment, profit_token(PROFIT_TOKEN))
    list(office_a.list_journals(1))
    afas_sandbox.set_cookie = None
    office_b = afas_services.new_profit_client(environment, profit_token(PROFIT_TOKEN))
    list(office_b.list_journals(1))
    headers = afas_sandbox.last_headers[
        f"GET /{PROFIT_NUMBER}/ProfitRestServices/connectors/Profit_Journals"
    ]
    assert "cookie" not in headers, headers
    # The Loket clients' pooled session is built the same way.
    loket = afas_services.loket_session
    url = afas_sandbox.profit_url_template.format(environment=PROFIT_NUMBER)
    afas_sandbox.set_cookie = "session=office-a"
    loket.get(f"{url}/metainfo", timeout=5)
    afas_sandbox.set_cookie = None
    loket.get(f"{url}/metainfo", timeout=5)
    assert (
        "cookie"
        not in afas_sandbox.last_headers[f"GET /{PROFIT_NUMBER}/ProfitRestServices/metainfo"]
    )
