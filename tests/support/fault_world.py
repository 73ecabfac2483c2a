"""An in-process world for the fault matrix and the soak: Azurite, the Loket and AFAS sandboxes,
one connected office with clients, the real planner, and worker "processes" that take sync jobs
from the real ``sync-jobs`` queue in Azurite with the Functions host's queue semantics.

* :class:`WorkerProcess` is one Functions worker process: its own :class:`Services` (token
  memory, chart cache, HTTP sessions), clients with short (connect, read) timeouts and fast
  backoff, and the fault-injection seam ``WorkerDeps.checkpoint`` wired to the world's hook.
* Two more seams, in the worker processes only: ``posting`` is a checkpoint right after the
  booking ledger recorded a post and before it is sent (:class:`CheckpointedLedger`), and every
  token refresh passes ``FaultWorld.refresh_hook`` (Loket and AFAS SB), which may hold the
  provider's answer, e.g. while an admin consents again.
* :meth:`FaultWorld.drain` is the queue: it receives messages (a lease per message), runs up to
  ``concurrency`` of them at once on the worker processes, deletes a message whose function
  returned, makes a failed one visible again after ``retry_delay`` (host.json
  ``visibilityTimeout``), moves it to ``sync-jobs-poison`` after ``MAX_DEQUEUE`` deliveries and runs
  the poison handler. A worker killed at a checkpoint (:class:`WorkerKilled`) settles nothing: its
  message comes back when the lease runs out (``kill_lease``) and the process starts afresh.
* The planner's messages are kept and sent in client order (optionally each one twice), so a
  cell is reproducible.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any

from azure.storage.queue import QueueMessage

from devtools.azurite import Azurite
from devtools.sandbox.afas import (
    PROFIT_TOKEN,
    SB_ADMINISTRATION_ID,
    AfasSandbox,
    AfasScenario,
    start_afas_sandbox,
)
from devtools.sandbox.afas import default_scenario as afas_default
from devtools.sandbox.loket import LoketSandbox, Scenario, sandbox_id, start_loket_sandbox
from devtools.sandbox.loket import default_scenario as loket_default
from shared.afas.environment import (
    ProfitEnvironment,
    SbLocation,
    parse_sb_environment,
    profit_base_url,
)
from shared.afas.oauth import SbOAuth
from shared.afas.profit import ProfitClient
from shared.afas.retry import RetryPolicy
from shared.afas.sb import SbClient
from shared.api.handlers import afas_connections
from shared.api.handlers import clients as client_routes
from shared.bootstrap import Services
from shared.clock import utc_now
from shared.loket.client import LoketClient
from shared.loket.oauth import ConnectionTokens, LoketOAuth
from shared.oauth.tokens import TokenSet
from shared.secret import Secret
from shared.settings import Settings
from shared.store.bookings import BookingLedger
from shared.store.connections import ConnectionKey, ConnectionKind
from shared.store.storage import Storage
from shared.sync import entrypoints
from shared.sync.booking import BookingPolicy
from shared.sync.deps import WorkerDeps
from shared.sync.ledger import Booking
from shared.sync.ledger import State as BookingState
from shared.sync.messages import SYNC_POISON_QUEUE, SYNC_QUEUE, SyncJob
from shared.sync.planner import nightly_business_date
from tests.conftest import base_env
from tests.support.afas_fixtures import call, connect_sb
from tests.support.api import admin_headers
from tests.support.invariants import Expectation, Report, check, snapshot
from tests.support.loket_fixtures import connect_loket
from tests.support.sync_world import PROFIT_MAPPING, SB_MAPPING

log = logging.getLogger("tests.faults")

MAX_DEQUEUE = 5  # host.json maxDequeueCount
LEASE = 60  # seconds a received message stays invisible while its function runs

# The standard clients of a cell (the default Loket scenario): one Profit client with one ready
# run (plus a test-year run), two SB clients: one with a ready and a ready-but-empty run, one
# with an export-failed and a ready run.
STANDARD_CLIENTS: tuple[tuple[str, str, str], ...] = (
    ("4711", "Korenschoof maandloners", "profit"),
    ("4712", "Korenschoof 4-wekers", "sb"),
    ("5120", "Van Dijk installatie", "sb"),
)


class WorkerKilled(BaseException):
    """The worker process died at a checkpoint: nothing after it ran, nothing was settled.
    A BaseException, so no ``except Exception`` in our code can swallow the death."""


class SimClock:
    """Real time plus an offset the test can move forward (days between nightlies, expired
    leases and tokens). Thread-safe; always aware."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            offset = self._offset
        return utc_now() + offset

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


@dataclass(frozen=True)
class Timeouts:
    """Client settings for the worker processes: short timeouts, fast backoff, few tries."""

    connect: float = 1.0
    read: float = 0.4
    loket_tries: int = 3
    afas_attempts: int = 3
    profit_post_attempts: int = 3
    # How long the Profit sandbox may go on processing a post after the client gave up (AFAS:
    # 900 s); scaled like the read timeout unless a cell says otherwise.
    afas_server: float | None = None

    @property
    def afas_retry(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.afas_attempts,
            base_delay=0.01,
            max_delay=0.05,
            max_retry_after=2,
            budget=5,
        )


@dataclass
class Delivery:
    """What the current thread is doing (the checkpoint hook reads it)."""

    job: SyncJob
    dequeue_count: int
    slot: int
    message_id: str


_current = threading.local()


def current_delivery() -> Delivery | None:
    return getattr(_current, "delivery", None)


Hook = Callable[[str, Delivery | None], None]
# (provider "loket" | "sb", the real refresh) -> what the caller gets; may hold the answer.
RefreshHook = Callable[[str, Callable[[], TokenSet]], TokenSet]


def _pass(provider: str, refresh: Callable[[], TokenSet]) -> TokenSet:
    return refresh()


class HookedLoketOAuth(LoketOAuth):
    """Loket's token endpoint with the world's refresh hook in front of every refresh."""

    hook: Callable[[], RefreshHook] = staticmethod(lambda: _pass)

    def refresh(self, refresh_token: Secret) -> TokenSet:
        return self.hook()("loket", lambda: super(HookedLoketOAuth, self).refresh(refresh_token))


class HookedSbOAuth(SbOAuth):
    """AFAS SB's token endpoints with the world's refresh hook in front of every refresh."""

    hook: Callable[[], RefreshHook] = staticmethod(lambda: _pass)

    def refresh(self, location: SbLocation | str, refresh_token: Secret) -> TokenSet:
        real = super().refresh
        return self.hook()("sb", lambda: real(location, refresh_token))


class CheckpointedLedger(BookingLedger):
    """The booking ledger of a worker process: ``posting`` is a checkpoint right after a post
    was recorded (a live claim, the request not sent yet)."""

    def __init__(self, storage: Storage, checkpoint: Callable[[str], None]) -> None:
        super().__init__(storage)
        self._checkpoint = checkpoint

    def save(self, row: Booking) -> Booking:
        saved = super().save(row)
        if saved.state is BookingState.POSTED:
            self._checkpoint("posting")
        return saved

    def insert(self, row: Booking) -> Booking:
        inserted = super().insert(row)  # a first claim that posts at once (ledger.first_post)
        if inserted.state is BookingState.POSTED:
            self._checkpoint("posting")
        return inserted


class WorkerProcess(Services):
    """One Functions worker process (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: SimClock,
        timeouts: Timeouts,
        hook: Callable[[], Hook],
        refresh_hook: Callable[[], RefreshHook],
    ) -> None:
        super().__init__(settings, clock=clock)
        self.timeouts = timeouts
        self._hook = hook
        self._refresh_hook = refresh_hook
        self.pid = uuid.uuid4().hex[:6]

    def checkpoint(self, step: str) -> None:
        self._hook()(step, current_delivery())

    @cached_property
    def bookings(self) -> BookingLedger:
        return CheckpointedLedger(self.storage, self.checkpoint)

    @cached_property
    def loket_oauth(self) -> LoketOAuth:
        s = self.settings
        oauth = HookedLoketOAuth(
            s.loket_auth_url, s.loket_client_id or "", s.loket_client_secret, clock=self.clock
        )
        oauth.hook = self._refresh_hook
        return oauth

    @cached_property
    def sb_oauth(self) -> SbOAuth:
        s = self.settings
        assert s.afas_sb_client_id and s.afas_sb_client_secret is not None
        oauth = HookedSbOAuth(
            s.afas_sb_url,
            client_id=s.afas_sb_client_id,
            client_secret=s.afas_sb_client_secret,
            redirect_uri=s.redirect_uri("afas-sb"),
            clock=self.clock,
        )
        oauth.hook = self._refresh_hook
        return oauth

    def loket_client(self, office_id: str) -> LoketClient:
        self.checkpoint("start")  # the job opens its Loket client before it lists anything
        t = self.timeouts
        return LoketClient(
            self.settings.loket_api_url,
            ConnectionTokens(self.loket_tokens, ConnectionKey(office_id, ConnectionKind.LOKET)),
            session=self.loket_session,
            timeout=(t.connect, t.read),
            max_tries=t.loket_tries,
            backoff=0.01,
            max_backoff=0.05,
            max_retry_after=2.0,
            budget=5.0,
        )

    def new_profit_client(self, environment: ProfitEnvironment, token: Secret) -> ProfitClient:
        t = self.timeouts
        return ProfitClient(
            profit_base_url(self.settings.afas_profit_url, environment),
            token,
            timeout=(t.connect, t.read),
            post_timeout=(t.connect, t.read),
            server_timeout=t.read if t.afas_server is None else t.afas_server,
            retry=t.afas_retry,
            environment=environment.number,
        )

    def sb_client(self, office_id: str, environment: str) -> SbClient:
        name = parse_sb_environment(environment)
        key = ConnectionKey(office_id, ConnectionKind.AFAS_SB, name)
        t = self.timeouts
        return SbClient(
            self.sb_oauth.environment_url(name),
            self.sb_tokens(name),
            key,
            timeout=(t.connect, t.read),
            retry=t.afas_retry,
        )

    @cached_property
    def worker_deps(self) -> WorkerDeps:
        """The app's worker dependencies, with the fault-injection seam wired to the world."""
        policy = BookingPolicy(posts_per_call=self.timeouts.profit_post_attempts, settle_pause=0.02)
        return dataclasses.replace(super().worker_deps, checkpoint=self.checkpoint, booking=policy)


class PlannerServices(Services):
    """The timer's process: its planner's messages are kept, the world sends them."""

    def __init__(self, settings: Settings, *, clock: SimClock) -> None:
        super().__init__(settings, clock=clock)
        self.outbox: list[str] = []

    def enqueue_sync_job(self, body: str) -> None:
        self.outbox.append(body)


@dataclass
class DrainStats:
    deliveries: int = 0
    succeeded: int = 0
    retried: int = 0
    killed: int = 0
    poisoned: int = 0
    poison_handled: int = 0
    errors: Counter[str] = field(default_factory=Counter)  # exception type -> count


@dataclass
class FaultWorld:
    azurite: Azurite
    loket: LoketSandbox
    afas: AfasSandbox
    settings: Settings
    clock: SimClock
    admin: PlannerServices
    office: str
    timeouts: Timeouts
    concurrency: int = 3  # host.json batchSize 8 + newBatchThreshold 4 is 12; 3 jobs here
    retry_delay: float = 0.1  # host.json visibilityTimeout, scaled like the client timeouts
    kill_lease: float = 0.2  # how long a dead worker's message stays invisible
    duplicate: bool = False  # send every planned message twice (a replayed planner chunk)
    expectation: Expectation = field(init=False)
    processes: list[WorkerProcess] = field(default_factory=list)
    hook: Hook = field(default=lambda step, delivery: None)
    refresh_hook: RefreshHook = field(default=_pass)
    stats: DrainStats = field(default_factory=DrainStats)
    run_ids: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.expectation = Expectation(self.office)

    # -- processes ----------------------------------------------------------------------------
    def new_process(self) -> WorkerProcess:
        return WorkerProcess(
            self.settings,
            clock=self.clock,
            timeouts=self.timeouts,
            hook=lambda: self.hook,
            refresh_hook=lambda: self.refresh_hook,
        )

    def process(self, slot: int) -> WorkerProcess:
        while len(self.processes) <= slot:
            self.processes.append(self.new_process())
        return self.processes[slot]

    # -- planning ---------------------------------------------------------------------------
    def nightly(self, *, send: bool = True) -> str:
        """Plan tonight's nightly (the timer), after noting which runs are ready. With
        ``send=False`` the messages stay in ``admin.outbox`` (for :meth:`deliver_now`)."""
        self.expectation.add(snapshot(self.admin, self.loket, self.office))
        # The timer's tick for this office only: Azurite is shared, and the other offices belong
        # to other cells (a tick on another date would plan their nightlies too).
        now = self.clock()
        business = nightly_business_date(now, self.settings.nightly_local_hour)
        run = self.admin.planner.nightly_for_office(self.office, business, now)
        assert run is not None, "the planner planned no nightly for the office"
        self.run_ids.append(run.run_id)
        if send:
            self.send_planned()
        return run.run_id

    def deliver_now(
        self, body: str, *, dequeue_count: int, message_id: str, slot: int = 0
    ) -> BaseException | None:
        """One delivery of ``body`` on worker process ``slot``, outside the queue; answers
        what it raised (a killed process is replaced, as in :meth:`drain`)."""
        job = SyncJob.from_json(body.encode())
        _current.delivery = Delivery(job, dequeue_count, slot, message_id)
        try:
            entrypoints.process_job_message(
                self.process(slot),
                body.encode(),
                dequeue_count=dequeue_count,
                message_id=message_id,
            )
        except WorkerKilled as exc:
            self.processes[slot] = self.new_process()
            return exc
        except Exception as exc:
            return exc
        finally:
            _current.delivery = None
        return None

    def rerun(self, approved_from: date, approved_to: date) -> str:
        run = self.admin.planner.rerun(
            self.office,
            approved_from=approved_from,
            approved_to=approved_to,
            client=None,
            user="fault-matrix",
        )
        self.run_ids.append(run.run_id)
        self.send_planned()
        return run.run_id

    def send_planned(self, *, duplicate: bool | None = None) -> None:
        bodies = sorted(self.admin.outbox, key=lambda b: json.loads(b)["clientId"])
        self.admin.outbox.clear()
        twice = self.duplicate if duplicate is None else duplicate
        queue = self.admin.storage.queue(SYNC_QUEUE)
        for body in bodies:
            for _ in range(2 if twice else 1):
                queue.send_message(body)

    # -- the queue ----------------------------------------------------------------------------
    def drain(self, *, timeout: float = 60.0) -> DrainStats:
        """Work both queues until they are empty (every message processed, poison handled)."""
        queue = self.admin.storage.queue(SYNC_QUEUE)
        poison = self.admin.storage.queue(SYNC_POISON_QUEUE)
        deadline = time.monotonic() + timeout
        free = list(range(self.concurrency))
        running: dict[Future[None], int] = {}
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="fault-worker") as pool:
            while True:
                if time.monotonic() > deadline:
                    raise AssertionError(f"the queues did not drain in {timeout} s: {self.stats}")
                got = 0
                for name, client in ((SYNC_QUEUE, queue), (SYNC_POISON_QUEUE, poison)):
                    if not free:
                        break
                    for message in client.receive_messages(
                        max_messages=len(free), visibility_timeout=LEASE
                    ):
                        slot = free.pop(0)
                        running[pool.submit(self._deliver, name, message, slot)] = slot
                        got += 1
                if running:
                    done, _ = wait(running, timeout=0.05, return_when=FIRST_COMPLETED)
                    for future in done:
                        free.append(running.pop(future))
                        future.result()  # a harness bug must fail the test
                    free.sort()
                    continue
                if got == 0 and _empty(queue) and _empty(poison):
                    return self.stats
                time.sleep(0.02)

    def _deliver(self, name: str, message: QueueMessage, slot: int) -> None:
        client = self.admin.storage.queue(name)
        body = str(message.content)
        dequeue_count = int(message.dequeue_count or 1)
        try:
            job: SyncJob | None = SyncJob.from_json(body.encode())
        except Exception:
            job = None
        worker = self.process(slot)
        _current.delivery = (
            Delivery(job, dequeue_count, slot, str(message.id)) if job is not None else None
        )
        self.stats.deliveries += 1
        try:
            self.hook("deliver", current_delivery())
            if name == SYNC_QUEUE:
                entrypoints.process_job_message(
                    worker, body.encode(), dequeue_count=dequeue_count, message_id=str(message.id)
                )
            else:
                entrypoints.process_poison_message(
                    worker, body.encode(), dequeue_count=dequeue_count
                )
                self.stats.poison_handled += 1
        except WorkerKilled:
            # The process is gone: nothing settles the message; it reappears after the lease.
            self.stats.killed += 1
            self.processes[slot] = self.new_process()
            self._later(self.kill_lease, client, message)
            return
        except Exception as exc:
            self.stats.errors[type(exc).__name__] += 1
            if dequeue_count >= MAX_DEQUEUE:
                self.stats.poisoned += 1
                target = f"{name}-poison"
                self.admin.storage.queue(target).send_message(body)
                client.delete_message(message)
            else:
                self.stats.retried += 1
                self._later(self.retry_delay, client, message)
            return
        finally:
            delivery = current_delivery()
            _current.delivery = None
            self.hook("end", delivery)
        self.stats.succeeded += 1
        client.delete_message(message)

    def _later(self, delay: float, client: Any, message: QueueMessage) -> None:
        """The message becomes visible again after ``delay`` seconds."""
        if delay <= 0:
            client.update_message(message, visibility_timeout=0)
            return
        timer = threading.Timer(delay, client.update_message, (message,), {"visibility_timeout": 0})
        timer.daemon = True
        timer.start()

    # -- the check ----------------------------------------------------------------------------
    def check(self) -> Report:
        return check(self.admin, self.loket, self.afas, self.expectation)

    def assert_invariant(self) -> Report:
        report = self.check()
        assert report.ok, (
            report.summary() + "\n  " + "\n  ".join(report.violations[:60]) + f"\n{self.stats}"
        )
        return report


def _empty(client: Any) -> bool:
    return int(client.get_queue_properties().approximate_message_count or 0) == 0


def client_body(
    world: FaultWorld,
    loket_administration_id: str,
    kind: str,
    *,
    journal: str = "80",
    mapping: dict[str, Any] | None = None,
    mode: str | None = None,
) -> dict[str, Any]:
    """The body of PUT /api/clients/{id} for one of the world's clients."""
    if kind == "profit":
        target: dict[str, Any] = {
            "type": "afas-profit",
            "environment": "12345",
            "administration": 1,
            "journal": journal,
        }
    else:
        target = {
            "type": "afas-sb",
            "environment": "enyoi",
            "administrationId": SB_ADMINISTRATION_ID,
        }
    body: dict[str, Any] = {
        "loketPayrollAdministrationId": loket_administration_id,
        "target": target,
        "mapping": mapping or (PROFIT_MAPPING if kind == "profit" else SB_MAPPING),
    }
    if mode is not None:
        body["mode"] = mode
    return body


def put_client(
    world: FaultWorld, client_id: str, loket_administration_id: str, kind: str, **options: Any
) -> Any:
    """PUT /api/clients/{id} as the office's admin (validated live against Loket and AFAS);
    answers the route's response. ``options``: see :func:`client_body`."""
    return call(
        world.admin,
        client_routes.PUT_CLIENT,
        headers=admin_headers(world.office),
        route={"clientId": client_id},
        body=json.dumps(client_body(world, loket_administration_id, kind, **options)).encode(),
    )


def loket_administration_id(world: FaultWorld, name: str) -> str:
    return next(a.id for a in world.loket.scenario.administrations() if a.name == name)


def add_clients(
    world: FaultWorld, clients: tuple[tuple[str, str, str], ...], **options: Any
) -> None:
    """Configure clients through the real PUT route (validated against Loket and AFAS)."""
    for client_id, administration, kind in clients:
        answer = put_client(
            world, client_id, loket_administration_id(world, administration), kind, **options
        )
        assert answer.status in (200, 201), answer.body


def fresh_ids(scenario: Scenario, salt: str) -> Scenario:
    """The scenario with ids of its own: worlds share Azurite, and the booking ledger is keyed
    by the AFAS administration and the Loket journal run (GUIDs, unique in real life)."""
    for employer in scenario.employers:
        employer.id = sandbox_id(salt, employer.id)
        for administration in employer.administrations:
            administration.id = sandbox_id(salt, administration.id)
            for run in administration.runs:
                run.id = sandbox_id(salt, run.id)
                run.payroll_run_id = sandbox_id(salt, run.payroll_run_id)
    return scenario


@contextmanager
def fault_world(
    azurite: Azurite,
    *,
    seed: int,
    loket: Scenario | None = None,
    afas: AfasScenario | None = None,
    clients: tuple[tuple[str, str, str], ...] = STANDARD_CLIENTS,
    timeouts: Timeouts | None = None,
    **options: Any,
) -> Iterator[FaultWorld]:
    """A connected office with ``clients`` on fresh sandboxes (Azurite is shared: every world
    has its own office, and drains the queues it uses)."""
    random.seed(seed)  # the retry jitter
    salt = uuid.uuid4().hex[:8]
    loket_sandbox = start_loket_sandbox(fresh_ids(loket or loket_default(), salt))
    afas_sandbox = start_afas_sandbox(afas or afas_default())
    try:
        env = {
            **base_env(azurite.connection_string),
            **loket_sandbox.env(),
            **afas_sandbox.settings_env(),
        }
        settings = Settings.from_env(env)
        clock = SimClock()
        admin = PlannerServices(settings, clock=clock)
        office = f"faults-{seed}-{salt}"
        # Azurite is shared by the worlds of one test process, the queues with it: a message an
        # earlier world deferred (invisible for a minute) must not surface in this world's drain
        # or in its "queues empty" check. Worlds run one after another, so emptying is safe.
        for name in (SYNC_QUEUE, SYNC_POISON_QUEUE):
            admin.storage.queue(name).clear_messages()
        connect_loket(admin, office)
        connect_sb(admin, office)
        answer = call(
            admin,
            afas_connections.PROFIT_CONNECT,
            headers=admin_headers(office),
            route={"environment": "O12345AA"},
            body=json.dumps({"token": PROFIT_TOKEN, "active": True}).encode(),
        )
        assert answer.status == 201, answer.body
        world = FaultWorld(
            azurite,
            loket_sandbox,
            afas_sandbox,
            settings,
            clock,
            admin,
            office,
            timeouts or Timeouts(),
            **options,
        )
        add_clients(world, clients)
        yield world
    finally:
        afas_sandbox.stop()
        loket_sandbox.stop()
