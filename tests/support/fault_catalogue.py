"""The fault catalogue: the steps of a sync job, the faults, which fault applies to which step,
and how each is injected into a :class:`~tests.support.fault_world.FaultWorld`. Shared by the
fault matrix (every step x fault once) and the soak (random faults at random steps).

A step's *call* follows the checkpoint of the step before it (``ARM_AT``); a crash *in* a step
is the worker dying right after it (``DONE_AT``, the worker's own checkpoint names).
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from shared.sync.messages import SYNC_QUEUE
from tests.support.fault_world import Delivery, FaultWorld, Hook, WorkerKilled

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
    if fault == "book_then_fail" and step != "post":
        return "only the post books anything in AFAS"
    if fault == "refresh_race" and step == "record":
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


def slow_seconds(world: FaultWorld, step: str = "") -> float:
    """Beyond the read timeout. A post is answered late but lands within the re-post quiet
    period (twice the post timeout, shared.sync.targets.repost_quiet_period): AFAS slower than
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
    at the same moment: exactly one refresh (a rotated refresh token is never sent twice)."""
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


# -- the soak: random faults at random steps ------------------------------------------------------

# The matrix's faults (a killed host is the matrix's slow cells only) and a dropped answer.
SOAK_FAULTS = (*(f for f in FAULTS if f != "host_killed"), "book_then_drop")
NEXT_STEP = {arm: step for step, arm in ARM_AT.items()}  # checkpoint -> the step that follows
CRASH_POINTS = frozenset(DONE_AT.values()) | {"start"}


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
    _visits: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)

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
        if fault == "refresh_race" and step in AFAS_PATHS:
            return self.kinds[client_id] == "sb"  # Profit tokens do not expire
        return skip_reason(step, fault) is None

    def _apply(self, step: str, fault: str, client_id: str, rng: random.Random) -> None:
        world, t = self.world, self.world.timeouts
        if fault == "refresh_race":
            # Tokens expire under the feet of every worker at once: all of them need a new one.
            if step in AFAS_PATHS:
                world.afas.expire_sb_access_tokens()
            else:
                world.loket.expire_access_tokens()
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
