"""The fault catalogue: the steps of a sync job, the faults, which fault applies to which step,
and how each is injected into a :class:`~tests.support.fault_world.FaultWorld`. Shared by the
fault matrix (every step x fault once) and the soak (random faults at random steps).

A step's *call* follows the checkpoint of the step before it (``ARM_AT``); a crash *in* a step
is the worker dying right after it (``DONE_AT``, the worker's own checkpoint names).

Besides faults of one call, some faults are scenarios around one step (issue 15): a post that
books and answers an unreadable success (``empty_201``), a look-up that fails after an unanswered
post (``lookup_fails``), the client's journal changed while its post is outstanding
(``journal_changed``), an approval that meets AFAS maintenance before the mapping changes
(``approve_503``), a re-consent while a token refresh is in flight (``reconsent_refresh``), and
two clients sharing one Loket payroll administration and one AFAS administration whose jobs
overlap at the step (``shared_administration``). Their :class:`Injected` says what comes after
the first nightly (``after``), what else to check (``verify``) and which figures to expect.
"""

from __future__ import annotations

import json
import logging
import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from devtools.sandbox.afas import Fault, FaultKind
from shared.api.handlers import approvals as approval_routes
from shared.oauth.tokens import TokenSet
from shared.store.approvals import ApprovalState
from shared.store.connections import ConnectionKey, ConnectionKind, StoredSecrets
from shared.sync.messages import SYNC_QUEUE
from tests.support.afas_fixtures import call, connect_sb
from tests.support.api import admin_headers
from tests.support.fault_world import (
    STANDARD_CLIENTS,
    Delivery,
    FaultWorld,
    Hook,
    WorkerKilled,
    add_clients,
    loket_administration_id,
    put_client,
)
from tests.support.loket_fixtures import connect_loket
from tests.support.sync_world import PROFIT_MAPPING, SB_MAPPING

log = logging.getLogger("tests.faults")

STEPS = ("list", "read", "precheck", "post", "record", "mark")  # the worker's order
FAULTS = (
    "crash",
    "duplicate",
    "timeout",
    "loket_429",
    "loket_5xx",
    "afas_429",
    "afas_5xx",
    "book_then_fail",
    "refresh_race",
    "host_killed",
    "empty_201",
    "lookup_fails",
    "journal_changed",
    "approve_503",
    "reconsent_refresh",
    "shared_administration",
)
# The checkpoint after which a step's API call comes ("start": the job opens its Loket client).
ARM_AT = {
    "list": "start",
    "read": "listed",
    "precheck": "read",
    "post": "prechecked",
    "record": "booked",
    "mark": "recorded",
}
DONE_AT = {
    "list": "listed",
    "read": "read",
    "precheck": "prechecked",
    "post": "booked",
    "mark": "marked",
    "record": "recorded",
}
LOKET_ROUTE = {"list": "journal_runs", "read": "journal_run_results", "mark": "patch_journal_run"}
TARGET_CLIENT = ("4711", "Korenschoof maandloners")  # Loket faults hit this client's calls
# (Profit path, SB path) of the step's first AFAS call; the pre-check's facts are read first.
AFAS_PATHS = {
    "precheck": ("connectors/Profit_Journals", "api/ledgeraccounts"),
    "post": ("connectors/FiEntries", "api/payrolljournalentry"),
}
HOST_KILL_STEPS = ("post", "mark")
SECOND_JOURNAL = ("90", "Memoriaal lonen 2")  # journal_changed: the Profit client moves here
# shared_administration: a second client on the same Loket payroll administration and the same
# AFAS administration as a standard client (twin -> the standard client it shares with).
TWINS: tuple[tuple[str, str, str], ...] = (
    ("4799", "Korenschoof maandloners", "profit"),
    ("5199", "Van Dijk installatie", "sb"),
)
TWIN_OF = {"4799": "4711", "5199": "5120"}
# Where the first client's job waits for its twin: before the step's call, and for the post
# right after the ledger recorded it (a live claim; the request not sent yet).
SHARED_AT = {**ARM_AT, "post": "posting"}
# A changed mapping (approve_503) that changes every entry: the Loket accounts 1500 and 1550
# (otherwise 1710 and 1720) go to 1600.
CHANGED_ACCOUNTS = {"1500": "1600", "1550": "1600"}


def skip_reason(step: str, fault: str) -> str | None:
    """None when ``fault`` can happen at ``step``; else why the combination cannot happen."""
    if fault in ("loket_429", "loket_5xx") and step not in LOKET_ROUTE:
        return f"the {step} step makes no Loket call (it talks to AFAS or our own tables)"
    if fault in ("afas_429", "afas_5xx") and step not in AFAS_PATHS:
        return f"the {step} step makes no AFAS call"
    if fault == "timeout" and step == "record":
        return (
            "the record step only writes our own Table Storage (a failure there is the crash cell)"
        )
    if fault in ("book_then_fail", "empty_201") and step != "post":
        return "only the post books anything in AFAS"
    if fault == "lookup_fails" and step != "post":
        return "a look-up follows only a post whose outcome is unknown"
    if fault == "journal_changed" and step != "post":
        return (
            "the journal matters for exactly-once only while a post is outstanding (its look-up "
            "must search where the post went); before it nothing was sent, after it the ledger "
            "says booked"
        )
    if fault == "approve_503" and step not in AFAS_PATHS:
        return (
            f"an approval meets AFAS at the pre-check's facts and at the post only (the {step} "
            "step talks to Loket or our own tables)"
        )
    if fault in ("refresh_race", "reconsent_refresh") and step == "record":
        return "the record step calls no API, so no token is refreshed"
    if fault == "host_killed" and step not in HOST_KILL_STEPS:
        return (
            "slow (two local-host starts): a couple of cells only; the crash cell covers this step"
        )
    return None


# -- hooks --------------------------------------------------------------------------------------


def compose(*hooks: Hook) -> Hook:
    def run(step: str, delivery: Delivery | None) -> None:
        for hook in hooks:
            hook(step, delivery)

    return run


def kill_once_at(step: str, *, first_delivery_only: bool = True) -> Hook:
    """The worker dies right after ``step``, once per job."""
    killed: set[tuple[str, str]] = set()
    lock = threading.Lock()

    def hook(at: str, delivery: Delivery | None) -> None:
        if at != step or delivery is None:
            return
        if first_delivery_only and delivery.dequeue_count > 1:
            return
        key = (delivery.job.run_id, delivery.job.client_id)
        with lock:
            if key in killed:
                return
            killed.add(key)
        raise WorkerKilled(f"killed after {step}")

    return hook


@dataclass
class Rendezvous:
    """Hold the first ``parties`` deliveries that reach ``step`` until all are there (or
    ``timeout`` passes), run ``action`` once, then let them go at the same moment."""

    step: str
    parties: int
    action: Callable[[], None] = lambda: None
    timeout: float = 3.0
    key: Callable[[Delivery], object] = lambda d: "all"
    which: Callable[[Delivery], bool] = lambda d: True
    _barriers: dict[object, threading.Barrier] = field(default_factory=dict)
    _seen: set[tuple[str, str, str]] = field(default_factory=set)
    _fired: set[object] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    met: int = 0  # how many groups were complete

    def _fire(self, group: object) -> None:
        with self._lock:
            if group in self._fired:
                return
            self._fired.add(group)
        self.action()

    def __call__(self, at: str, delivery: Delivery | None) -> None:
        if delivery is None or at != self.step or not self.which(delivery):
            return
        group = self.key(delivery)
        arrival = (delivery.job.run_id, delivery.job.client_id, delivery.message_id)
        with self._lock:
            if arrival in self._seen or group in self._fired:
                return  # one arrival per delivery; later ones pass
            barrier = self._barriers.get(group)
            self._seen.add(arrival)
            if barrier is None:
                barrier = threading.Barrier(self.parties, action=lambda: self._fire(group))
                self._barriers[group] = barrier
        try:
            barrier.wait(timeout=self.timeout)
            with self._lock:
                self.met += 1
        except threading.BrokenBarrierError:
            self._fire(group)  # not everyone came: the fault happens anyway


@dataclass
class Overlap:
    """A duplicate delivery while the first is at ``step``: of the two deliveries of one job
    (two messages, both on their first delivery), the first to arrive runs to ``step`` and waits
    there; the second is held back until then, runs, and when it ends the first goes on."""

    step: str
    timeout: float = 3.0
    met: int = 0
    _first: dict[tuple[str, str], str] = field(default_factory=dict)
    _at_step: dict[tuple[str, str], threading.Event] = field(default_factory=dict)
    _ended: dict[tuple[str, str], threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, at: str, delivery: Delivery | None) -> None:
        if delivery is None or delivery.dequeue_count > 1:
            return
        group = (delivery.job.run_id, delivery.job.client_id)
        with self._lock:
            at_step = self._at_step.setdefault(group, threading.Event())
            ended = self._ended.setdefault(group, threading.Event())
            first = self._first.setdefault(group, delivery.message_id)
        mine = first == delivery.message_id
        if at == "deliver" and not mine:
            at_step.wait(self.timeout)  # let the first get to the step
        elif at == self.step and mine and not at_step.is_set():
            at_step.set()
            if ended.wait(self.timeout):  # the duplicate came and went meanwhile
                with self._lock:
                    self.met += 1
        elif at == "end" and not mine:
            ended.set()


# -- injection ----------------------------------------------------------------------------------


@dataclass
class Injected:
    """What a cell did, for its own assertions."""

    spent: Callable[[], bool] = lambda: True
    rendezvous: Rendezvous | None = None
    overlap: Overlap | None = None
    refresh_before: tuple[int, int, int] = (0, 0, 0)  # Loket refreshes, reuses, SB refreshes
    after: Callable[[], None] = lambda: None  # what follows the first nightly, inside the world
    verify: Callable[[], None] = lambda: None  # the cell's own checks, after the invariant
    # (booked once, booked for a client sharing the administration, visibly failed, empty
    # runs skipped) that THE invariant must report
    expect: tuple[int, int, int, int] = (4, 0, 0, 1)


def slow_seconds(world: FaultWorld, step: str = "") -> float:
    """Beyond the read timeout. A post is answered late but lands within the re-post quiet
    period (twice the post timeout, shared.sync.bookers.repost_quiet_period): AFAS slower than
    that is the documented limit of exactly-once booking into Profit."""
    return world.timeouts.read * (1.5 if step == "post" else 2.5)


def loket_call(world: FaultWorld, step: str) -> tuple[str, str]:
    """(path fragment, method) of the step's Loket call for the target client's ready run:
    only that job meets the fault, whatever runs beside it."""
    administration = next(
        a for a in world.loket.scenario.administrations() if a.name == TARGET_CLIENT[1]
    )
    ready = next(r for r in administration.runs if r.status == 4 and not r.test_year)
    if step == "list":
        return f"/payrolladministrations/{administration.id}/journalruns", "GET"
    if step == "read":
        return f"/journalruns/{ready.id}/results", "GET"
    return f"/journalruns/{ready.id}", "PATCH"


def _afas_spent(world: FaultWorld) -> Callable[[], bool]:
    return lambda: all(f.times <= 0 for f in world.afas.faults)


def sb_refreshes(world: FaultWorld) -> int:
    return int(world.afas.sb_grants["refresh_token"])


def inject(world: FaultWorld, step: str, fault: str) -> Injected:
    """Arm ``fault`` at ``step`` for the next nightly of ``world`` (all clients)."""
    t = world.timeouts
    if fault == "crash":
        world.hook = kill_once_at(DONE_AT[step])
        return Injected()
    if fault == "duplicate":
        world.duplicate = True
        world.concurrency = 6
        overlap = Overlap(ARM_AT[step])
        world.hook = overlap
        return Injected(overlap=overlap)
    if fault == "refresh_race":
        return _refresh_race(world, step)
    if fault == "reconsent_refresh":
        return _reconsent_refresh(world, step)
    if fault == "shared_administration":
        return _shared_administration(world, step)
    if fault == "approve_503":
        return _approve_503(world, step)
    if fault == "empty_201":
        return _empty_201(world)
    if fault == "lookup_fails":
        return _lookup_fails(world)
    if fault == "journal_changed":
        return _journal_changed(world)
    if fault in ("loket_429", "loket_5xx", "timeout") and step in LOKET_ROUTE:
        where, method = loket_call(world, step)
        if fault == "loket_429":
            world.loket.rate_limit(where, retry_after=0, times=t.loket_tries, method=method)
        elif fault == "loket_5xx":
            world.loket.fail(where, 503, times=t.loket_tries, method=method)
        else:
            world.loket.slow(where, slow_seconds(world), times=t.loket_tries, method=method)
        return Injected(spent=world.loket.faults_spent)
    if step in AFAS_PATHS and fault in ("afas_429", "afas_5xx", "timeout", "book_then_fail"):
        profit, sb = AFAS_PATHS[step]
        tries = t.profit_post_attempts if step == "post" else t.afas_attempts
        if fault == "afas_429":
            world.afas.throttle(profit, status=429, retry_after=0, times=tries)
            world.afas.throttle(sb, status=429, retry_after=0, times=t.afas_attempts)
        elif fault == "afas_5xx":
            world.afas.throttle(profit, status=503, retry_after=0, times=tries)
            world.afas.throttle(sb, status=503, retry_after=0, times=t.afas_attempts)
        elif fault == "timeout":
            # A post that times out is never re-sent in the same call (Profit: outcome
            # unknown); AFAS processes it late, after the client gave up.
            posts = 1 if step == "post" else tries
            world.afas.slow(profit, seconds=slow_seconds(world, step), times=posts)
            world.afas.slow(sb, seconds=slow_seconds(world, step), times=posts)
        else:
            world.afas.book_then_fail(profit, status=500)
            world.afas.book_then_fail(sb, status=503)
        return Injected(spent=_afas_spent(world))
    raise AssertionError(f"no injection for {step}-{fault}")


def _refresh_race(world: FaultWorld, step: str) -> Injected:
    """Every worker holds an access token that has just expired, and they all need a new one
    at the same moment: exactly one refresh (a rotated refresh token is never sent twice).
    (SB at the AFAS steps: Profit tokens do not expire.)"""
    world.concurrency = 3
    before = (world.loket.refresh_grants, world.loket.reuse_detected, sb_refreshes(world))
    if step in AFAS_PATHS:  # AFAS SB tokens (Profit tokens do not expire)

        def expire_sb() -> None:
            world.afas.expire_sb_access_tokens()

        meet = Rendezvous(
            ARM_AT[step],
            2,
            action=expire_sb,
            which=lambda d: d.job.client_id in ("4712", "5120"),
        )
    else:

        def expire_loket() -> None:
            world.loket.expire_access_tokens()
            if step == "list":  # our own clock also says expired: both refresh proactively
                world.clock.advance(timedelta(hours=1, minutes=1))

        meet = Rendezvous(ARM_AT[step], 3, action=expire_loket)
    world.hook = meet
    return Injected(rendezvous=meet, refresh_before=before)


# -- the scenarios of issue 15 -------------------------------------------------------------------

PROFIT_POST, SB_POST = AFAS_PATHS["post"]


def _empty_201(world: FaultWorld) -> Injected:
    """The post books, and the answer is a success without a readable body: Profit 201 with an
    empty body, SB 200 with an empty and with a non-JSON body. Only a look-up (Profit) or the
    replay of the Tracking-Identifier (SB) may settle it; nothing is posted blind."""
    afas = world.afas
    afas.inject(Fault(FaultKind.BOOK_THEN_BODY, PROFIT_POST, method="POST", status=201, message=""))
    afas.inject(Fault(FaultKind.BOOK_THEN_BODY, SB_POST, method="POST", status=200, message=""))
    afas.inject(
        Fault(FaultKind.BOOK_THEN_BODY, SB_POST, method="POST", status=200, message="Created")
    )

    def verify() -> None:
        assert afas.count(PROFIT_POST, "POST") == 1, "Profit was posted to again"

    return Injected(spent=_afas_spent(world), verify=verify)


def sb_failing_delivery(world: FaultWorld) -> int:
    """How many 503s make every try of every post of one SB delivery fail after the first try
    of its first post (the booking step sends up to ``posts_per_call`` posts, each with the
    client's ``afas_attempts`` tries)."""
    t = world.timeouts
    return (t.afas_attempts - 1) + (t.profit_post_attempts - 1) * t.afas_attempts


def profit_401(path: str) -> Fault:
    """Profit refuses the token on a GET (a STATUS fault answers Profit's functional-error 500
    for any status but 429/502/503/504, so the 401 is a raw answer after the read)."""
    body = json.dumps({"externalMessage": "Er is geen ingelogde gebruiker.", "errorNumber": -1})
    return Fault(FaultKind.BOOK_THEN_BODY, path, method="GET", status=401, message=body)


def _lookup_fails(world: FaultWorld) -> Injected:
    """The post goes out unanswered (AFAS booked it), and what should settle it fails for a whole
    delivery. Profit: the look-up in Profit_Transactions answers 500 (every try of one delivery),
    then 503 (the next delivery), then 401 (the job fails visibly: a refused token); the next
    nightly looks it up and finds it. SB: after the dropped answer the replays of the
    Tracking-Identifier answer 503 for the rest of the delivery; the next delivery's replay
    answers SB's first answer."""
    afas, t = world.afas, world.timeouts
    afas.book_then_drop(PROFIT_POST)
    for status, times in ((500, t.afas_attempts), (503, t.afas_attempts)):
        afas.inject(
            Fault(FaultKind.STATUS, "Profit_Transactions", method="GET", status=status, times=times)
        )
    afas.inject(profit_401("Profit_Transactions"))
    afas.book_then_drop(SB_POST)
    afas.inject(
        Fault(
            FaultKind.STATUS, SB_POST, method="POST", status=503, times=sb_failing_delivery(world)
        )
    )

    def next_nightly() -> None:
        world.clock.advance(timedelta(days=1))
        world.nightly()
        world.drain(timeout=60)

    def verify() -> None:
        assert afas.count(PROFIT_POST, "POST") == 1, "Profit was posted to again"
        job = world.admin.runs.get_job(world.office, world.run_ids[0], TARGET_CLIENT[0])
        assert job is not None and job.last_error == "afas-token", job  # the 401, visibly

    return Injected(spent=_afas_spent(world), after=next_nightly, verify=verify)


def _journal_changed(world: FaultWorld) -> Injected:
    """The Profit post is answered late (AFAS books it after the client stopped waiting); before
    the next delivery the admin moves the client to a second journal (PUT /api/clients). The
    look-up searches the administration across journals: the entry is found in the journal the
    post went to, and nothing is posted again."""
    afas = world.afas
    afas.profit().administrations[1].add_journal(*SECOND_JOURNAL)
    afas.slow(PROFIT_POST, seconds=slow_seconds(world, "post"))
    client_id, name = TARGET_CLIENT
    loket_id = loket_administration_id(world, name)
    changed: list[int] = []

    def hook(at: str, delivery: Delivery | None) -> None:
        if at != "deliver" or delivery is None or delivery.job.client_id != client_id:
            return
        if changed or afas.count(PROFIT_POST, "POST") == 0:
            return  # not yet posted: the change must come while the post is outstanding
        answer = put_client(world, client_id, loket_id, "profit", journal=SECOND_JOURNAL[0])
        changed.append(answer.status)

    world.hook = hook

    def verify() -> None:
        assert changed == [200], changed
        assert [e.journal for e in afas.profit_entries()] == ["80"]
        assert afas.count(PROFIT_POST, "POST") == 1, "Profit was posted to again"
        config = world.admin.clients.get(world.office, client_id)
        assert config is not None and getattr(config.target, "journal", None) == "90"

    return Injected(spent=lambda: _afas_spent(world)() and bool(changed), verify=verify)


def _approve_503(world: FaultWorld, step: str) -> Injected:
    """Review mode. An admin approves every prepared item while AFAS answers 503 (maintenance
    everywhere, so the approval stops at the pre-check's facts; or only at the post); the items
    stay ``approving``. The mapping is changed; the next nightly finds entries that are not the
    approved ones: nothing is booked, the items go back to pending with the new entry. The admin
    approves again: each journal run is booked once, with the changed mapping."""
    add_clients(world, STANDARD_CLIENTS, mode="review")
    afas = world.afas
    statuses: dict[str, list[int]] = {"first": [], "second": []}

    def approve_all(which: str) -> None:
        for item in world.admin.approvals.pending(world.office):
            answer = call(
                world.admin,
                approval_routes.APPROVE,
                headers=admin_headers(world.office),
                route={"approvalId": item.approval_id},
            )
            statuses[which].append(answer.status)

    def after() -> None:
        prepared = world.admin.approvals.pending(world.office)
        assert len(prepared) == 4, prepared
        if step == "post":
            for path in AFAS_PATHS["post"]:
                afas.throttle(path, status=503, retry_after=7200, times=100)
        else:
            afas.maintenance = 7200
        approve_all("first")
        afas.maintenance = None
        with afas.lock:
            afas.faults.clear()
        for item in prepared:
            now = world.admin.approvals.get(world.office, item.approval_id)
            assert now is not None and now.state is ApprovalState.APPROVING, now
        for client_id, name, kind in STANDARD_CLIENTS:
            base = PROFIT_MAPPING if kind == "profit" else SB_MAPPING
            changed = {**base, "accounts": {**base["accounts"], **CHANGED_ACCOUNTS}}
            loket_id = loket_administration_id(world, name)
            answer = put_client(world, client_id, loket_id, kind, mapping=changed, mode="review")
            assert answer.status == 200, answer.body
        world.clock.advance(timedelta(days=1))
        run_id = world.nightly()
        world.drain(timeout=60)
        assert afas.profit_entries() == [] and afas.sb_bookings() == [], "booked unapproved"
        again = world.admin.approvals.pending(world.office)
        assert {i.approval_id for i in again} == {i.approval_id for i in prepared}
        before = {i.approval_id: i.prepared.fingerprint for i in prepared}
        assert all(i.prepared.fingerprint != before[i.approval_id] for i in again)
        messages = world.admin.run_details.messages(world.office, run_id)
        assert sum(m.code == "changed-since-approval" and bool(m.hint) for m in messages) == 4
        approve_all("second")

    def verify() -> None:
        assert statuses == {"first": [503] * 4, "second": [200] * 4}, statuses
        accounts = {ln.account for e in afas.profit_entries() for ln in e.lines}
        accounts |= {account for b in afas.sb_bookings() for account, *_ in b.lines}
        assert accounts and not accounts & {"1710", "1720"}, accounts  # the changed mapping

    return Injected(after=after, verify=verify)


@dataclass
class Reconsent:
    """An admin consents again (Loket or AFAS SB) while a worker's token refresh is in flight: the
    provider has answered the old chain's refresh (rotated it), and before that answer reaches
    the worker the new consent is stored. ``arm`` it per provider; each armed re-consent happens
    during the next refresh of that provider (the world's ``refresh_hook``)."""

    world: FaultWorld
    pending: Counter[str] = field(default_factory=Counter)
    done: Counter[str] = field(default_factory=Counter)
    consented: dict[str, StoredSecrets] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def arm(self, provider: str) -> None:
        with self._lock:
            self.pending[provider] += 1

    def disarm(self) -> None:
        with self._lock:
            self.pending.clear()

    def key(self, provider: str) -> ConnectionKey:
        if provider == "loket":
            return ConnectionKey(self.world.office, ConnectionKind.LOKET)
        return ConnectionKey(self.world.office, ConnectionKind.AFAS_SB, "enyoi")

    def __call__(self, provider: str, refresh: Callable[[], TokenSet]) -> TokenSet:
        answer = refresh()  # the provider has spent the old refresh token
        with self._lock:
            due = self.pending[provider] > 0
            if due:
                self.pending[provider] -= 1
        if due:
            self._consent(provider)
        return answer

    def _consent(self, provider: str) -> None:
        world = self.world
        try:
            if provider == "loket":
                connect_loket(world.admin, world.office, user_id="reconsenting-admin")
            else:
                connect_sb(world.admin, world.office)
        except Exception as exc:  # a harness failure must fail the cell, not hide in a retry
            log.exception("re-consent failed")
            self.errors.append(f"{provider}: {type(exc).__name__}: {exc}")
            return
        stored = world.admin.connections.read_secrets(self.key(provider))
        with self._lock:
            self.done[provider] += 1
            if stored is not None:
                self.consented[provider] = stored


def _reconsent_refresh(world: FaultWorld, step: str) -> Injected:
    """The refresh race of the step (every worker needs a new token at once), and while the one
    refresh is in flight an admin consents again: the new consent is kept (never overwritten by
    the old chain's rotated tokens, never marked reauthorize), every worker goes on with it."""
    injected = _refresh_race(world, step)
    provider = "sb" if step in AFAS_PATHS else "loket"
    reconsent = Reconsent(world)
    reconsent.arm(provider)
    world.refresh_hook = reconsent
    key = reconsent.key(provider)
    before = world.admin.connections.read_secrets(key)
    assert before is not None

    def verify() -> None:
        assert not reconsent.errors, reconsent.errors
        assert reconsent.done[provider] == 1, "no refresh was in flight to re-consent during"
        consented = reconsent.consented[provider]
        now = world.admin.connections.read_secrets(key)
        assert now is not None
        assert consented.connection.consent_id != before.connection.consent_id
        assert now.connection.consent_id == consented.connection.consent_id
        assert not now.connection.needs_reauthorization, now.connection.reason
        assert now.refresh_token == consented.refresh_token  # not the old chain's rotation
        assert now.access_token == consented.access_token

    injected.verify = verify
    return injected


@dataclass
class Twins:
    """Two clients sharing a Loket payroll administration and an AFAS administration: the first
    client's job (a standard client) runs to ``step`` and waits there; its twin's job, held back
    until then, runs meanwhile, and when that delivery ends (it booked, or met the first one's
    live claim) the first goes on."""

    step: str
    twin_of: dict[str, str]
    timeout: float = 5.0
    met: int = 0
    _at_step: dict[str, threading.Event] = field(default_factory=dict)
    _ended: dict[str, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _event(self, events: dict[str, threading.Event], client: str) -> threading.Event:
        with self._lock:
            return events.setdefault(client, threading.Event())

    def __call__(self, at: str, delivery: Delivery | None) -> None:
        if delivery is None:
            return
        client = delivery.job.client_id
        first = self.twin_of.get(client)
        if first is not None:  # the twin
            if at == "deliver":
                self._event(self._at_step, first).wait(self.timeout)
            elif at == "end":
                self._event(self._ended, first).set()
            return
        if at != self.step or client not in self.twin_of.values():
            return
        at_step = self._event(self._at_step, client)
        if at_step.is_set():
            return  # once per client
        at_step.set()
        if self._event(self._ended, client).wait(self.timeout):
            with self._lock:
                self.met += 1


def _shared_administration(world: FaultWorld, step: str) -> Injected:
    """Two more clients, each on the Loket payroll administration and the AFAS administration of
    a standard client (Profit 4711, SB 5120), so their journal runs share the ledger rows. Their
    jobs overlap at the step: each run is booked once, reported imported by the client that
    booked it and "already booked" (or, once Loket says exported, nothing) by the other."""
    add_clients(world, TWINS)
    world.concurrency = 5  # every job at once: the twins meet
    world.retry_delay = 0.5  # a twin that met a live claim comes back after the post is done
    twins = Twins(SHARED_AT[step], TWIN_OF)
    world.hook = twins

    def verify() -> None:
        assert twins.met == len(TWINS), f"the twins met {twins.met} times"

    return Injected(verify=verify, expect=(4, 3, 0, 1))


# -- the soak: random faults at random steps ------------------------------------------------------

# The matrix's faults (a killed host is the matrix's slow cells only) and a dropped answer.
# The matrix's faults and a dropped answer. Not random: a killed host (the matrix's slow cells
# only), an approval in maintenance (review mode: the soak's clients book automatically, nobody
# approves) and a shared administration (configuration: the soak has clients that share one).
NOT_RANDOM = ("host_killed", "approve_503", "shared_administration")
SOAK_FAULTS = (*(f for f in FAULTS if f not in NOT_RANDOM), "book_then_drop")
NEXT_STEP = {arm: step for step, arm in ARM_AT.items()}  # checkpoint -> the step that follows
# A worker may also die with a post recorded in the ledger but not sent ("posting").
CRASH_POINTS = frozenset(DONE_AT.values()) | {"start", "posting"}


@dataclass
class Chaos:
    """Random faults for the soak. Whether (and which) fault strikes is a function of the seed
    and the delivery (run, client, dequeue count, checkpoint, visit), never of thread timing:
    the same seed injects the same faults into the same deliveries. (Which job consumes a
    sandbox fault first can still depend on timing when jobs run side by side;
    ``SOAK_CONCURRENCY=1`` replays exactly.)"""

    world: FaultWorld
    seed: int
    rate: float  # chance that a fault strikes at a checkpoint
    kinds: dict[str, str]  # client id -> "profit" | "sb"
    administrations: dict[str, str]  # client id -> Loket payroll administration id
    enabled: bool = True
    injected: Counter[str] = field(default_factory=Counter)
    reconsent: Reconsent = field(init=False)
    _visits: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        # Re-consents happen during the next token refresh after they are armed.
        self.reconsent = Reconsent(self.world)
        self.world.refresh_hook = self.reconsent

    def calm(self) -> None:
        """The weather clears: no more faults, none left armed."""
        self.enabled = False
        self.reconsent.disarm()
        self.world.loket.clear_faults()
        with self.world.afas.lock:
            self.world.afas.faults.clear()

    def __call__(self, at: str, delivery: Delivery | None) -> None:
        if not self.enabled or delivery is None:
            return
        job = delivery.job
        where = f"{self.seed}|{job.run_id}|{job.client_id}|{delivery.dequeue_count}|{at}"
        with self._lock:
            self._visits[where] += 1
            visit = self._visits[where]
        rng = random.Random(f"{where}|{visit}")
        if at == "deliver":
            if delivery.dequeue_count == 1 and rng.random() < self.rate / 2:
                self._count("duplicate")
                self.world.admin.storage.queue(SYNC_QUEUE).send_message(job.to_json())
            return
        if at not in CRASH_POINTS and at not in NEXT_STEP:
            return
        if rng.random() >= self.rate:
            return
        step = NEXT_STEP.get(at)
        options = [
            f for f in SOAK_FAULTS if f != "duplicate" and self._applies(step, f, job.client_id)
        ]
        if at in CRASH_POINTS:
            options.append("crash")
        if not options:
            return
        fault = rng.choice(sorted(set(options)))
        self._count(fault)
        if fault == "crash":
            raise WorkerKilled(f"soak: killed after {at}")
        assert step is not None
        self._apply(step, fault, job.client_id, rng)

    def _count(self, fault: str) -> None:
        with self._lock:
            self.injected[fault] += 1

    def _applies(self, step: str | None, fault: str, client_id: str) -> bool:
        if step is None or fault == "crash":
            return False
        if fault == "book_then_drop":
            fault = "book_then_fail"
        if fault in ("refresh_race", "reconsent_refresh") and step in AFAS_PATHS:
            return self.kinds[client_id] == "sb"  # Profit tokens do not expire
        if fault == "journal_changed" and self.kinds[client_id] != "profit":
            return False  # SB has no journals
        return skip_reason(step, fault) is None

    def _apply(self, step: str, fault: str, client_id: str, rng: random.Random) -> None:
        world, t = self.world, self.world.timeouts
        if fault in ("refresh_race", "reconsent_refresh"):
            # Tokens expire under the feet of every worker at once: all of them need a new one
            # (and an admin consents again while the refresh is in flight).
            if step in AFAS_PATHS:
                world.afas.expire_sb_access_tokens()
            else:
                world.loket.expire_access_tokens()
            if fault == "reconsent_refresh":
                self.reconsent.arm("sb" if step in AFAS_PATHS else "loket")
            return
        if fault in ("empty_201", "lookup_fails", "journal_changed"):
            self._apply_post(fault, client_id, rng)
            return
        if step in LOKET_ROUTE:
            tries = rng.randint(1, t.loket_tries)  # absorbed by the client, or not
            where = LOKET_ROUTE[step]
            method = "PATCH" if step == "mark" else "GET"
            if step == "list":
                where = f"/payrolladministrations/{self.administrations[client_id]}/journalruns"
            if fault == "loket_429":
                world.loket.rate_limit(where, retry_after=0, times=tries, method=method)
            elif fault == "loket_5xx":
                world.loket.fail(where, rng.choice([500, 502, 503]), times=tries, method=method)
            else:
                world.loket.slow(where, slow_seconds(world), times=tries, method=method)
            return
        profit, sb = AFAS_PATHS[step]
        path = profit if self.kinds[client_id] == "profit" else sb
        tries = rng.randint(1, t.afas_attempts)
        if fault == "afas_429":
            world.afas.throttle(path, status=429, retry_after=0, times=tries)
        elif fault == "afas_5xx":
            world.afas.throttle(
                path, status=rng.choice([502, 503, 504]), retry_after=0, times=tries
            )
        elif fault == "timeout":
            world.afas.slow(
                path, seconds=slow_seconds(world, step), times=1 if step == "post" else tries
            )
        elif fault == "book_then_fail":
            world.afas.book_then_fail(path, status=500 if path == profit else 503)
        elif fault == "book_then_drop":
            world.afas.book_then_drop(path)

    def _apply_post(self, fault: str, client_id: str, rng: random.Random) -> None:
        """The faults of issue 15 at the post of ``client_id``."""
        world, t = self.world, self.world.timeouts
        profit = self.kinds[client_id] == "profit"
        path = PROFIT_POST if profit else SB_POST
        if fault == "empty_201":
            body = "" if profit else rng.choice(["", "Created", "<html><body>OK</body></html>"])
            status = 201 if profit else 200
            world.afas.inject(
                Fault(FaultKind.BOOK_THEN_BODY, path, method="POST", status=status, message=body)
            )
        elif fault == "lookup_fails":
            world.afas.book_then_drop(path)
            if not profit:
                world.afas.throttle(
                    path, status=503, retry_after=0, times=sb_failing_delivery(world)
                )
                return
            status = rng.choice([500, 503, 401])
            if status == 401:
                world.afas.inject(profit_401("Profit_Transactions"))
            else:
                world.afas.inject(
                    Fault(
                        FaultKind.STATUS,
                        "Profit_Transactions",
                        method="GET",
                        status=status,
                        times=t.afas_attempts,
                    )
                )
        elif fault == "journal_changed":
            # The post is answered late, and the admin moves the client to the other journal.
            world.afas.slow(path, seconds=slow_seconds(world, "post"))
            config = world.admin.clients.get(world.office, client_id)
            journal = getattr(config.target, "journal", "80") if config else "80"
            other = SECOND_JOURNAL[0] if journal != SECOND_JOURNAL[0] else "80"
            answer = put_client(
                world, client_id, self.administrations[client_id], "profit", journal=other
            )
            if answer.status != 200:  # e.g. an injected AFAS fault met the live validation
                log.warning("soak: journal change of %s refused: %s", client_id, answer.body)
                self._count("journal_change_refused")
