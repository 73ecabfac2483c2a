"""Attacks on the booking promise, third round (a helper's brief: "break it, then fix"). Each
test reproduces one defect and failed before its fix; named after its scenario."""

from __future__ import annotations

import json
import math
import socket
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from urllib.parse import urlsplit

import pytest

from devtools.azurite import Azurite
from devtools.sandbox.afas import (
    PROFIT_NAME,
    PROFIT_NUMBER,
    PROFIT_TOKEN,
    SB_ADMINISTRATION_ID,
    AfasSandbox,
    Fault,
    FaultKind,
)
from devtools.sandbox.loket import LoketSandbox, ScenarioLine
from shared.afas import profit
from shared.afas.environment import parse_profit_environment, profit_base_url, profit_token
from shared.afas.errors import AfasError
from shared.afas.sb import SbClient, payroll_entry_payload
from shared.afas.wire import dumps
from shared.api.handlers import afas_connections, clients
from shared.api.http import ascii_int
from shared.bootstrap import Services
from shared.clients.model import ProfitTarget
from shared.clock import MAX_DEFER
from shared.failures import classify
from shared.journal.builder import Draft
from shared.journal.entries import SbEntry
from shared.journal.periods import BookingPeriod, PeriodRule
from shared.loket.errors import LoketError
from shared.store.connections import ConnectionKey, ConnectionKind
from shared.store.run_details import JournalRunOutcome
from shared.store.tables import check_key, key_part, key_value
from shared.sync import ledger
from shared.sync.audit import fingerprint as wire_fingerprint
from shared.sync.bookers import ChartCache, ProfitBooker, for_run
from shared.sync.booking import BookingUnsettled
from shared.sync.ledger import Holder
from shared.sync.messages import MalformedMessage, SyncJob
from tests.support.afas_fixtures import (
    FAST_RETRY,
    Booker,
    call,
    connect_sb,
    fast_profit_client,
    sb_entry,
)
from tests.support.api import admin_headers, reader_headers
from tests.support.fault_world import Delivery, fault_world
from tests.support.loket_fixtures import connect_loket, fast_client

# -- 1. the facts of one administration are shared per journal, not across journals ----------


def test_two_clients_on_one_administration_with_different_journals_get_their_own_journal_facts(
    afas_sandbox: AfasSandbox,
) -> None:
    """Two clients book into administration 1 of one Profit environment in one nightly: one
    into journal 80 (open), the other into journal 81 (blocked). Was: the facts cache was keyed
    by administration only, so the second client got journal 80's facts and its pre-check
    passed a blocked journal. Since issue 18 the journals are read only to explain AFAS's
    refusal: the shared facts carry no journal, and each booker explains its own journal."""
    client = fast_profit_client(afas_sandbox, PROFIT_TOKEN)
    charts = ChartCache()
    open_journal = for_run(
        ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, 1, "80"), charts=charts),
        "office-a",
        "nightly-2025-04-02",
    )
    blocked_journal = for_run(
        ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, 1, "81"), charts=charts),
        "office-a",
        "nightly-2025-04-02",
    )
    assert isinstance(open_journal, ProfitBooker)
    assert isinstance(blocked_journal, ProfitBooker)
    assert not open_journal.facts((2025,)).journal_blocked
    refusal = "Dagboek '81' is geblokkeerd."
    assert open_journal.explain_refusal(refusal) == []  # journal 80 is fine: AFAS's text stands
    findings = blocked_journal.explain_refusal(refusal)
    assert findings and all("81" in f.text for f in findings), findings
    assert any("geblokkeerd" in f.text for f in findings), findings


def test_one_environment_s_periods_are_read_once_per_run_and_each_administration_gets_its_own(
    afas_sandbox: AfasSandbox,
) -> None:
    """Issue 18: the periods of every administration of an environment come in one read per
    run (not one per administration), and each administration still sees only its own: a period
    closed in administration 2 closes nothing in administration 1."""
    environment = afas_sandbox.scenario.profit[PROFIT_NUMBER]
    second = environment.add_administration(2, "Demo Werkmaatschappij B.V.")
    march = next(p for p in second.periods if (p.year, p.period) == (2025, 3))
    march.blocked = True
    client = fast_profit_client(afas_sandbox, PROFIT_TOKEN)
    charts = ChartCache()
    run = "nightly-2025-04-02"
    before = afas_sandbox.count("Profit_periods_per_administration")
    bookers = [
        for_run(ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, n, "80"), charts=charts),
                "office-a", run)
        for n in (1, 2)
    ]  # fmt: skip
    first, other = (b.facts((2025,)) for b in bookers if isinstance(b, ProfitBooker))
    assert afas_sandbox.count("Profit_periods_per_administration") - before == 1
    assert len(first.periods) == len(other.periods) == 12
    assert not first.periods[(2025, 3)].blocked and other.periods[(2025, 3)].blocked
    # Another run reads again (a period closed since is seen).
    again = for_run(ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, 1, "80"), charts=charts),
                    "office-a", "nightly-2025-04-03")  # fmt: skip
    assert isinstance(again, ProfitBooker)
    again.facts((2025,))
    assert afas_sandbox.count("Profit_periods_per_administration") - before == 2


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
    first = for_run(ProfitBooker(client, target, charts=charts), "office-a", run)
    assert isinstance(first, ProfitBooker)
    assert not first.facts((2025,)).accounts["4110"].blocked
    # What the second office's AFAS says about the same account number.
    afas_sandbox.scenario.profit[PROFIT_NUMBER].accounts["4110"].blocked = True
    second = for_run(ProfitBooker(client, target, charts=charts), "office-b", run)
    assert isinstance(second, ProfitBooker)
    assert second.facts((2025,)).accounts["4110"].blocked
    third = ProfitBooker(client, target, charts=charts, office="office-c")  # no run
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


# -- 3. a Retry-After of inf/nan/negative/huge neither crashes a job nor parks it for ever ----

HOSTILE_RETRY_AFTER = ("inf", "nan", "-5", "1e12", "1e400")


def _defer_as_the_worker_does(services: Services, error: BaseException) -> None:
    """What the worker does with a failed call: classify it; a deferred job goes back on the
    queue for ``retry_after`` seconds (Azurite refuses more than 7 days)."""
    failure = classify(error)
    assert failure is not None, error
    wait = failure.retry_after
    assert wait is None or 0 <= wait <= MAX_DEFER.total_seconds(), wait
    if failure.defer and wait is not None:
        services.defer_sync_job(SyncJob("office-r", "nightly-2025-04-02", "4711"), wait)


def test_an_afas_retry_after_of_inf_nan_negative_or_huge_is_no_wait_or_at_most_a_day(
    afas_sandbox: AfasSandbox, afas_services: Services
) -> None:
    """Was: ``Retry-After: inf`` (or ``1e400``) deferred the job by inf seconds (the queue call
    crashed: OverflowError), ``1e12`` asked the queue for a 31,000-year invisibility (refused)."""
    client = fast_profit_client(afas_sandbox, PROFIT_TOKEN)
    for value in HOSTILE_RETRY_AFTER:
        afas_sandbox.throttle("Profit_Journals", status=503, retry_after=value)
        try:
            journals = list(client.list_journals(1))
        except AfasError as error:
            assert value == "1e12", (value, error)  # only a finite wait above a call's is deferred
            assert error.retry_after == MAX_DEFER.total_seconds()
            _defer_as_the_worker_does(afas_services, error)
        else:
            assert value != "1e12" and journals, value  # no wait: tried again at once


def test_a_loket_retry_after_of_inf_nan_negative_or_huge_is_no_wait_or_at_most_a_day(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Callable[[str], str]
) -> None:
    """Was: ``Retry-After: nan`` slept nan seconds (time.sleep raises ValueError: a 500 in a
    handler, a crashed job), inf/1e12 deferred the job for ever or crashed the queue call."""
    office = unique("office")
    connect_loket(loket_services, office)
    for value in HOSTILE_RETRY_AFTER:
        loket_sandbox.rate_limit("employers", retry_after=value)
        sleeps: list[float] = []
        try:
            employers = list(fast_client(loket_services, office, sleeps).list_employers())
        except LoketError as error:
            assert value == "1e12", (value, error)
            _defer_as_the_worker_does(loket_services, error)
        else:
            assert value != "1e12" and employers, value
        assert all(math.isfinite(s) and 0 <= s <= 1 for s in sleeps), (value, sleeps)


# -- 4. Unicode digits are no numbers -------------------------------------------------------

UNICODE_DIGITS = ("٣", "３", "²", "1٣", "１2", "1_0", " 3")


def test_unicode_digits_in_a_profit_administration_or_environment_are_a_422_with_the_field(
    afas_services: Services,
) -> None:
    """Python's int() and str.isdigit take "٣" (Arabic-Indic 3) and "３" (full-width 3), and
    isdigit takes "²" which int() refuses. Was: administration "٣" was read from AFAS as 3,
    "²" was a 500 (ValueError), environment "١٢٣٤٥" passed ``\\d{5}`` as an environment
    number. Now only ASCII digits make a number: anything else is a 422 naming the field."""
    headers = reader_headers("office-u")
    for raw in UNICODE_DIGITS:
        answer = call(
            afas_services,
            afas_connections.PROFIT_JOURNALS,
            headers=headers,
            route={"environment": PROFIT_NUMBER, "administration": raw},
        )
        assert answer.status == 422, (raw, answer.status, answer.body)
        assert [e["field"] for e in json.loads(answer.body)["errors"]] == ["administration"]
    for environment in ("١٢٣٤٥", "１２３４５", "O١٢٣٤٥AA"):
        answer = call(
            afas_services,
            afas_connections.PROFIT_ADMINISTRATIONS,
            headers=headers,
            route={"environment": environment},
        )
        assert answer.status == 422, (environment, answer.status, answer.body)
        assert [e["field"] for e in json.loads(answer.body)["errors"]] == ["environment"]


def test_the_one_number_parser_takes_ascii_digits_only() -> None:
    """The parser every handler uses for a number in a path or query (and the documents'
    period labels from Loket data, where "2024-²" was a 500 on every download)."""
    for raw in (*UNICODE_DIGITS, "", "-1", "+1", "1e3", "0x10", "1.0"):
        assert ascii_int(raw) is None, raw
    assert ascii_int("0042") == 42 and ascii_int("7") == 7


PROFIT_ONLY = (("4711", "Korenschoof maandloners", "profit"),)


# -- 2. table keys from Loket data ----------------------------------------------------------


def test_loket_ids_and_account_codes_with_characters_table_keys_forbid_do_not_crash_the_job(
    fault_azurite: Azurite,
) -> None:
    """Loket journal run ids with ``# ? \\`` and a ledger account code with ``/ # ? \\`` and a
    control character (all forbidden in a Table Storage key). Was: the
    job crashed on the first key built from them (ValueError "not a valid table key": a bug to
    the worker, so the queue retried it into the poison queue); the run overview showed
    nothing. Now every key part from outside is escaped (%XX) by one function."""
    with fault_world(fault_azurite, seed=311, clients=PROFIT_ONLY) as world:
        administration = next(
            a for a in world.loket.scenario.administrations() if a.name == "Korenschoof maandloners"
        )
        first = next(r for r in administration.runs if r.status == 4 and not r.test_year)
        second = next(r for r in administration.runs if r.status == 4 and r.test_year)
        ready = replace(first, id=f"{first.id}#?\\", payroll_run_id=f"{first.id}-p")
        odd = replace(
            second,
            id=f"{second.id}?#\\",
            payroll_run_id=f"{second.id}-p",
            test_year=False,
            lines=[
                *second.lines,
                ScenarioLine("12/3#4?\\\x07", "Rare rekening", Decimal("10.00"), Decimal("0")),
                ScenarioLine("1600", "Te betalen netto lonen", Decimal("0"), Decimal("10.00")),
            ],
        )
        for original, renamed in ((first, ready), (second, odd)):
            world.loket.set_run_status(original.id, 7)  # exported: only the renamed one is ready
            world.loket.add_run(administration.id, renamed)
        run_id = world.nightly()
        world.drain()
        records = {
            r.loket_journal_run_id: r
            for r in world.admin.run_details.records_for_client(world.office, run_id, "4711")
        }
        assert ready.id in records and records[ready.id].status is JournalRunOutcome.IMPORTED, (
            records,
            [m.text for m in world.admin.run_details.messages(world.office, run_id)],
        )
        assert odd.id in records and records[odd.id].status is JournalRunOutcome.FAILED, (
            records,
            [m.text for m in world.admin.run_details.messages(world.office, run_id)],
        )
        messages = world.admin.run_details.messages(world.office, run_id)
        assert any("12/3#4?" in m.text for m in messages), [m.text for m in messages]
        (booked,) = world.afas.profit_entries()
        assert booked.journal == "80"
        assert world.admin.bookings.get("profit|12345|1", ready.id) is not None
        world.assert_invariant()


def test_a_key_part_is_escaped_reversibly_and_is_always_a_valid_key() -> None:
    for value in ("4711", "a/b#c?d\\e", "\x01\x7f\x85", "100%2F", "é|x"):
        part = key_part(value)
        assert check_key(part) == part and key_value(part) == value, value
    assert (
        key_part("0b5e8a2c-1d1f-4c8e-9d51-3a7c2e6f9b10") == "0b5e8a2c-1d1f-4c8e-9d51-3a7c2e6f9b10"
    )


# -- 5. no free slot of the Profit environment: deferred, no retry spent ---------------------


def test_a_profit_environment_without_a_free_slot_defers_the_job_with_a_dutch_message(
    fault_azurite: Azurite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AFAS allows 8 parallel calls per Profit environment; a call that finds no free slot in
    SLOT_WAIT is never sent. Was: that was a plain transport error, so the job spent a queue
    retry ("AFAS was niet bereikbaar"), and at the post a BookingUnsettled ("AFAS gaf geen
    (leesbaar) antwoord op het boeken"): a busy nightly burnt a job's retries on our own
    limit. Now the job is deferred (no retry spent) with a Dutch message saying AFAS is busy
    for this environment, at a read and at the post alike, and books once afterwards."""
    monkeypatch.setattr(profit, "SLOT_WAIT", 0.05)
    with fault_world(fault_azurite, seed=312, clients=PROFIT_ONLY) as world:
        run_id = world.nightly(send=False)
        (body,) = world.admin.outbox
        base = profit_base_url(world.settings.afas_profit_url, parse_profit_environment("12345"))
        slots = profit.environment_slots(base)
        held: list[int] = []

        def take_every_slot() -> None:
            while slots.acquire(blocking=False):
                held.append(1)

        def free_them() -> None:
            while held:
                held.pop()
                slots.release()

        def last_error() -> str:
            job = world.admin.runs.get_job(world.office, run_id, "4711")
            assert job is not None
            return job.last_error

        try:
            take_every_slot()  # at the first read (the facts)
            assert world.deliver_now(body, dequeue_count=1, message_id="m1") is None  # deferred
            free_them()
            assert "AFAS Profit-omgeving 12345 is bezet" in last_error(), last_error()

            def at_the_post(at: str, delivery: Delivery | None) -> None:
                if at == "posting" and not held:
                    take_every_slot()

            usual, world.hook = world.hook, at_the_post
            assert world.deliver_now(body, dequeue_count=1, message_id="m2") is None  # deferred
            world.hook = usual
            free_them()
            assert "AFAS Profit-omgeving 12345 is bezet" in last_error(), last_error()
            assert world.afas.profit_entries() == []  # never sent
        finally:
            free_them()
        assert world.deliver_now(body, dequeue_count=1, message_id="m3") is None
        assert len(world.afas.profit_entries()) == 1
        records = world.admin.run_details.records_for_client(world.office, run_id, "4711")
        assert [r.status for r in records].count(JournalRunOutcome.IMPORTED) == 1, records
        # (The two deferred messages come back in a minute and find the job done.)


# -- 8. an SB post cut off mid-body is not replayed for ever -----------------------------------


def _cut_post(url: str, headers: dict[str, str], body: bytes) -> None:
    """What SB received from a process killed while sending a post: the headers (its
    Tracking-Identifier included) and half the body, then the connection closed."""
    parts = urlsplit(url)
    head = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.netloc}", "Connection: close"]
    head += [f"{name}: {value}" for name, value in headers.items()]
    head.append(f"Content-Length: {len(body)}")
    with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body[: len(body) // 2])
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):  # SB answers the broken half (400 "Invalid JSON request")
            pass


def test_an_sb_post_cut_off_mid_body_is_posted_again_under_a_new_tracking_identifier(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """tests/faults/test_matrix.py::test_matrix[post-host_killed] failed once in CI: the host
    was killed while an SB job was sending its post (urllib3 sends the headers, then the
    body). SB got the Tracking-Identifier and half the body, answered "Invalid JSON request"
    (DS3100) and, as the spec says, answers every repeat of that Tracking-Identifier with that
    same first answer. The replay after the restart got it each time: an answer that proves
    nothing (classified outcome unknown, "AFAS gaf geen (leesbaar) antwoord op het boeken"),
    five retries in ~5 s, the job exhausted. Now SB saying it could not read the request
    proves nothing was booked under that identifier: a replay that gets it moves on to the next
    generation (a new Tracking-Identifier) and posts the entry once."""
    office = unique("office")
    connect_sb(afas_services, office)
    sb_key = ConnectionKey(office, ConnectionKind.AFAS_SB, "enyoi")
    connection = afas_services.connections.get(sb_key)
    assert connection is not None
    location = afas_services.sb_connections.location_of(connection, "enyoi")
    tokens = afas_services.sb_connections.tokens(connection, location)
    client = SbClient(location.url, tokens, sb_key, retry=FAST_RETRY)
    booker = Booker(client, environment="enyoi")
    entry = sb_entry(SB_ADMINISTRATION_ID, description=f"Loonjournaalpost {unique('cut')}")
    run_id = unique("run")
    target = booker.target(entry)
    draft: Draft[SbEntry] = Draft(entry, BookingPeriod(2025, 3, entry.entry_date, PeriodRule.PAYROLL_PERIOD), ())  # fmt: skip
    first = target.reference(draft, run_id, 0)
    # The killed process had recorded its post (the ledger says posted, then unknown) ...
    now = booker.clock()
    holder = Holder("office", "client", "run")
    row = ledger.first_claim(target.key, run_id, ledger.Claim(holder, now, now))
    row = ledger.transition(
        row, ledger.Post(now, target.administration, "", first, wire_fingerprint(entry), None)
    )
    booker.bookings.insert(row)
    # ... and SB received half of it.
    _cut_post(
        f"{location.url}/api/payrolljournalentry",
        {
            "Authorization": f"Bearer {tokens.access_token(sb_key).reveal()}",
            "Accept": "application/json",
            "Accept-Version": "1",
            "Content-Type": "application/json",
            "Tracking-Identifier": first,
        },
        dumps(payroll_entry_payload(entry)),
    )
    administration = afas_sandbox.sb_environment("enyoi").administrations[SB_ADMINISTRATION_ID]
    assert not [b for b in administration.bookings if b.description == entry.description]
    booker.clock.advance(minutes=20)  # the killed holder's lease has run out
    booked = booker.book(entry, run_id=run_id)
    kept = [b for b in administration.bookings if b.description == entry.description]
    assert len(kept) == 1 and kept[0].tracking_identifier != first, kept
    assert booked.reference == kept[0].tracking_identifier
    again = booker.book(entry, run_id=run_id)  # a redelivery finds it booked
    assert again.entry_number == booked.entry_number
    assert len([b for b in administration.bookings if b.description == entry.description]) == 1


def test_an_sb_post_answered_with_a_redirect_is_not_sent_again_by_the_session(
    afas_services: Services, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """A gateway answers SB's post 307 with a Location: the shared AfasSession must not send
    it again by itself (requests follows a 307 with the body), and SB's client must not read the
    redirect as a refusal. Outcome unknown; the next attempt replays the same
    Tracking-Identifier and books once."""
    office = unique("office")
    connect_sb(afas_services, office)
    sb_key = ConnectionKey(office, ConnectionKind.AFAS_SB, "enyoi")
    connection = afas_services.connections.get(sb_key)
    assert connection is not None
    location = afas_services.sb_connections.location_of(connection, "enyoi")
    tokens = afas_services.sb_connections.tokens(connection, location)
    booker = Booker(SbClient(location.url, tokens, sb_key, retry=FAST_RETRY), environment="enyoi")
    entry = sb_entry(SB_ADMINISTRATION_ID, description=f"Loonjournaalpost {unique('redirect')}")
    path = "api/payrolljournalentry"
    posts = afas_sandbox.count(path, "POST")
    # "payrolljournalentry" relative to .../api/payrolljournalentry: the very same URL again
    afas_sandbox.inject(
        Fault(FaultKind.REDIRECT, path, method="POST", status=307, message="payrolljournalentry")
    )
    with pytest.raises(BookingUnsettled):
        booker.book(entry)
    assert afas_sandbox.count(path, "POST") == posts + 1
    booked = booker.book(entry)
    administration = afas_sandbox.sb_environment("enyoi").administrations[SB_ADMINISTRATION_ID]
    kept = [b for b in administration.bookings if b.description == entry.description]
    assert len(kept) == 1 and kept[0].tracking_identifier == booked.reference


# -- free attack: a trailing line break passed every ``^…$`` check ----------------------------


def test_an_id_with_a_trailing_line_break_is_refused_never_a_500(afas_services: Services) -> None:
    """Python's ``$`` also matches before a final line break: client id ``"4711\\n"`` passed
    ``^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`` and then failed as a table key (control character):
    DELETE /api/clients/4711%0A answered 500. Every such pattern now ends in ``\\Z``."""
    for operation in (clients.GET_CLIENT, clients.PUT_CLIENT, clients.DELETE_CLIENT):
        answer = call(
            afas_services,
            operation,
            headers=admin_headers("office-n"),
            route={"clientId": "4711\n"},
            body=b"{}",
        )
        assert answer.status in (404, 422), (operation.name, answer.status, answer.body)
    job = json.dumps(
        {"v": 1, "officeId": "office\n", "runId": "nightly-2026-12-06", "clientId": "1"}
    )
    with pytest.raises(MalformedMessage):
        SyncJob.from_json(job.encode())
