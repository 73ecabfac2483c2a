"""Saving a client configuration (validated against the live systems) and previewing an entry.

Validation reads, in order: the Loket payroll administration through the office's consent, the
AFAS connection (exists, active, consented), and the AFAS administration (+ journal for Profit).
Every problem is a field error with a Dutch explanation; nothing is stored unless all pass.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.afas.environment import InputError, parse_profit_environment, parse_sb_environment
from shared.afas.errors import Disposition
from shared.afas.oauth import SbNotConfigured
from shared.api.http import FieldError, Problem, validation_failed
from shared.api.schemas import ClientIn, ProfitTargetIn
from shared.clients.model import BookingMode, ClientConfig, ProfitTarget, Rounding, SbTarget, Target
from shared.failures import Failure, classify
from shared.journal.builder import Draft
from shared.journal.entries import ProfitEntry, SbEntry
from shared.journal.findings import Finding
from shared.journal.mapping import CostCenterRule, JournalMapping, template_problems
from shared.journal.models import JournalRun
from shared.journal.periods import PeriodRule
from shared.loket.client import LoketClient
from shared.loket.errors import LoketNotFound
from shared.oauth.tokens import NotConnected
from shared.store.bookings import BookingRepository
from shared.store.clients import ClientRepository, MappingTooLarge
from shared.store.connections import ConnectionRepository, ConnectionState
from shared.store.tables import ConcurrencyConflict
from shared.sync.ledger import State, may_be_in_afas
from shared.sync.targets import Target as LedgerTarget
from shared.sync.targets import prepare, target_key


def unavailable(system: str) -> Problem:
    return Problem(
        503,
        "upstream-unavailable",
        "Upstream unavailable",
        f"{system} reageert nu niet, daardoor kon de configuratie niet worden gecontroleerd. "
        "Er is niets opgeslagen.",
        hint="Probeer het over een paar minuten opnieuw.",
    )


def target_of(body: ClientIn) -> Target:
    """The target with its environment as the connection stores it (Profit: the 5-digit number,
    also when the user typed the name O12345AA; SB: lower case)."""
    t = body.target
    try:
        if isinstance(t, ProfitTargetIn):
            number = parse_profit_environment(t.environment).number
            return ProfitTarget(number, t.administration, t.journal)
        return SbTarget(parse_sb_environment(t.environment), t.administration_id.lower())
    except InputError as exc:
        raise validation_failed([FieldError("target.environment", str(exc))]) from None


def mapping_of(body: ClientIn) -> JournalMapping:
    m = body.mapping
    return JournalMapping(
        accounts=dict(m.accounts),
        fallback_account=m.fallback_account,
        cost_centers=CostCenterRule(m.cost_centers),
        cost_center_axis=m.cost_center_axis,
        cost_unit_axis=m.cost_unit_axis,
        cost_center_map=dict(m.cost_center_map),
        cost_unit_map=dict(m.cost_unit_map),
        description=m.description,
        period_rule=PeriodRule(m.period_rule) if m.period_rule else None,
    )


def _mapping_errors(body: ClientIn) -> list[FieldError]:
    errors = [
        FieldError("mapping.description", p) for p in template_problems(body.mapping.description)
    ]
    m = body.mapping
    if (
        m.cost_unit_axis is not None
        and m.cost_unit_axis == m.cost_center_axis
        and m.cost_centers != "drop"
    ):
        errors.append(
            FieldError("mapping.costUnitAxis", "mag niet dezelfde as zijn als de kostenplaats")
        )
    return errors


@dataclass
class ClientService:
    clients: ClientRepository
    connections: ConnectionRepository
    loket: Callable[[str], AbstractContextManager[LoketClient]]
    ledger_target: Callable[[ClientConfig], LedgerTarget]
    clock: Callable[[], datetime]
    bookings: BookingRepository | None = None
    # AFAS SB: takes an Admin Center's customer environment into use (office, environment, user)
    # so a configuration may name it before it has a connection of its own.
    sb_scope: Callable[[str, str, str], object] | None = None

    def save(
        self, office_id: str, client_id: str, body: ClientIn, *, user: str, if_match: str | None
    ) -> tuple[ClientConfig, bool]:
        existing = self.clients.get(office_id, client_id)
        config = ClientConfig(
            office_id=office_id,
            client_id=client_id,
            loket_administration_id=body.loket_payroll_administration_id.lower(),
            target=target_of(body),
            include_in_sync=body.include_in_sync,
            mode=BookingMode(body.mode),
            mapping=mapping_of(body),
            rounding=Rounding(body.rounding.account, body.rounding.max_difference)
            if body.rounding
            else None,
            name=body.name,
        )
        errors = _mapping_errors(body)
        if existing is not None and _only_switched_off(existing, config):
            if errors:
                raise validation_failed(errors)
            # Switching a client out of the nightly must work even when Loket/AFAS are unhappy.
            config = replace(
                config,
                loket_administration_name=existing.loket_administration_name,
                loket_client_number=existing.loket_client_number,
                loket_employer_name=existing.loket_employer_name,
                period_type=existing.period_type,
            )
        else:
            self._take_sb_scope(config, user)
            config = self._validated(office_id, config, errors)
        if existing is not None:
            self._unsettled_elsewhere(existing, config)
        try:
            return self.clients.save(config, by_user=user, now=self.clock(), if_match=if_match)
        except MappingTooLarge:
            raise validation_failed(
                [
                    FieldError(
                        "mapping",
                        "de transponeringstabellen zijn te groot (maximaal ~30.000 tekens)",
                    )
                ]
            ) from None
        except ConcurrencyConflict:
            raise Problem(
                412,
                "precondition-failed",
                "Precondition failed",
                "De client configuratie is intussen door iemand anders gewijzigd.",
                hint="Laad de configuratie opnieuw en breng uw wijziging opnieuw aan.",
            ) from None

    def _take_sb_scope(self, config: ClientConfig, user: str) -> None:
        if self.sb_scope is None or not isinstance(config.target, SbTarget):
            return
        try:
            self.sb_scope(config.office_id, config.target.environment, user)
        except SbNotConfigured:
            pass  # _target_errors says what is wrong with the connection
        except Exception as exc:
            _classified(exc, "AFAS SB")  # passing trouble: 503; anything else:
            # _target_errors says what is wrong with the connection

    def check(self, office_id: str, client_id: str, body: ClientIn, *, user: str) -> None:
        """Every check of :meth:`save` (mapping, Loket, AFAS) without storing anything: a 422
        with all field errors at once, or nothing (the portal's one round of validation)."""
        config = ClientConfig(
            office_id=office_id,
            client_id=client_id,
            loket_administration_id=body.loket_payroll_administration_id.lower(),
            target=target_of(body),
            mapping=mapping_of(body),
        )
        self._take_sb_scope(config, user)
        self._validated(office_id, config, _mapping_errors(body))

    def problems_beside(
        self, office_id: str, data: Mapping[str, Any], found: list[FieldError], *, user: str
    ) -> list[FieldError]:
        """A body with schema errors (``found``): the live checks of the parts that are readable
        anyway (the Loket administration, the AFAS connection, administration and journal, the
        description's placeholders), so the form shows every problem in one round instead of one
        round per kind. Errors for fields already wrong are left out; when Loket or AFAS is not
        reachable the live checks are left out (the schema errors still come back)."""
        wrong = {e.field for e in found}
        errors: list[FieldError] = []
        try:
            loket_id = data.get("loketPayrollAdministrationId")
            if (
                isinstance(loket_id, str)
                and _UUID.match(loket_id.strip())
                and "loketPayrollAdministrationId" not in wrong
            ):
                self._loket_administration(office_id, loket_id.strip().lower(), errors)
            target = _readable_target(data.get("target"))
            if target is not None and not wrong & {"target", "target.environment", "target.type"}:
                config = ClientConfig(office_id, "", "", target)
                self._take_sb_scope(config, user)
                errors += self._target_errors(config)
        except Problem as problem:
            if problem.status == 503:
                return []
            raise
        mapping = data.get("mapping")
        description = mapping.get("description") if isinstance(mapping, Mapping) else None
        if isinstance(description, str) and "mapping.description" not in wrong:
            errors += [FieldError("mapping.description", p) for p in template_problems(description)]
        return [e for e in errors if e.field not in wrong]

    def _validated(
        self, office_id: str, config: ClientConfig, found: list[FieldError] | None = None
    ) -> ClientConfig:
        errors: list[FieldError] = list(found or [])
        loket_info = self._loket_administration(office_id, config.loket_administration_id, errors)
        errors += self._target_errors(config)
        if errors:
            raise validation_failed(
                errors,
                "De client configuratie is niet opgeslagen: controleer de gemarkeerde velden.",
            )
        assert loket_info is not None
        return replace(config, **loket_info)

    def _loket_administration(
        self, office_id: str, administration_id: str, errors: list[FieldError]
    ) -> dict[str, Any] | None:
        field = "loketPayrollAdministrationId"
        try:
            with self.loket(office_id) as loket:
                administration = loket.get_payroll_administration(administration_id)
        except NotConnected:
            errors.append(
                FieldError(
                    field, "er is nog geen Loket-koppeling; koppel eerst Loket via Koppelingen"
                )
            )
            return None
        except LoketNotFound:
            errors.append(
                FieldError(
                    field,
                    "deze loonadministratie is niet zichtbaar voor de Loket-gebruiker van "
                    "de koppeling (bestaat niet, of de gebruiker heeft geen toegang tot de werkgever)",
                )
            )
            return None
        except Exception as exc:
            failure = _classified(exc, "Loket")
            if failure.disposition is Disposition.RECONSENT:
                text = (
                    "de Loket-koppeling vraagt opnieuw toestemming of mist rechten; "
                    "koppel opnieuw of controleer de rechten van de Loket-gebruiker"
                )
            else:
                text = failure.dutch
            errors.append(FieldError(field, text))
            return None
        return {
            "loket_administration_name": administration.name,
            "loket_client_number": administration.client_number,
            "period_type": administration.period_type.value,
        }

    def _target_errors(self, config: ClientConfig) -> list[FieldError]:
        target = config.target
        key = target.connection(config.office_id)
        connection = self.connections.get(key)
        name = "AFAS Profit" if isinstance(target, ProfitTarget) else "AFAS SB"
        if connection is None:
            return [
                FieldError(
                    "target.environment",
                    f"er is geen {name}-koppeling voor omgeving {key.environment}; "
                    "voeg die eerst toe via Koppelingen",
                )
            ]
        if connection.state is ConnectionState.INACTIVE:
            return [
                FieldError(
                    "target.environment", f"de {name}-koppeling {key.environment} staat op inactief"
                )
            ]
        if connection.state is ConnectionState.REAUTHORIZE:
            return [
                FieldError(
                    "target.environment",
                    f"de {name}-koppeling {key.environment} vraagt opnieuw toestemming",
                )
            ]
        try:
            return [FieldError(f, text) for f, text in self.ledger_target(config).check()]
        except Exception as exc:
            failure = _classified(exc, name)
            if failure.disposition is Disposition.RECONSENT:
                return [
                    FieldError(
                        "target.environment", f"{name} weigert de koppeling: {failure.dutch}"
                    )
                ]
            return [FieldError("target.environment", f"{name}: {failure.dutch}")]

    def delete(self, config: ClientConfig) -> None:
        """Remove a client, unless a booking of it is not finished (see :meth:`_guard_unsettled`):
        a client created again under another administration would book the run there too."""
        self._guard_unsettled(config, "verwijderd")
        self.clients.delete(config.office_id, config.client_id)

    def _unsettled_elsewhere(self, existing: ClientConfig, config: ClientConfig) -> None:
        if target_key(existing.target) != target_key(config.target):
            self._guard_unsettled(existing, "naar een andere AFAS-administratie verplaatst")

    def _guard_unsettled(self, existing: ClientConfig, what: str) -> None:
        """The booking ledger is kept per AFAS administration: a booking of this client in its
        current administration that is not finished (a post is out or being sent, booked but
        Loket not yet told, or partly booked) would not be seen from another one, which could
        book the same journal run again there. Refused (409) until it is finished (the next
        nightly or a rerun finishes it). A journal change is fine: look-ups search every journal."""
        if self.bookings is None:
            return
        open_ = [
            row
            for row in self.bookings.of_client(
                target_key(existing.target), existing.office_id, existing.client_id
            )
            if row.state is not State.MARKED and may_be_in_afas(row, self.clock())
        ]
        if open_:
            raise Problem(
                409,
                "booking-unsettled",
                "Booking unsettled",
                f"Er loopt nog een boeking van deze client in de huidige AFAS-administratie "
                f"({len(open_)} journaalrun(s), boekstuk {open_[0].reference or '—'}) die nog "
                f"niet is afgerond. De client kan pas worden {what} als die boeking is afgerond.",
                hint="Wacht op de volgende nachtelijke run of start een rerun voor deze client; "
                "daarna lukt het wel. Een ander dagboek kiezen kan altijd.",
            )

    # -- preview --------------------------------------------------------------------------
    def preview(
        self, config: ClientConfig, loket_journal_run_id: str
    ) -> tuple[JournalRun, Draft[ProfitEntry] | Draft[SbEntry], list[Finding]]:
        with self.loket(config.office_id) as loket:
            # Only a run of this client's payroll administration (LoketNotFound otherwise): the
            # client reads the run from that administration's listing, never by id alone.
            run = loket.get_journal_run(
                loket_journal_run_id, administration_id=config.loket_administration_id
            )
            lines = list(loket.iter_journal_run_lines(run.id))
        draft, findings = prepare(self.ledger_target(config), config, run, lines)
        return run, draft, findings


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _readable_target(raw: object) -> Target | None:
    """The target of a body that failed its schema, as far as it is readable: the environment
    must be; a wrong administration or journal becomes a value that no AFAS knows (its own
    schema error is what the caller shows for it)."""
    if not isinstance(raw, Mapping) or not isinstance(raw.get("environment"), str):
        return None
    try:
        if raw.get("type") == "afas-profit":
            number = parse_profit_environment(raw["environment"]).number
            administration = raw.get("administration")
            if not isinstance(administration, int) or isinstance(administration, bool):
                administration = 0
            journal = raw.get("journal")
            return ProfitTarget(
                number,
                administration if 1 <= administration <= 99999 else 0,
                journal.strip()[:6] if isinstance(journal, str) else "",
            )
        if raw.get("type") == "afas-sb":
            administration_id = raw.get("administrationId")
            return SbTarget(
                parse_sb_environment(raw["environment"]),
                administration_id.strip().lower() if isinstance(administration_id, str) else "",
            )
    except InputError:
        return None
    return None


def _classified(error: Exception, system: str) -> Failure:
    """The failure of a validation read; passing trouble answers 503 (nothing saved)."""
    failure = classify(error)
    if failure is None:
        raise error
    if failure.transient or failure.disposition is Disposition.RETRY_LATER:
        raise unavailable(system) from None
    return failure


def _only_switched_off(existing: ClientConfig, new: ClientConfig) -> bool:
    if new.include_in_sync:
        return False
    same = replace(
        existing,
        include_in_sync=False,
        etag="",
        created_at=None,
        updated_at=None,
        updated_by="",
        loket_administration_name="",
        loket_client_number=None,
        loket_employer_name="",
        period_type="unknown",
    )
    return same == replace(new, etag="", created_at=None, updated_at=None, updated_by="")
