"""LoketClient and the Loket token flow over real HTTP (the sandbox) and real Azurite."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from devtools.sandbox.loket import LoketSandbox, build_scenario, default_scenario
from shared.bootstrap import Services
from shared.clock import AMSTERDAM, utc_now
from shared.journal.models import JournalRunStatus, PeriodType
from shared.loket.connect import ConsentFailed, loket_key
from shared.loket.directory import visible_administrations
from shared.loket.errors import (
    LoketAuthError,
    LoketConsentRequired,
    LoketContractError,
    LoketForbidden,
    LoketNotConnected,
    LoketNotFound,
    LoketRateLimited,
    LoketRejected,
    LoketServerError,
)
from shared.loket.oauth import REVOKED_REASON
from shared.oauth.tokens import InvalidGrant
from shared.secret import Secret
from shared.settings import Settings
from shared.store.connections import ConnectionState
from tests.support.loket_fixtures import (
    authorize,
    connect_loket,
    fast_client,
    loket_env,
    services_for,
)

Unique = Callable[[str], str]


def ids(sandbox: LoketSandbox) -> dict[str, str]:
    """Named ids of the default scenario."""
    employers = sandbox.scenario.employers
    monthly, four_weekly = employers[0].administrations
    return {
        "employer": employers[0].id,
        "monthly": monthly.id,
        "four_weekly": four_weekly.id,
        "ready": monthly.runs[1].id,
        "exported": monthly.runs[0].id,
        "queued": monthly.runs[3].id,
        "ready_payroll_run": monthly.runs[1].payroll_run_id,
    }


# -- reading -----------------------------------------------------------------------------------


def test_listing_employers_and_administrations(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    loket_sandbox.reset_counters()
    found = visible_administrations(fast_client(loket_services, office))
    assert [e.employer.name for e in found] == [
        "Bakkerij De Korenschoof B.V.",
        "Installatiebedrijf Van Dijk B.V.",
    ]
    korenschoof = found[0]
    assert korenschoof.employer.number == "1001"
    assert [(a.name, a.client_number, a.period_type) for a in korenschoof.administrations] == [
        ("Korenschoof 4-wekers", 4712, PeriodType.FOUR_WEEKLY),
        ("Korenschoof maandloners", 4711, PeriodType.MONTHLY),
    ]
    # One call for the employers, one per employer for its administrations; no token call.
    assert loket_sandbox.calls == {"employers": 1, "payroll_administrations": 2}


def test_reading_one_journal_run(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    known = ids(loket_sandbox)
    client = fast_client(loket_services, office)
    runs = {r.id: r for r in client.list_journal_runs(known["monthly"])}
    assert {r.status for r in runs.values()} == {
        JournalRunStatus.EXPORTED,
        JournalRunStatus.READY,
        JournalRunStatus.QUEUED,
    }
    assert [r.period.test_year for r in sorted(runs.values(), key=lambda r: r.sequence_number)] == [
        False,
        False,
        True,
        False,
    ]
    loket_sandbox.reset_counters()
    run = client.get_journal_run(known["ready"], administration_id=known["monthly"])
    lines = list(client.iter_journal_run_lines(run.id))
    approved = client.get_payroll_run_approval(run.payroll_run_id)
    assert run == runs[known["ready"]]
    assert (run.period.year, run.period.number, run.period.label) == (2024, 2, "2024-2")
    assert run.requested_at is not None and run.requested_at.utcoffset() == timedelta(hours=1)
    assert len(lines) == 8
    assert all(isinstance(line.debit, Decimal) for line in lines)
    assert sum(line.debit for line in lines) == sum(line.credit for line in lines) > 0
    assert any(line.cost_center == "KP100" for line in lines)
    assert any(line.cost_unit is not None for line in lines)
    # Naive Loket local time (14:30 in February) is 13:30 UTC.
    assert approved == datetime(2024, 2, 25, 13, 30, tzinfo=UTC)
    assert approved.tzinfo is AMSTERDAM
    # Calls per journal-run read: the administration's listing, one page of results, the payroll
    # run.
    assert loket_sandbox.calls == {"journal_runs": 1, "journal_run_results": 1, "payroll_run": 1}
    # A run is read only as a run of the administration named: one of another administration
    # the consent can see is not found (issue 15, scenario 9: the preview showed it).
    with pytest.raises(LoketNotFound) as elsewhere:
        client.get_journal_run(known["ready"], administration_id=known["four_weekly"])
    assert "loonadministratie van deze client" in elsewhere.value.dutch


def test_paging_returns_every_item_once(
    env: dict[str, str], start_loket: Callable[..., LoketSandbox], unique: Unique
) -> None:
    sandbox = start_loket(build_scenario(runs_per_administration=600, lines_per_run=2))
    services = services_for(env, sandbox)
    office = unique("office")
    connect_loket(services, office)
    administration = next(sandbox.scenario.administrations())
    sandbox.reset_counters()
    runs = list(fast_client(services, office).list_journal_runs(administration.id))
    assert len(runs) == 600
    assert len({r.id for r in runs}) == 600
    assert {r.sequence_number for r in runs} == set(range(1, 601))
    calls = [c for c in sandbox.recorded if c.route == "journal_runs"]
    assert [(c.query["pageNumber"], c.query["pageSize"]) for c in calls] == [
        ("1", "250"),
        ("2", "250"),
        ("3", "250"),
    ]


def test_an_empty_list_and_a_ready_run_without_lines(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    four_weekly = loket_sandbox.scenario.employers[0].administrations[1]
    empty = four_weekly.runs[1]
    assert empty.status == 4 and not empty.lines
    client = fast_client(loket_services, office)
    assert list(client.iter_journal_run_lines(empty.id)) == []
    pages = list(
        client.iter_pages(
            f"/providers/employers/payrolladministrations/journalruns/{empty.id}/results"
        )
    )
    assert [(p.total_pages, p.items) for p in pages] == [(0, [])]


def test_marking_runs_processed_and_failed(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    known = ids(loket_sandbox)
    client = fast_client(loket_services, office)
    four_weekly_ready = loket_sandbox.scenario.employers[0].administrations[1].runs[0].id
    client.mark_processed(known["ready"], "Geboekt in AFAS, boekstuk LB202402S2-ABCD1234")
    client.mark_processing_failed(four_weekly_ready, "Periode 2024-5 is geblokkeerd in AFAS.")
    assert loket_sandbox.run(known["ready"]).status == 7
    assert loket_sandbox.run(four_weekly_ready).status == 6
    assert loket_sandbox.patches == [
        (known["ready"], "MarkAsProcessed", "Geboekt in AFAS, boekstuk LB202402S2-ABCD1234"),
        (four_weekly_ready, "MarkAsProcessingFailed", "Periode 2024-5 is geblokkeerd in AFAS."),
    ]
    exported = client.get_journal_run(known["ready"], administration_id=known["monthly"])
    assert exported.status is JournalRunStatus.EXPORTED
    with pytest.raises(LoketRejected) as rejected:  # a queued run has nothing to process
        client.mark_processed(known["queued"], "x")
    assert "no results" in rejected.value.messages[0].description
    assert "Loket.nl heeft het verzoek geweigerd" in rejected.value.dutch


# -- errors and retries --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error", "calls"),
    [
        (403, LoketForbidden, 1),
        (404, LoketNotFound, 1),
        (400, LoketRejected, 1),
        (500, LoketServerError, 1),  # not retried in-process; the queue redelivers
        (502, LoketServerError, 3),
        (503, LoketServerError, 3),
        (504, LoketServerError, 3),
        (429, LoketRateLimited, 3),
    ],
)
def test_status_to_typed_error(
    loket_services: Services,
    loket_sandbox: LoketSandbox,
    unique: Unique,
    status: int,
    error: type[Exception],
    calls: int,
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    loket_sandbox.reset_counters()
    loket_sandbox.fail("employers", status, times=None)
    sleeps: list[float] = []
    with pytest.raises(error) as caught:
        list(fast_client(loket_services, office, sleeps, max_tries=3).list_employers())
    assert loket_sandbox.calls["employers"] == calls
    assert len(sleeps) == calls - 1
    assert all(0 < s <= 0.06 for s in sleeps)
    assert getattr(caught.value, "status", None) == status
    assert caught.value.dutch  # type: ignore[attr-defined]


def test_429_is_retried_honouring_retry_after(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    loket_sandbox.reset_counters()
    loket_sandbox.rate_limit("employers", retry_after=2, times=2)
    sleeps: list[float] = []
    employers = list(fast_client(loket_services, office, sleeps).list_employers())
    assert len(employers) == 2
    assert loket_sandbox.calls["employers"] == 3
    assert len(sleeps) == 2 and all(2 <= s <= 2.01 for s in sleeps)


def test_a_retry_after_beyond_the_budget_is_not_waited_for(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    loket_sandbox.reset_counters()
    loket_sandbox.rate_limit("employers", retry_after=600)
    sleeps: list[float] = []
    with pytest.raises(LoketRateLimited) as caught:
        list(fast_client(loket_services, office, sleeps).list_employers())
    assert caught.value.retry_after == 600
    assert sleeps == [] and loket_sandbox.calls["employers"] == 1


def test_5xx_recovers_within_the_retries(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    loket_sandbox.fail("journal_run_results", 503, times=2)
    loket_sandbox.fail("journal_run_results", 502, times=1)
    ready = ids(loket_sandbox)["ready"]
    assert len(list(fast_client(loket_services, office).iter_journal_run_lines(ready))) == 8


def test_slow_answers_time_out_and_are_retried(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    loket_sandbox.slow("employers", 1.0, times=1)
    client = fast_client(loket_services, office, timeout=(2.0, 0.3))
    assert len(list(client.list_employers())) == 2
    loket_sandbox.slow("employers", 1.0, times=None)
    started = time.monotonic()
    with pytest.raises(LoketServerError) as caught:
        list(fast_client(loket_services, office, timeout=(2.0, 0.3), max_tries=2).list_employers())
    assert "Timeout" in str(caught.value)
    assert time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("garbage", "answered no JSON"),
        ("drop_status", "journalRunStatus"),
        ("drop_period", "payrollPeriod"),
        ("unknown_status", "unknown journalRunStatus.key 42"),
        ("drop_embedded", "_embedded"),
    ],
)
def test_garbage_and_missing_fields_are_contract_errors(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique, fault: str, expected: str
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    known = ids(loket_sandbox)
    if fault == "garbage":
        loket_sandbox.garbage("journal_runs", times=None)
    elif fault == "drop_status":
        loket_sandbox.drop_fields("journal_runs", "journalRunStatus")
    elif fault == "drop_period":
        loket_sandbox.drop_fields("journal_runs", "payrollRun.payrollPeriod")
    elif fault == "unknown_status":
        loket_sandbox.set_run_status(known["ready"], 42)
    else:
        loket_sandbox.fail("journal_runs", 200, body={"totalPages": 1, "currentPage": 1})
    with pytest.raises(LoketContractError) as caught:
        list(fast_client(loket_services, office).list_journal_runs(known["monthly"]))
    assert expected in str(caught.value)
    assert "Loonbrug" in caught.value.dutch or "onbekende status (42)" in caught.value.dutch


def test_a_repeated_page_is_a_contract_error_not_a_loop(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    page = {"totalPages": 3, "currentPage": 1, "totalSize": 3, "_embedded": [{"id": "x"}]}
    loket_sandbox.fail("employers", 200, body=page, times=None)
    with pytest.raises(LoketContractError) as caught:
        list(fast_client(loket_services, office).iter_pages("/providers/employers"))
    assert "asked page 2, Loket answered page 1" in str(caught.value)
    assert loket_sandbox.calls["employers"] == 2


def test_the_version_header_is_required_and_a_retiring_version_is_logged(
    loket_services: Services,
    loket_sandbox: LoketSandbox,
    unique: Unique,
    caplog: pytest.LogCaptureFixture,
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    token = loket_services.loket_tokens.access_token(loket_key(office))
    bare = requests.get(
        f"{loket_sandbox.api_url}/providers/employers",
        headers={"Authorization": f"Bearer {token.reveal()}"},
        timeout=5,
    )
    assert bare.status_code == 406
    assert bare.json()["messages"][0]["type"] == "BrokenBusinessRule"
    loket_sandbox.obsolete_date = "2026-12-31"
    client = fast_client(loket_services, office)
    with caplog.at_level(logging.WARNING, logger="loonbrug.loket"):
        list(client.list_employers())
        list(client.list_employers())
    warnings = [r for r in caplog.records if "obsolete" in r.getMessage()]
    assert len(warnings) == 1 and "2026-12-31" in warnings[0].getMessage()


# -- tokens ------------------------------------------------------------------------------------


def test_a_401_refreshes_once_and_replays(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    loket_sandbox.expire_access_tokens()  # Loket refuses a token our row still thinks is valid
    loket_sandbox.reset_counters()
    assert len(list(fast_client(loket_services, office).list_employers())) == 2
    assert loket_sandbox.refresh_grants == 1
    assert loket_sandbox.calls == {"employers": 2, "token": 1}


def test_no_connection_is_a_typed_error(loket_services: Services, unique: Unique) -> None:
    with pytest.raises(LoketNotConnected) as caught:
        list(fast_client(loket_services, unique("office")).list_employers())
    assert "nog niet gekoppeld" in caught.value.dutch


@pytest.mark.parametrize("path", ["proactive", "after_401"])
def test_sixteen_threads_on_an_expired_token_refresh_once(
    env: dict[str, str],
    loket_sandbox: LoketSandbox,
    unique: Unique,
    path: str,
    record_property: Callable[[str, object], None],
) -> None:
    office = unique("office")
    connect_loket(services_for(env, loket_sandbox), office)
    if path == "proactive":
        # Our row says the token has expired: every worker wants to refresh before calling.
        def clock() -> datetime:
            return utc_now() + timedelta(hours=2)
    else:
        # Our row says it is valid, but Loket refuses it: every worker gets a 401 first.
        loket_sandbox.expire_access_tokens()
        clock = utc_now
    loket_sandbox.reset_counters()
    workers = 16
    barrier = threading.Barrier(workers)
    results: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        services = services_for(env, loket_sandbox, clock)  # one "instance" per worker
        client = fast_client(services, office)
        try:
            barrier.wait(timeout=30)
            results.append(len(list(client.list_employers())))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    wall = time.perf_counter() - started
    assert not errors, errors
    assert results == [2] * workers
    assert loket_sandbox.refresh_grants == 1
    assert loket_sandbox.reuse_detected == 0
    assert loket_sandbox.calls["token"] == 1
    record_property("wall_seconds", round(wall, 3))
    print(
        f"\n16 threads ({path}): refreshes={loket_sandbox.refresh_grants} "
        f"reuse={loket_sandbox.reuse_detected} api_calls={loket_sandbox.calls['employers']} "
        f"wall={wall:.3f}s"
    )
    assert wall < 30


def test_revoked_consent_turns_the_connection_to_reauthorize(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    key = connect_loket(loket_services, office)
    loket_sandbox.revoke_consent()
    loket_sandbox.reset_counters()
    with pytest.raises(LoketConsentRequired) as caught:
        list(fast_client(loket_services, office).list_employers())
    assert caught.value.dutch == REVOKED_REASON
    assert loket_sandbox.calls == {"employers": 1, "token": 1}
    connection = loket_services.connections.get(key)
    assert connection is not None and connection.state is ConnectionState.REAUTHORIZE
    assert connection.reason == REVOKED_REASON
    with pytest.raises(LoketConsentRequired):  # no further call to Loket at all
        list(fast_client(loket_services, office).list_employers())
    assert loket_sandbox.calls == {"employers": 1, "token": 1}


def test_the_sandbox_detects_refresh_token_reuse(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    oauth = loket_services.loket_oauth
    office = unique("office")
    key = connect_loket(loket_services, office)
    stored = loket_services.connections.read_secrets(key)
    assert stored is not None and stored.refresh_token is not None
    first = oauth.refresh(stored.refresh_token)
    assert first.refresh_token is not None and first.refresh_token != stored.refresh_token
    with pytest.raises(InvalidGrant):
        oauth.refresh(stored.refresh_token)  # reuse: the whole family is revoked
    with pytest.raises(InvalidGrant):
        oauth.refresh(first.refresh_token)
    assert loket_sandbox.reuse_detected == 1
    assert loket_sandbox.refresh_grants == 1


def test_code_exchange_checks_pkce_replay_and_client(
    env: dict[str, str], start_loket: Callable[..., LoketSandbox], unique: Unique
) -> None:
    sandbox = start_loket()
    services = services_for(env, sandbox)
    oauth = services.loket_oauth
    redirect = services.settings.redirect_uri("loket")
    start = services.consents.begin(
        provider="loket", office_id=unique("o"), user_id="u", now=utc_now()
    )
    code = Secret(
        authorize(
            oauth.authorize_url(
                redirect_uri=redirect, state=start.state, code_challenge=start.code_challenge
            )
        )["code"]
    )
    with pytest.raises(InvalidGrant):
        oauth.exchange_code(code, redirect_uri=redirect, code_verifier=Secret("wrong-verifier"))
    start = services.consents.begin(
        provider="loket", office_id=unique("o"), user_id="u", now=utc_now()
    )
    code = Secret(
        authorize(
            oauth.authorize_url(
                redirect_uri=redirect, state=start.state, code_challenge=start.code_challenge
            )
        )["code"]
    )
    tokens = oauth.exchange_code(code, redirect_uri=redirect, code_verifier=start.code_verifier)
    assert tokens.refresh_token is not None
    with pytest.raises(InvalidGrant):  # a code is single use
        oauth.exchange_code(code, redirect_uri=redirect, code_verifier=start.code_verifier)
    # A wrong client secret is invalid_client: the consent fails and nothing is stored.
    wrong = Services(
        Settings.from_env({**env, **loket_env(sandbox), "LOKET_CLIENT_SECRET": "not-it"})
    )
    office = unique("office")
    with pytest.raises(ConsentFailed) as failed:
        connect_loket(wrong, office)
    assert failed.value.slug == "loket-exchange-failed"
    assert "invalid_client" in failed.value.detail
    assert wrong.connections.for_office(office) == []


def test_no_token_code_or_state_reaches_the_logs(
    env: dict[str, str],
    loket_sandbox: LoketSandbox,
    unique: Unique,
    caplog: pytest.LogCaptureFixture,
) -> None:
    office = unique("office")
    services = services_for(env, loket_sandbox)
    with caplog.at_level(logging.DEBUG):
        connect_loket(services, office)
        loket_sandbox.expire_access_tokens()
        loket_sandbox.fail("employers", 503, times=1)
        visible_administrations(fast_client(services, office))
        loket_sandbox.revoke_consent()
        loket_sandbox.expire_access_tokens()
        with pytest.raises(LoketConsentRequired):
            list(fast_client(services, office).list_employers())
    states = {c.query["state"] for c in loket_sandbox.recorded if c.route == "authorize"}
    secrets = loket_sandbox.issued_secrets() | states
    assert len(secrets) >= 5  # a code, two access and two refresh tokens, a state
    text = caplog.text + " ".join(str(r.args) for r in caplog.records)
    assert "loket" in text  # the logs were captured at all
    leaked = [s for s in secrets if s in text]
    assert leaked == []


def test_default_scenario_runs_balance() -> None:
    for _, run in default_scenario().runs():
        assert sum(line.debit for line in run.lines) == sum(line.credit for line in run.lines)
    for _, run in build_scenario(
        employers=3, runs_per_administration=5, lines_per_run=9, seed=7
    ).runs():
        assert sum(line.debit for line in run.lines) == sum(line.credit for line in run.lines)
        assert all(line.debit >= 0 and line.credit >= 0 for line in run.lines)


def test_a_persistent_401_refreshes_once_then_is_an_auth_error(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    key = connect_loket(loket_services, office)
    loket_sandbox.reset_counters()
    loket_sandbox.fail("employers", 401, times=None)
    sleeps: list[float] = []
    with pytest.raises(LoketAuthError) as caught:
        list(fast_client(loket_services, office, sleeps).list_employers())
    assert type(caught.value) is LoketAuthError and caught.value.status == 401
    assert "Authorization has been denied" in caught.value.messages[0].description
    assert loket_sandbox.calls == {"employers": 2, "token": 1}
    assert sleeps == []
    connection = loket_services.connections.get(key)
    assert connection is not None and connection.state is ConnectionState.CONNECTED


def test_the_sandbox_filters_and_orders_journal_runs(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    monthly = ids(loket_sandbox)["monthly"]
    client = fast_client(loket_services, office)
    path = f"/providers/employers/payrolladministrations/{monthly}/journalruns"
    pages = list(
        client.iter_pages(
            path, {"filter": "journalRunStatus.key eq 4", "orderBy": "-sequenceNumber"}
        )
    )
    assert [item["sequenceNumber"] for item in pages[0].items] == [3, 2]
    dated = list(
        client.iter_pages(path, {"filter": "requestTime ge '2024-03-01' or sequenceNumber eq 1"})
    )
    assert sorted(item["sequenceNumber"] for item in dated[0].items) == [1, 3, 4]
    with pytest.raises(LoketRejected):
        list(client.iter_pages(path, {"filter": "journalRunStatus.key equals 4"}))
