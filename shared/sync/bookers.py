"""One AFAS target of a client (Profit administration + journal, or SB administration), behind
one small interface the worker uses: build the entry, pre-check it, book it exactly once.

Facts for the pre-check are read once per job (a job books all ready runs of one client into
one administration) and cached on the target. Profit's journals are not among them: the post
itself is the check (AFAS refuses an unknown or blocked journal), and the journals are read
only to explain such a refusal (:func:`journal_on_refusal`, ``explain_refusal``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar, cast

from shared.afas.errors import AfasError
from shared.afas.models import Period, SbBooking
from shared.afas.profit import ProfitClient
from shared.afas.sb import SbClient, SbEndpointNotGranted
from shared.clients.model import ClientConfig, ProfitTarget, SbTarget
from shared.journal.builder import Draft, EntryT, Source, build_profit_entry, build_sb_entry
from shared.journal.entries import ProfitEntry, SbEntry
from shared.journal.findings import Finding
from shared.journal.identifiers import sb_tracking_identifier
from shared.journal.models import JournalLine, JournalRun, PeriodType
from shared.journal.periods import booking_period
from shared.journal.precheck import (
    PERIOD_CHECK_SKIPPED,
    AccountFact,
    PeriodFact,
    ProfitFacts,
    SbFacts,
    journal_findings,
    precheck_profit,
    precheck_sb,
)
from shared.sync.audit import fingerprint as wire_fingerprint
from shared.sync.ledger import Booking

_T = TypeVar("_T")


@dataclass(frozen=True)
class Booked:
    entry_number: str
    reference: str
    recovered: bool  # the booking was found in AFAS after an unknown outcome, not posted again


def target_key(target: ProfitTarget | SbTarget) -> str:
    """The booking-ledger partition of an AFAS administration (one per administration)."""
    return target.administration_key


class AfasBooker(Protocol[EntryT]):
    """One AFAS administration of a client, as the booking step sees it: books entries of one
    type (``ProfitEntry`` or ``SbEntry``), so a draft never meets the wrong adapter."""

    @property
    def key(self) -> str: ...  # the booking-ledger partition: one per AFAS administration

    @property
    def environment(self) -> str: ...  # shown in the run detail ("AFAS Profit omgeving")

    @property
    def label(self) -> str: ...  # Dutch, e.g. "administratie 1 (O12345AA)"

    @property
    def administration(self) -> str: ...  # Profit UnId / SB administration id (for the ledger)

    @property
    def journal(self) -> str: ...  # Profit journal code; "" for SB

    def draft(self, source: Source) -> Draft[EntryT]: ...

    def precheck(self, draft: Draft[EntryT]) -> list[Finding]: ...

    def reference(
        self, draft: Draft[EntryT], loket_journal_run_id: str, generation: int
    ) -> str: ...  # voucher number (Profit) / Tracking-Identifier (SB) of a new post

    # How long after a post whose outcome stayed unknown AFAS may still book it; None when a post
    # with the same reference replays instead of booking again (SB).
    @property
    def quiet(self) -> timedelta | None: ...

    @property
    def replays(self) -> bool: ...  # SB: a repeated reference answers the first answer again

    def post(self, draft: Draft[EntryT], reference: str) -> str:
        """Send the entry once with ``reference``; the entry number AFAS gave it."""
        ...

    def look_up(self, row: Booking) -> str | None:
        """Profit: the entry number of the ledger row's outstanding post, if AFAS holds it (by
        administration and voucher number, any journal). Not used for a target that replays."""
        ...

    def check(self) -> list[tuple[str, str]]: ...  # configuration problems: (field, Dutch text)

    def explain_refusal(self, detail: str) -> list[Finding]:
        """Findings that say in our own words why AFAS refused a post (``detail``: AFAS's
        message), read from AFAS only now; [] when there is nothing to add to AFAS's message."""
        ...


def journal_on_refusal(detail: str) -> bool:
    """Whether a refused Profit post may be about its journal (dagboek): then the journals are
    read to say which one and why (:meth:`ProfitBooker.explain_refusal`).

    ASSUMPTION [I]: Profit names the journal in its refusal as it names other fields, "De
    ingevulde waarde bij 'Dagboek' bestaat niet." for an unknown one (by analogy with the
    documented "De ingevulde waarde bij 'Rekeningnummer' bestaat niet"), "Dagboek '81' is
    geblokkeerd." for a blocked one; the English UI says "journal". So any refusal that
    mentions the word is taken as one: a false match costs one read of the journals, and a
    journal that turns out fine adds nothing to AFAS's own message."""
    lowered = detail.lower()
    return "dagboek" in lowered or "journal" in lowered


# What the factory (``administrations.booker_of``) answers: a Profit or an SB booker. The entry
# type is bound where it is used: every function that takes a booker and a draft is generic over
# it (``AfasBooker[EntryT]``, ``Draft[EntryT]``), so mypy refuses an SB draft for a Profit booker.
AnyBooker = AfasBooker[Any]


def ledger_administration(row: Booking) -> int:
    """The Profit administration (UnId) of a ledger row: the partition names it
    (``profit|{env}|{UnId}``), whatever the client's configuration says today."""
    return int(row.administration or row.target.rsplit("|", 1)[-1])


def repost_quiet_period(server_timeout: float, post_read_timeout: float) -> timedelta:
    """How long after an unanswered post AFAS may still book it. Published (profit/
    troubleshooting.md): Profit goes on processing a request the client gave up on until its own
    timeout of 900 s. The quiet period is that timeout plus one read timeout of margin (the
    moment the request reached AFAS, clock skew): 900 + 120 s = 17 minutes in production. Until
    then a redelivery only looks the voucher up; the job is deferred to the end of it."""
    return timedelta(seconds=server_timeout + post_read_timeout)


class ChartCache:
    """The chart of accounts of a Profit environment (``Profit_Accounts``: one chart for the
    whole environment, afas-api.md §3.1), kept in this process for ``ttl`` per office and
    environment. Every client of one office booking into the same environment shares it, which saves one AFAS call per job in a nightly; an
    account blocked in the last ``ttl`` still gets AFAS's own refusal and its Dutch hint."""

    def __init__(self, ttl: timedelta = timedelta(minutes=2)) -> None:
        self._ttl = ttl
        self.facts = FactsCache()  # the administrations' facts, per run (same process lifetime)
        self._charts: dict[tuple[str, str], tuple[float, dict[str, AccountFact]]] = {}
        self._lock = threading.Lock()

    def get(
        self, office: str, environment: str, load: Callable[[], dict[str, AccountFact]]
    ) -> dict[str, AccountFact]:
        """The chart of ``environment`` as office ``office``'s connection reads it: keyed by
        office and environment, so two offices with the same environment name (each its own
        token, possibly its own AFAS) never see each other's accounts."""
        key = (office, environment)
        now = time.monotonic()
        with self._lock:
            cached = self._charts.get(key)
        if cached is not None and now - cached[0] < self._ttl.total_seconds():
            return cached[1]
        chart = load()
        with self._lock:
            self._charts[key] = (now, chart)
        return chart


class FactsCache:
    """The AFAS facts a run shares in this process (the chart has :class:`ChartCache`): one
    environment's periods per year (key: office, environment, run id, "periods", year) and an
    administration's allocation assignments (:meth:`ProfitBooker._shared_key`). Every job of
    the run reads them from here; an administration's facts are made from them each time and
    never kept apart, so none is older than what it was made from.

    A fact read before this run began is never used (the run id is in the key: a new run reads
    again), and none is older than ``max_age`` (a long run reads again). What the cache cannot
    see (an account blocked or a period closed after the read) AFAS still refuses at the post,
    and that refusal keeps its Dutch hint (``shared/afas/errors.py``). A failed read is not
    kept. One job reads a key; the others wait for it."""

    def __init__(self, max_age: timedelta = timedelta(minutes=20), max_entries: int = 50_000):
        self._max_age = max_age.total_seconds()
        self._max_entries = max_entries
        self._facts: dict[tuple[object, ...], tuple[float, object]] = {}
        self._loading: dict[tuple[object, ...], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...], load: Callable[[], _T]) -> _T:
        with self._lock:
            found = self._fresh(key)
            if found is not None:
                return cast(_T, found)
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one read per key at a time: the others take its answer
            with self._lock:
                found = self._fresh(key)
            if found is not None:
                return cast(_T, found)
            facts = load()
            with self._lock:
                if len(self._facts) >= self._max_entries:
                    self._evict()
                self._facts[key] = (time.monotonic(), facts)
                self._loading.pop(key, None)
            return facts

    def _fresh(self, key: tuple[object, ...]) -> object | None:
        cached = self._facts.get(key)
        if cached is None or time.monotonic() - cached[0] >= self._max_age:
            return None
        return cached[1]

    def _evict(self) -> None:
        now = time.monotonic()
        for key in [k for k, (at, _) in self._facts.items() if now - at >= self._max_age]:
            del self._facts[key]
        while len(self._facts) >= self._max_entries:
            del self._facts[next(iter(self._facts))]  # the oldest inserted


@dataclass
class ProfitBooker:
    client: ProfitClient
    target: ProfitTarget
    environment_name: str = ""
    charts: ChartCache | None = None
    office: str = ""  # the office whose connection this is (keys the shared chart and facts)
    _facts: dict[tuple[int, ...], ProfitFacts] = field(default_factory=dict)
    # Shared facts for the jobs of one run (set by :func:`for_run`); None: read per target.
    shared: FactsCache | None = None
    shared_scope: tuple[str, str] = ("", "")  # (office, run id)
    _allocations: frozenset[tuple[str, str, str]] | None = None

    @property
    def key(self) -> str:
        return target_key(self.target)

    @property
    def environment(self) -> str:
        return self.environment_name or self.target.environment

    @property
    def label(self) -> str:
        return f"administratie {self.target.administration} ({self.environment})"

    def draft(self, source: Source) -> Draft[ProfitEntry]:
        year = booking_period(
            source.run.period, source.period_type, source.mapping.period_rule
        ).year
        facts = self.facts((year,))
        axes = {number: fact.required_axes for number, fact in facts.accounts.items()}
        return build_profit_entry(
            replace(source, axes_by_account=axes),
            environment=self.target.environment,
            administration=self.target.administration,
            journal=self.target.journal,
        )

    def facts(self, years: tuple[int, ...]) -> ProfitFacts:
        cached = self._facts.get(years)
        if cached is not None:
            return cached
        # Not kept in the run's cache itself: it is made from what is (the environment's
        # periods, the chart), so it is never older than they are.
        facts = self._facts[years] = self._read_facts(years)
        return facts

    def _shared_key(self, what: object) -> tuple[object, ...]:
        """The key of this target's own facts in the run's :class:`FactsCache` (its allocation
        assignments): office, environment, administration, journal (two clients on one
        administration with different journals never share them), run id and what is read."""
        office, run = self.shared_scope
        target = self.target
        return (office, target.environment, target.administration, target.journal, run, what)

    def _read_facts(self, years: tuple[int, ...]) -> ProfitFacts:
        adm = self.target.administration

        def load_chart() -> dict[str, AccountFact]:
            return {
                a.number: AccountFact(
                    blocked=a.blocked,
                    required_axes=frozenset(a.required_axes),
                    description=a.description,
                    axis_codes=dict(a.axes),
                )
                for a in self.client.list_accounts()
            }

        if self.charts is not None:
            accounts = self.charts.get(self.office, self.target.environment, load_chart)
        else:
            accounts = load_chart()
        # "Blocked periods per administration": a row closes a period only when it says Blocked.
        periods: dict[tuple[int, int], PeriodFact] = {}
        for year in years:
            for p in self._periods(year):
                periods[(p.year, p.period)] = PeriodFact(p.start, p.end, p.blocked)
        return ProfitFacts(
            administration=adm,
            # Not read before the post (one AFAS call per job less): AFAS refuses an unknown or
            # blocked journal, and :meth:`explain_refusal` reads the journals to say so.
            journal_exists=True,
            journal_blocked=False,
            accounts=accounts,
            periods=periods,
            allocations=None,  # read only for an entry with allocation codes (precheck)
            environment_label=self.environment,
        )

    def _periods(self, year: int) -> tuple[Period, ...]:
        """The periods of ``year`` of this administration. In a run (shared facts), read for
        every administration of the environment, once per office, environment and run, and
        shared by every job booking into any of them (one AFAS call per environment instead of
        one per administration, issue 18); another administration's malformed row fails only
        that administration's jobs. Alone: this administration's."""
        if self.shared is None:
            return tuple(self.client.list_periods(self.target.administration, year=year))
        office, run = self.shared_scope
        key = (office, self.target.environment, run, "periods", year)
        every = self.shared.get(key, lambda: self.client.environment_periods(year))
        return every.of(self.target.administration)

    def precheck(self, draft: Draft[ProfitEntry]) -> list[Finding]:
        facts = self.facts((draft.entry.year,))
        if any(line.dimensions for line in draft.entry.lines):
            facts = replace(facts, allocations=self.allocations())
        return precheck_profit(draft.entry, facts, journal=self.target.journal)

    def allocations(self) -> frozenset[tuple[str, str, str]]:
        """The administration's allocation assignments (account, axis, code): read only when an
        entry carries allocation codes (an entry without any has nothing to check against them),
        once per run like the other facts."""
        if self._allocations is None:
            if self.shared is not None:
                key = self._shared_key("alloc")
                self._allocations = self.shared.get(key, self._read_allocations)
            else:
                self._allocations = self._read_allocations()
        return self._allocations

    def _read_allocations(self) -> frozenset[tuple[str, str, str]]:
        return frozenset(
            (a.account, a.axis, a.code)
            for a in self.client.list_allocation_assignments(self.target.administration)
        )

    @property
    def administration(self) -> str:
        return str(self.target.administration)

    @property
    def journal(self) -> str:
        return self.target.journal

    def reference(
        self, draft: Draft[ProfitEntry], loket_journal_run_id: str, generation: int
    ) -> str:
        return draft.entry.voucher_number  # the same on every attempt: the look-up finds it

    @property
    def quiet(self) -> timedelta | None:
        return repost_quiet_period(self.client.server_timeout, self.client.post_read_timeout)

    @property
    def replays(self) -> bool:
        return False

    def post(self, draft: Draft[ProfitEntry], reference: str) -> str:
        assert reference == draft.entry.voucher_number
        return str(self.client.post_entry(draft.entry))

    def look_up(self, row: Booking) -> str | None:
        found = self.client.find_entry(ledger_administration(row), row.reference)
        return None if found is None else str(found)

    def explain_refusal(self, detail: str) -> list[Finding]:
        """A refusal about the journal: read the administration's journals (only now, never
        before a post) and say in the pre-check's words which journal is unknown or blocked.
        A failed read adds nothing: AFAS's own message and its hint still stand."""
        if not journal_on_refusal(detail):
            return []
        try:
            journals = {j.code: j for j in self.client.list_journals(self.target.administration)}
        except AfasError:
            return []
        journal = journals.get(self.target.journal)
        return journal_findings(
            self.target.journal,
            f"administratie {self.target.administration} ({self.environment})",
            exists=journal is not None,
            blocked=bool(journal and journal.blocked),
        )

    def check(self) -> list[tuple[str, str]]:
        """Configuration problems (field, Dutch text): the administration and journal exist."""
        target = self.target
        administrations = {a.number: a.name for a in self.client.list_administrations()}
        if target.administration not in administrations:
            known = (
                ", ".join(f"{n} ({name})" for n, name in sorted(administrations.items())) or "geen"
            )
            return [
                (
                    "target.administration",
                    f"administratie {target.administration} bestaat niet in AFAS Profit-omgeving "
                    f"{self.environment}; beschikbaar: {known}",
                )
            ]
        journals = {j.code: j for j in self.client.list_journals(target.administration)}
        journal = journals.get(target.journal)
        if journal is None:
            known = ", ".join(sorted(journals)) or "geen"
            return [
                (
                    "target.journal",
                    f"dagboek {target.journal} bestaat niet in administratie "
                    f"{target.administration}; beschikbaar: {known}",
                )
            ]
        if journal.blocked:
            return [
                (
                    "target.journal",
                    f"dagboek {target.journal} is geblokkeerd in administratie "
                    f"{target.administration}",
                )
            ]
        return []


@dataclass
class SbBooker:
    client: SbClient
    target: SbTarget
    _facts: SbFacts | None = None
    _said_skipped: bool = False

    @property
    def key(self) -> str:
        return target_key(self.target)

    @property
    def environment(self) -> str:
        return self.target.environment

    @property
    def label(self) -> str:
        return f"AFAS SB-omgeving {self.target.environment}"

    def draft(self, source: Source) -> Draft[SbEntry]:
        return build_sb_entry(
            source,
            environment=self.target.environment,
            administration_id=self.target.administration_id,
        )

    def facts(self) -> SbFacts:
        """Ledger accounts (payroll endpoint group: required) and accounting periods (a
        reporting endpoint group a payroll app usually lacks: optional, read only when granted),
        once per job."""
        if self._facts is None:
            adm = self.target.administration_id
            accounts = frozenset(a.number for a in self.client.list_accounts(adm))
            periods: dict[tuple[int, int], PeriodFact] | None
            try:
                periods = {
                    (p.year, p.number): PeriodFact(p.start, p.end, False)
                    for p in self.client.list_periods(adm)
                }
            except SbEndpointNotGranted:
                # troubleshooting.md: 403 per endpoint group. Not a refused token, not a failed
                # booking: the period check is skipped and the pre-check says so once.
                periods = None
            self._facts = SbFacts(accounts=accounts, periods=periods)
        return self._facts

    def precheck(self, draft: Draft[SbEntry]) -> list[Finding]:
        found = precheck_sb(draft.entry, self.facts())
        if self._said_skipped:  # once per job, not once per journal run
            found = [f for f in found if f.code != PERIOD_CHECK_SKIPPED]
        self._said_skipped = self._said_skipped or any(
            f.code == PERIOD_CHECK_SKIPPED for f in found
        )
        return found

    @property
    def administration(self) -> str:
        return self.target.administration_id

    @property
    def journal(self) -> str:
        return ""

    def reference(self, draft: Draft[SbEntry], loket_journal_run_id: str, generation: int) -> str:
        return sb_tracking_identifier(
            loket_journal_run_id,
            environment=self.target.environment,
            administration_id=self.target.administration_id,
            fingerprint=wire_fingerprint(draft.entry),
            generation=generation,
        )

    @property
    def quiet(self) -> timedelta | None:
        return None  # a repeated Tracking-Identifier books nothing

    @property
    def replays(self) -> bool:
        return True

    def post(self, draft: Draft[SbEntry], reference: str) -> str:
        booking: SbBooking = self.client.post_entry(draft.entry, reference)
        return sb_entry_number(booking)

    def look_up(self, row: Booking) -> str | None:
        raise NotImplementedError("SB settles an unknown outcome by replaying the post")

    def explain_refusal(self, detail: str) -> list[Finding]:
        return []  # SB has no journals; its refusal and hint say it all

    def check(self) -> list[tuple[str, str]]:
        """Configuration problems (field, Dutch text): the administration exists. A 403 here is
        not a refused token: the SB app lacks the payroll endpoint group (troubleshooting.md)."""
        try:
            listed = list(self.client.list_administrations())
        except SbEndpointNotGranted:
            return [
                (
                    "target.environment",
                    f"de Loonbrug-app in AFAS SB-omgeving {self.target.environment} mag de "
                    "administraties niet lezen: geef de app in het App Center van AFAS SB toegang "
                    "tot de endpointgroep Loonjournaalpost",
                )
            ]
        administrations = {a.id.lower(): a.description for a in listed}
        if self.target.administration_id.lower() not in administrations:
            known = ", ".join(f"{d} ({i})" for i, d in sorted(administrations.items())) or "geen"
            return [
                (
                    "target.administrationId",
                    f"administratie {self.target.administration_id} bestaat niet in AFAS SB-omgeving "
                    f"{self.target.environment}; beschikbaar: {known}",
                )
            ]
        return []


def prepare(
    target: AfasBooker[EntryT], config: ClientConfig, run: JournalRun, lines: Sequence[JournalLine]
) -> tuple[Draft[EntryT], list[Finding]]:
    """Build the entry for one journal run and pre-check it (when the build itself passed):
    what the worker, an approval and the preview all do before deciding."""
    draft = target.draft(source_for(config, run, lines))
    findings = list(draft.findings)
    if draft.postable:
        findings += target.precheck(draft)
    return draft, findings


def source_for(config: ClientConfig, run: JournalRun, lines: Sequence[JournalLine]) -> Source:
    """What the builder needs to turn one journal run of this client into an entry."""
    try:
        period_type = PeriodType(config.period_type)
    except ValueError:
        period_type = PeriodType.UNKNOWN
    return Source(
        run=run,
        lines=lines,
        mapping=config.mapping,
        period_type=period_type,
        administration_name=config.loket_administration_name or config.name or config.client_id,
        client_id=config.client_id,
        rounding_account=config.rounding.account if config.rounding else None,
        rounding_max=config.rounding.max_difference if config.rounding else Decimal(0),
    )


def sb_entry_number(booking: SbBooking) -> str:
    """The SB entry as a person finds it in AFAS SB: its ``Code``, else its ``Id`` (a GUID), else
    the Tracking-Identifier.

    ASSUMPTION [I]: the ``instances[].Code`` of a payrolljournalentry answer is the entry's code
    as SB shows it to the user (the published answer lists ``Code`` and ``Id`` per instance
    without saying more); the Id stays in the audit copy (afas-response.json)."""
    for code in booking.codes:
        if code and code != "None":
            return code
    return booking.instance_ids[0] if booking.instance_ids else booking.tracking_identifier


def for_run(target: AnyBooker, office_id: str, run_id: str) -> AnyBooker:
    """The target as the jobs of run ``run_id`` use it: a Profit target shares the facts of its
    administration with the other jobs of that run in this process (its own cache, if set)."""
    if isinstance(target, ProfitBooker) and target.charts is not None:
        return replace(
            target,
            shared=target.charts.facts,
            shared_scope=(office_id, run_id),
            office=target.office or office_id,
        )
    return target
