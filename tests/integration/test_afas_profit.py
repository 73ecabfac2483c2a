"""ProfitClient over real HTTP against the AFAS sandbox: reads, booking, errors, and exactly-once
through the booking step (:class:`tests.support.afas_fixtures.Booker`: ``book_once`` with a
dict-backed ledger) under every fault the sandbox can inject."""

from __future__ import annotations

import base64
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
import requests

from devtools.sandbox.afas import (
    MSG_LOCKED,
    PROFIT_NUMBER,
    PROFIT_TOKEN,
    PROFIT_TOKEN_WITHOUT_FIENTRIES,
    PROFIT_TOKEN_WITHOUT_TRANSACTIONS,
    AfasSandbox,
    Fault,
    FaultKind,
    token_data,
    token_xml,
)
from shared.afas.environment import profit_token
from shared.afas.errors import (
    AfasAuthError,
    AfasConnectorNotAuthorized,
    AfasNotFound,
    AfasServerError,
    AfasTransportError,
    AfasValidationError,
)
from shared.afas.profit import Filter, ProfitClient, authorization_header, fi_entries_payload
from shared.afas.wire import dumps
from shared.clients.model import ProfitTarget
from shared.journal.entries import ProfitEntry, ProfitLine
from shared.journal.precheck import precheck_profit
from shared.secret import Secret
from shared.sync.bookers import ProfitBooker
from shared.sync.booking import (
    BookingBusy,
    BookingPolicy,
    BookingRefused,
    BookingUnsettled,
    QuietPeriod,
)
from shared.sync.ledger import Holder
from tests.support.afas_fixtures import Booker, fast_profit_client, profit_entry
from tests.support.localhost import wait_until

FI = "connectors/FiEntries"


@pytest.fixture
def client(afas_sandbox: AfasSandbox) -> ProfitClient:
    return fast_profit_client(afas_sandbox, PROFIT_TOKEN)


@pytest.fixture
def booker(client: ProfitClient) -> Booker:
    return Booker(client)


def test_reads_what_the_sync_checks_before_booking(client: ProfitClient) -> None:
    meta = client.check_token()
    assert "FiEntries" in meta.update_connectors and meta.environment_id == "O12345AA"
    assert [(a.number, a.name) for a in client.list_administrations()] == [(1, "Demo Holding B.V.")]
    journals = {j.code: j for j in client.list_journals(1)}
    assert not journals["80"].blocked and journals["81"].blocked
    accounts = {a.number: a for a in client.list_accounts()}
    assert accounts["4999"].blocked and not accounts["4000"].blocked
    assert accounts["4000"].required_axes == (1,) and accounts["1710"].required_axes == ()
    # DimAx1..5 and DimAx are codes (strings, as published): the account's axis 1 is "KPL".
    assert accounts["4000"].axes == {1: "KPL"} and not accounts["4000"].requires_project
    codes = {(a.account, a.axis, a.code) for a in client.list_allocation_assignments(1)}
    assert ("4000", "KPL", "100") in codes and ("1710", "KPL", "100") not in codes
    assert [a.code for a in client.list_allocation_assignments(1, account="4100")] == [
        "100",
        "200",
        "300",
    ]
    periods = list(client.list_periods(1, year=2023))
    assert len(periods) == 12 and all(p.blocked for p in periods)
    open_2025 = list(client.list_periods(1, year=2025))
    assert not any(p.blocked for p in open_2025)
    assert (open_2025[1].start.isoformat(), open_2025[1].end.isoformat()) == (
        "2025-02-01",
        "2025-02-28",
    )


def test_paging_walks_skip_take_in_order(client: ProfitClient, afas_sandbox: AfasSandbox) -> None:
    pages = list(
        client.iter_pages(
            "Profit_periods_per_administration",
            order_by=["-Year", "Period"],
            filters=[Filter("Unit", "1")],
            page_size=7,
        )
    )
    rows = [row for page in pages for row in page.rows]
    assert len(rows) == 60 and len(pages) == 9  # 5 years x 12, in pages of 7 (last one short)
    assert [(r["Year"], r["Period"]) for r in rows[:2]] == [(2027, 1), (2027, 2)]
    assert pages[-1].next_skip is None and pages[0].next_skip == 7
    assert afas_sandbox.count("Profit_periods_per_administration") == 9


def test_unknown_filter_field_is_an_afas_error(client: ProfitClient) -> None:
    with pytest.raises(AfasServerError) as caught:
        list(client.rows("Profit_Journals", order_by=["JournalId"], filters=[Filter("Nope", "1")]))
    assert "Connector field 'Nope' not found" in caught.value.message
    assert caught.value.log_reference


def test_a_balanced_entry_books_once_with_header_lines_and_cost_centres(
    client: ProfitClient, booker: Booker, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    voucher = unique("LB202503S1-")
    booking = booker.book(profit_entry(voucher))
    assert not booking.recovered
    [entry] = afas_sandbox.profit_entries(voucher=voucher)
    assert str(entry.entry_number) == booking.entry_number and entry.journal == "80"
    assert (entry.year, entry.period) == (2025, 3)
    assert [(ln.account, ln.debit, ln.credit, ln.dimensions) for ln in entry.lines] == [
        ("4000", Decimal("4000.00"), Decimal("0.00"), {1: "100"}),
        ("4100", Decimal("812.34"), Decimal("0.00"), {1: "200"}),
        ("1710", Decimal("0.00"), Decimal("1300.00"), {}),
        ("1600", Decimal("0.00"), Decimal("3512.34"), {}),
    ]  # fmt: skip
    assert {ln.voucher_number for ln in entry.lines} == {voucher}
    headers = afas_sandbox.last_headers[f"POST /12345/ProfitRestServices/{FI}"]
    expected = base64.b64encode(PROFIT_TOKEN.encode()).decode()
    assert headers["authorization"] == f"AfasToken {expected}"
    assert headers["accept-language"] == "nl-nl"
    # One post per booked entry (a fresh ledger claim needs no look-up); a second call books
    # nothing and asks AFAS nothing: the ledger knows.
    assert client.calls == {"POST FiEntries": 1}
    again = booker.book(profit_entry(voucher))
    assert again.recovered and again.entry_number == booking.entry_number
    assert afas_sandbox.count(FI, "POST") == 1 and client.calls == {"POST FiEntries": 1}
    lines = client.find_booked_lines(1, voucher)
    assert sum(ln.debit for ln in lines) == sum(ln.credit for ln in lines) == Decimal("4812.34")


@pytest.mark.parametrize("shape", ["results.FiEntryPar", "FiEntryPar", "results.FiEntries"])
def test_each_201_body_shape_gives_the_entry_number(
    client: ProfitClient, afas_sandbox: AfasSandbox, unique: Callable[[str], str], shape: str
) -> None:
    afas_sandbox.profit_response_shape = shape
    voucher = unique("LB-")
    number = client.post_entry(profit_entry(voucher))
    assert number == afas_sandbox.profit_entries(voucher=voucher)[0].entry_number


def _line(account: str, debit: str, credit: str, *dims: tuple[int, str]) -> ProfitLine:
    return ProfitLine(account, f"regel {account}", Decimal(debit), Decimal(credit), tuple(dims))


BALANCING = _line("1600", "0", "100.00")
LIVE_ERRORS = [
    ("account-blocked", {"lines": (_line("4999", "100.00", "0"), BALANCING)}, "Deblokkeer"),
    ("period-blocked", {"year": 2023, "period": 8}, "deblokkeren"),
    ("period-missing", {"period": 13}, "Periodetabel"),
    ("journal-unknown", {"journal": "99"}, "dagboekcode"),
    ("journal-unknown", {"journal": "81"}, "memoriaaldagboek"),
    ("account-unknown", {"lines": (_line("8888", "100.00", "0"), BALANCING)}, "transponering"),
    ("allocation-required", {"lines": (_line("4000", "100.00", "0"), BALANCING)},
     "Rekening 4000 vraagt in AFAS een code op de as 'Kostenplaats'"),
    ("allocation-unknown", {"lines": (_line("4000", "100.00", "0", (1, "999")), BALANCING)},
     "verbijzonderingscode 999 toe aan grootboekrekening 4000"),
    ("administration-unknown", {"administration": 7}, "administratienummer"),
]  # fmt: skip


@pytest.mark.parametrize(("code", "changes", "hint"), LIVE_ERRORS)
def test_profit_refusals_come_back_typed_with_their_hint(
    client: ProfitClient,
    booker: Booker,
    afas_sandbox: AfasSandbox,
    unique: Callable[[str], str],
    code: str,
    changes: dict[str, object],
    hint: str,
) -> None:
    voucher = unique("LB-")
    with pytest.raises(BookingRefused) as caught:
        booker.book(profit_entry(voucher, **changes))  # type: ignore[arg-type]
    error = caught.value.error
    assert isinstance(error, AfasValidationError)
    assert (error.status, error.code) == (500, code)
    assert hint in error.hint
    assert error.log_reference and error.log_reference in error.detail
    assert error.message in [e["externalMessage"] for e in afas_sandbox.profit_errors]
    assert afas_sandbox.profit_entries(voucher=voucher) == []
    # refused before processing: one post, nothing to look up, and the ledger says refused
    assert client.calls == {"POST FiEntries": 1}
    [row] = booker.bookings.rows.values()
    assert row.state.value == "refused" and row.posts == 1


def test_the_pre_check_reads_blocked_periods_and_axis_codes_as_published(
    client: ProfitClient, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Profit_periods_per_administration is published as "Blocked periods per administration":
    a period without a row is not closed (a warning), only a Blocked row is; AFAS itself refuses
    a post into a period that does not exist, with the Dutch hint."""
    target = ProfitBooker(client, ProfitTarget(PROFIT_NUMBER, 1, "80"))
    late = profit_entry(unique("LB-"), year=2028, period=3)  # the sandbox lists 2023-2027
    facts = target.facts((2028,))
    assert facts.periods == {}
    found = precheck_profit(late, facts, journal="80")
    assert [(f.code, f.blocks) for f in found] == [("period-not-listed", False)]
    with pytest.raises(AfasValidationError) as caught:
        client.post_entry(late)
    assert caught.value.code == "period-missing" and "Periodetabel" in caught.value.hint
    closed = profit_entry(unique("LB-"), year=2023, period=8)
    found = precheck_profit(closed, target.facts((2023,)), journal="80")
    assert [(f.code, f.blocks) for f in found] == [("period-blocked", True)]
    # Allocation axes are codes (DimAx1..5, DimAx): the cost centres of 4000 are assigned.
    # Read only when an entry carries allocation codes (target.precheck asks for them).
    facts = target.facts((2025,))
    assert facts.accounts["4000"].axis_codes == {1: "KPL"}
    assert facts.allocations is None
    allocations = target.allocations()
    assert ("4000", "KPL", "100") in allocations
    facts = dataclasses.replace(facts, allocations=allocations)
    assert precheck_profit(profit_entry(unique("LB-")), facts, journal="80") == []


def test_profit_rejects_an_unbalanced_entry_with_a_hint(afas_sandbox: AfasSandbox) -> None:
    entry = profit_entry(
        "LB-UNBALANCED", lines=(_line("4110", "100.00", "0"), _line("1600", "0", "99.99"))
    )
    response = _raw_post(afas_sandbox, entry)  # past the client's own balance check
    assert response.status_code == 500
    error = AfasValidationError(response.json()["externalMessage"], status=500)
    assert error.code == "not-balanced" and "0,01" in error.message


def _token() -> Secret:
    return profit_token(PROFIT_TOKEN)


def _raw_post(sandbox: AfasSandbox, entry: ProfitEntry) -> requests.Response:
    return requests.post(
        f"{sandbox.url}/12345/ProfitRestServices/{FI}",
        data=dumps(fi_entries_payload(entry)),
        headers={"Authorization": authorization_header(_token()).reveal()},
        timeout=5,
    )


def test_profit_accepts_a_duplicate_voucher_number(
    afas_sandbox: AfasSandbox, client: ProfitClient
) -> None:
    """Profit does not reject a second entry with the same BpNr: nothing may rely on it (the
    booking ledger keeps the second post from being sent), and the look-up settles on the
    first entry when it finds two."""
    entry = profit_entry("LB-DUPLICATE")
    for _ in range(2):
        assert _raw_post(afas_sandbox, entry).status_code == 201
    assert len(afas_sandbox.profit_entries(voucher="LB-DUPLICATE")) == 2
    first = afas_sandbox.profit_entries(voucher="LB-DUPLICATE")[0].entry_number
    assert client.find_entry(1, "LB-DUPLICATE") == first


# -- auth and App Connector ------------------------------------------------------------------


def test_a_wrong_or_revoked_token_is_an_auth_error(afas_sandbox: AfasSandbox) -> None:
    stranger = fast_profit_client(afas_sandbox, token_xml(token_data("never-issued")))
    with pytest.raises(AfasAuthError) as caught:
        stranger.check_token()
    assert caught.value.status == 401 and caught.value.code == "token-invalid"
    afas_sandbox.profit().revoke(PROFIT_TOKEN)
    with pytest.raises(AfasAuthError):
        fast_profit_client(afas_sandbox, PROFIT_TOKEN).check_token()
    assert afas_sandbox.count("metainfo") == 2  # 401 is never retried


def test_a_token_of_another_or_unknown_environment_is_refused(afas_sandbox: AfasSandbox) -> None:
    other = afas_sandbox.scenario.add_profit_environment("54321", "O54321AA")
    other.add_token(token_data("other"))
    with pytest.raises(AfasAuthError):
        fast_profit_client(afas_sandbox, token_xml(token_data("other"))).check_token()
    with pytest.raises(AfasNotFound):
        fast_profit_client(afas_sandbox, PROFIT_TOKEN, environment="99999").check_token()


def test_an_app_connector_without_fientries_is_refused_with_a_401_naming_fientries(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Published (Mutaties.json components.responses.401): a valid token without access to an
    endpoint gets a 401 with no body. The hint names the connector."""
    limited = fast_profit_client(afas_sandbox, PROFIT_TOKEN_WITHOUT_FIENTRIES)
    with pytest.raises(AfasConnectorNotAuthorized) as checked:
        limited.check_token()
    assert "FiEntries" in checked.value.message
    voucher = unique("LB-")
    with pytest.raises(AfasAuthError) as posted:
        limited.post_entry(profit_entry(voucher))
    error = posted.value
    assert (error.status, error.code) == (401, "connector-refused")
    assert "Voeg FiEntries toe aan de App connector" in error.hint
    assert "nieuwe gebruikerstoken" in error.hint  # or the token is not valid: both are possible
    assert afas_sandbox.profit_entries(voucher=voucher) == []


def test_a_get_connector_missing_from_the_app_connector_is_named_in_the_hint(
    afas_sandbox: AfasSandbox,
) -> None:
    limited = fast_profit_client(afas_sandbox, PROFIT_TOKEN_WITHOUT_TRANSACTIONS)
    with pytest.raises(AfasAuthError) as caught:
        limited.find_booked_lines(1, "LB-X")
    assert caught.value.code == "connector-refused"
    assert "geen toegang tot Profit_Transactions" in caught.value.hint
    assert afas_sandbox.count("Profit_Transactions") == 1  # a 401 is not retried
    # A 401 on /MetaInfo names no connector: that is the token.
    afas_sandbox.profit().revoke(PROFIT_TOKEN_WITHOUT_TRANSACTIONS)
    with pytest.raises(AfasAuthError) as refused:
        limited.check_token()
    assert refused.value.code == "token-invalid" and "gebruikerstoken" in refused.value.hint


def test_an_app_connector_without_fientries_answered_with_afas_500_text(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    afas_sandbox.profit_missing_connector = "500"
    limited = fast_profit_client(afas_sandbox, PROFIT_TOKEN_WITHOUT_FIENTRIES)
    with pytest.raises(AfasConnectorNotAuthorized) as posted:
        limited.post_entry(profit_entry(unique("LB-")))
    assert "niet ondersteund" in posted.value.message and posted.value.error_number == -2147180996
    assert "App connector" in posted.value.hint


# -- exactly once under faults ----------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_book_then_fail_leaves_exactly_one_entry(
    booker: Booker, afas_sandbox: AfasSandbox, unique: Callable[[str], str], status: int
) -> None:
    """AFAS booked, then answered an error: AFAS finished, so the look-up settles it at once."""
    voucher = unique("LB-")
    afas_sandbox.book_then_fail(FI, status=status)
    booking = booker.book(profit_entry(voucher))
    assert booking.recovered
    assert booker.book(profit_entry(voucher)).recovered  # a redelivery: the ledger knows
    [entry] = afas_sandbox.profit_entries(voucher=voucher)
    assert str(entry.entry_number) == booking.entry_number
    assert afas_sandbox.count(FI, "POST") == 1


def test_book_then_time_out_leaves_exactly_one_entry(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    booker = Booker(fast_profit_client(afas_sandbox, PROFIT_TOKEN, read_timeout=0.5))
    voucher = unique("LB-")
    afas_sandbox.book_then_hang(FI, seconds=5)
    started = time.monotonic()
    with pytest.raises(BookingUnsettled):
        booker.book(profit_entry(voucher))
    assert time.monotonic() - started < 3
    booking = booker.book(profit_entry(voucher))  # the next attempt looks it up first
    assert booking.recovered
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1
    assert afas_sandbox.count(FI, "POST") == 1


def test_book_then_drop_the_connection_leaves_exactly_one_entry(
    booker: Booker, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    voucher = unique("LB-")
    afas_sandbox.book_then_drop(FI)
    with pytest.raises(BookingUnsettled):
        booker.book(profit_entry(voucher))
    assert booker.book(profit_entry(voucher)).recovered
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1
    assert afas_sandbox.count(FI, "POST") == 1


def test_no_repost_while_profit_may_still_be_booking(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Timeout, and Profit books only later: no post goes out again within the quiet period
    (twice the post's read timeout after the last post), whatever the attempts in between."""
    booker = Booker(fast_profit_client(afas_sandbox, PROFIT_TOKEN, read_timeout=0.3))
    voucher = unique("LB-")
    afas_sandbox.slow(FI, seconds=1.0)
    with pytest.raises(BookingUnsettled):
        booker.book(profit_entry(voucher))
    with pytest.raises(QuietPeriod) as quiet:
        booker.book(profit_entry(voucher))  # looked up, absent, and too early to post again
    assert 0 < quiet.value.retry_after <= 1.0
    wait_until(lambda: afas_sandbox.profit_entries(voucher=voucher), timeout=5, what="late booking")
    assert booker.book(profit_entry(voucher)).recovered  # the next attempt finds it
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1
    assert afas_sandbox.count(FI, "POST") == 1


def test_a_look_up_that_times_out_after_an_unanswered_post_never_leads_to_a_blind_post(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Profit booked and the answer was lost; every try of the next attempt's look-up times out
    (the client's own retries included). That attempt raises and posts nothing, also once the
    quiet period has passed; the attempt after it finds the entry."""
    booker = Booker(fast_profit_client(afas_sandbox, PROFIT_TOKEN, read_timeout=0.3))
    voucher = unique("LB-")
    afas_sandbox.book_then_drop(FI)
    with pytest.raises(BookingUnsettled):
        booker.book(profit_entry(voucher))
    booker.clock.advance(seconds=5)  # well past the quiet period (2 x 0.3 s)
    afas_sandbox.inject(
        Fault(FaultKind.SLOW, "Profit_Transactions", method="GET", delay=0.6, times=4)
    )
    with pytest.raises(AfasTransportError) as failed:
        booker.book(profit_entry(voucher))
    assert failed.value.timed_out
    assert afas_sandbox.count(FI, "POST") == 1
    assert booker.book(profit_entry(voucher)).recovered
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1
    assert afas_sandbox.count(FI, "POST") == 1


def test_a_post_answered_with_a_redirect_is_not_sent_again_by_the_session(
    booker: Booker, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """A gateway answers the post 307 with a Location: the HTTP session must not send the post
    again by itself (uncounted, outside the ledger, with the payroll figures to wherever the
    Location points). The post's outcome is unknown; the ledger decides what happens next."""
    voucher = unique("LB-")
    # "FiEntries" relative to .../connectors/FiEntries: the very same URL again
    afas_sandbox.inject(
        Fault(FaultKind.REDIRECT, FI, method="POST", status=307, message="FiEntries")
    )
    with pytest.raises(BookingUnsettled):
        booker.book(profit_entry(voucher))
    assert afas_sandbox.count(FI, "POST") == 1
    assert afas_sandbox.profit_entries(voucher=voucher) == []


def test_two_admins_approving_at_once_book_once(
    afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    """Two approvals (or an approval and the nightly job) of one journal run at the same moment,
    each with its own Profit client, one ledger: one post; the other stands back (busy) while
    the first is in flight, and a later attempt reads the booking from the ledger."""
    first = Booker(fast_profit_client(afas_sandbox, PROFIT_TOKEN, read_timeout=3.0))
    second = Booker(fast_profit_client(afas_sandbox, PROFIT_TOKEN, read_timeout=3.0))
    second.bookings, second.clock = first.bookings, first.clock
    voucher = unique("LB-")
    afas_sandbox.slow(FI, seconds=0.5)
    outcomes: dict[str, object] = {}

    def approve(name: str, booker: Booker) -> None:
        try:
            outcomes[name] = booker.book(profit_entry(voucher), holder=Holder("o", "c", name))
        except BookingBusy as busy:
            outcomes[name] = busy

    threads = [
        threading.Thread(target=approve, args=(name, booker))
        for name, booker in (("anna", first), ("bert", second))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert sorted(type(o).__name__ for o in outcomes.values()) == ["Booked", "BookingBusy"]
    assert afas_sandbox.count(FI, "POST") == 1
    assert first.book(profit_entry(voucher), holder=Holder("o", "c", "nightly")).recovered
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1
    assert afas_sandbox.count(FI, "POST") == 1


@pytest.mark.parametrize(
    "fault",
    [
        Fault(FaultKind.DROP, FI, method="POST"),
        Fault(FaultKind.STATUS, FI, method="POST", status=504),
    ],
)
def test_an_unanswered_request_is_settled_by_the_next_attempt(
    booker: Booker, afas_sandbox: AfasSandbox, unique: Callable[[str], str], fault: Fault
) -> None:
    """No answer (or a gateway timeout): Profit may still be working, so no repost until the
    quiet period has passed and a look-up found nothing."""
    voucher = unique("LB-")
    afas_sandbox.inject(fault)
    with pytest.raises(BookingUnsettled):
        booker.book(profit_entry(voucher))
    assert afas_sandbox.profit_entries(voucher=voucher) == []
    with pytest.raises(QuietPeriod):
        booker.book(profit_entry(voucher))
    booker.clock.advance(seconds=11)  # 2 x the 5 s read timeout
    assert not booker.book(profit_entry(voucher)).recovered
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1
    assert afas_sandbox.count(FI, "POST") == 2


def test_a_locked_booking_layout_is_retried_after_the_voucher_check(
    booker: Booker, client: ProfitClient, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    voucher = unique("LB-")
    afas_sandbox.inject(Fault(FaultKind.STATUS, FI, method="POST", status=500, message=MSG_LOCKED))
    booking = booker.book(profit_entry(voucher))
    assert not booking.recovered
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1
    assert client.calls == {"GET Profit_Transactions": 1, "POST FiEntries": 2}
    [row] = booker.bookings.rows.values()
    assert (row.state.value, row.posts) == ("booked", 2)


@pytest.mark.parametrize("status", [429, 503])
def test_throttled_post_waits_retry_after_then_books_once(
    booker: Booker, afas_sandbox: AfasSandbox, unique: Callable[[str], str], status: int
) -> None:
    voucher = unique("LB-")
    afas_sandbox.throttle(FI, status=status, retry_after=1)
    booker.policy = BookingPolicy(settle_pause=0.05)  # the Retry-After decides the pause
    started = time.monotonic()
    booking = booker.book(profit_entry(voucher))
    waited = time.monotonic() - started
    assert not booking.recovered and 1.0 <= waited < 4
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1


def test_reads_retry_429_with_retry_after_within_bounds(
    client: ProfitClient, afas_sandbox: AfasSandbox
) -> None:
    afas_sandbox.throttle("Profit_Journals", status=429, retry_after=1, times=2)
    started = time.monotonic()
    assert len(list(client.list_journals(1))) == 2
    assert 2.0 <= time.monotonic() - started < 5
    assert afas_sandbox.count("Profit_Journals") == 3


def test_maintenance_for_hours_is_not_slept_through(
    booker: Booker, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    afas_sandbox.maintenance = 7200
    started = time.monotonic()
    with pytest.raises(BookingUnsettled) as caught:
        booker.book(profit_entry(unique("LB-")))
    assert time.monotonic() - started < 2
    assert caught.value.retry_after == 7200 and caught.value.error.code == "maintenance"
    assert afas_sandbox.count(FI, "POST") == 1  # answered: nothing more is sent in this call


def test_a_long_maintenance_answer_to_the_post_is_not_posted_into_again(
    booker: Booker, client: ProfitClient, afas_sandbox: AfasSandbox, unique: Callable[[str], str]
) -> None:
    voucher = unique("LB-")
    afas_sandbox.throttle(FI, status=503, retry_after=7200)
    with pytest.raises(BookingUnsettled) as caught:
        booker.book(profit_entry(voucher))
    assert caught.value.retry_after == 7200
    assert afas_sandbox.count(FI, "POST") == 1 and "GET Profit_Transactions" not in client.calls
    # After maintenance: AFAS had answered, so a look-up that finds nothing allows the post.
    assert not booker.book(profit_entry(voucher)).recovered
    assert client.calls["GET Profit_Transactions"] == 1
    assert len(afas_sandbox.profit_entries(voucher=voucher)) == 1


def test_sandbox_answers_documented_error_json(afas_sandbox: AfasSandbox) -> None:
    response = requests.post(
        f"{afas_sandbox.url}/12345/ProfitRestServices/{FI}",
        data=json.dumps({"FiEntryPar": {"Element": {"Fields": {"Year": 2025, "Peri": 3, "UnId": 1,
                         "JoCo": "80"}, "Objects": {"FiEntries": {"Element": {"Fields": {
                         "VaAs": "1", "AcNr": "4110", "EnDa": "2025-03-31", "AmDe": 1,
                         "AmCr": 0, "EnNo": 5}}}}}}}),
        headers={"Authorization": authorization_header(_token()).reveal()},
        timeout=5,
    )  # fmt: skip
    body = response.json()
    assert response.status_code == 500
    assert set(body) == {"externalMessage", "errorNumber", "profitLogReference"}
    assert "journaalpostnummer" in body["externalMessage"]


@pytest.mark.parametrize("body", ["", "<html>ok</html>", '{"results": {}}'])
def test_a_success_without_an_entry_number_is_settled_by_one_look_up(
    booker: Booker,
    client: ProfitClient,
    afas_sandbox: AfasSandbox,
    unique: Callable[[str], str],
    body: str,
) -> None:
    """Profit booked and answered 201 without a readable entry number: never a refusal, never
    a second post; the look-up right after it finds the entry."""
    voucher = unique("LB-")
    afas_sandbox.inject(
        Fault(FaultKind.BOOK_THEN_BODY, FI, method="POST", status=201, message=body)
    )
    booking = booker.book(profit_entry(voucher))
    assert booking.recovered
    [entry] = afas_sandbox.profit_entries(voucher=voucher)
    assert str(entry.entry_number) == booking.entry_number
    assert client.calls == {"POST FiEntries": 1, "GET Profit_Transactions": 1}


def test_one_instance_never_sends_more_than_8_parallel_calls_to_a_profit_environment(
    client: ProfitClient, afas_sandbox: AfasSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 18: AFAS allows 8 parallel calls per Profit environment. With 8 calls in flight
    (their slots held) a 9th waits; past the wait it is never sent (the job comes back later)."""
    from shared.afas import profit
    from shared.afas.errors import AfasTransportError

    monkeypatch.setattr(profit, "SLOT_WAIT", 0.05)
    slots = profit.environment_slots(client._base)
    held = 0
    try:
        while slots.acquire(blocking=False):
            held += 1
        assert held == profit.MAX_PARALLEL
        before = afas_sandbox.count("Profit_Journals")
        with pytest.raises(AfasTransportError) as caught:
            list(client.list_journals(1))
        assert caught.value.never_sent
        assert afas_sandbox.count("Profit_Journals") == before  # nothing reached AFAS
    finally:
        for _ in range(held):
            slots.release()
    assert [j.code for j in client.list_journals(1)]  # a free slot: the call goes out
