"""Saving a client configuration (validated against the live systems) and previewing an entry.

Validation reads, in order: the Loket payroll administration through the office's consent, the
AFAS connection (exists, active, consented), and the AFAS administration (+ journal for Profit).
Every problem is a field error with a Dutch explanation; nothing is stored unless all pass.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from shared.afas.errors import Disposition
from shared.afas.oauth import SbNotConfigured
from shared.clients.errors import (
    BookingUnsettled,
    ChangedMeanwhile,
    FieldIssue,
    InvalidConfiguration,
    UpstreamUnavailable,
)
from shared.clients.model import ClientConfig, ProfitTarget, SbTarget
from shared.failures import Failure, classify
from shared.journal.mapping import JournalMapping, template_problems
from shared.loket.client import LoketClient
from shared.loket.errors import LoketNotFound
from shared.oauth.tokens import NotConnected
from shared.store.clients import MappingTooLarge
from shared.store.connections import Connection, ConnectionKey, ConnectionState
from shared.store.tables import ConcurrencyConflict

SAVE_REFUSED = "De client configuratie is niet opgeslagen: controleer de gemarkeerde velden."


class ClientStore(Protocol):
    """The client configurations (``shared.store.clients.ClientRepository``; a dict in tests)."""

    def get(self, office_id: str, client_id: str) -> ClientConfig | None: ...

    def save(
        self, config: ClientConfig, *, by_user: str, now: datetime, if_match: str | None = None
    ) -> tuple[ClientConfig, bool]: ...

    def delete(self, office_id: str, client_id: str) -> bool: ...


class ConnectionLookup(Protocol):
    """Reading one connection (``shared.store.connections.ConnectionRepository``)."""

    def get(self, key: ConnectionKey) -> Connection | None: ...


class AdministrationCheck(Protocol):
    """The AFAS administration a configuration names, as saving checks it (the sync's booker)."""

    def check(self) -> list[tuple[str, str]]: ...  # configuration problems: (field, Dutch text)


def mapping_issues(mapping: JournalMapping) -> list[FieldIssue]:
    """What is wrong with a mapping on its own (the description's placeholders, the axes)."""
    issues = [FieldIssue("mapping.description", p) for p in template_problems(mapping.description)]
    if (
        mapping.cost_unit_axis is not None
        and mapping.cost_unit_axis == mapping.cost_center_axis
        and mapping.cost_centers != "drop"
    ):
        issues.append(
            FieldIssue("mapping.costUnitAxis", "mag niet dezelfde as zijn als de kostenplaats")
        )
    return issues


@dataclass
class ClientService:
    """Client configurations: save (checked against Loket and AFAS), check, delete.

    Its own small bundle of collaborators, each behind a narrow type (fakes in tests/unit). The
    booking side comes in as callables (``shared.sync.client_bookings``, wired in bootstrap): this
    package never imports the sync. The entry preview is ``ClientBookings.preview``."""

    clients: ClientStore
    connections: ConnectionLookup
    loket: Callable[[str], AbstractContextManager[LoketClient]]
    booker: Callable[[ClientConfig], AdministrationCheck]
    clock: Callable[[], datetime]
    # The references ("" when none yet) of the client's bookings in its current AFAS
    # administration that are not finished; None: no booking ledger to ask.
    unsettled: Callable[[ClientConfig], list[str]] | None = None
    # AFAS SB: takes an Admin Center's customer environment into use (office, environment, user)
    # so a configuration may name it before it has a connection of its own.
    sb_scope: Callable[[str, str, str], object] | None = None

    def save(
        self, config: ClientConfig, *, user: str, if_match: str | None
    ) -> tuple[ClientConfig, bool]:
        """Store ``config`` after every check (mapping, Loket, AFAS); switching a client out of
        the nightly needs no live check.

        :raises InvalidConfiguration: field issues; nothing stored.
        :raises UpstreamUnavailable: Loket or AFAS did not answer; nothing stored.
        :raises ChangedMeanwhile: ``if_match`` is not the stored ETag.
        :raises BookingUnsettled: moving the client to another administration with an open booking.
        """
        office_id = config.office_id
        existing = self.clients.get(office_id, config.client_id)
        errors = mapping_issues(config.mapping)
        if existing is not None and _only_switched_off(existing, config):
            if errors:
                raise InvalidConfiguration(errors)
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
            raise InvalidConfiguration(
                [
                    FieldIssue(
                        "mapping",
                        "de transponeringstabellen zijn te groot (maximaal ~30.000 tekens)",
                    )
                ]
            ) from None
        except ConcurrencyConflict:
            raise ChangedMeanwhile(config.client_id) from None

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

    def check(self, config: ClientConfig, *, user: str) -> None:
        """Every check of :meth:`save` (mapping, Loket, AFAS) without storing anything: raises
        :class:`InvalidConfiguration` with all field issues at once, or returns (the portal's
        one round of validation)."""
        self._take_sb_scope(config, user)
        self._validated(config.office_id, config, mapping_issues(config.mapping))

    def problems_beside(
        self,
        office_id: str,
        *,
        loket_administration_id: str | None,
        target: ProfitTarget | SbTarget | None,
        description: str | None,
        user: str,
    ) -> list[FieldIssue]:
        """A body with schema errors: the live checks of the parts that are readable anyway (the
        Loket administration, the AFAS connection, administration and journal, the
        description's placeholders), so the form shows every problem in one round instead of one
        round per kind. When Loket or AFAS is not reachable the live checks are left out."""
        errors: list[FieldIssue] = []
        try:
            if loket_administration_id is not None:
                self._loket_administration(office_id, loket_administration_id, errors)
            if target is not None:
                config = ClientConfig(office_id, "", "", target)
                self._take_sb_scope(config, user)
                errors += self._target_errors(config)
        except UpstreamUnavailable:
            return []
        if description is not None:
            errors += [FieldIssue("mapping.description", p) for p in template_problems(description)]
        return errors

    def _validated(
        self, office_id: str, config: ClientConfig, found: list[FieldIssue] | None = None
    ) -> ClientConfig:
        errors: list[FieldIssue] = list(found or [])
        loket_info = self._loket_administration(office_id, config.loket_administration_id, errors)
        errors += self._target_errors(config)
        if errors:
            raise InvalidConfiguration(errors, SAVE_REFUSED)
        assert loket_info is not None
        return replace(config, **loket_info)

    def _loket_administration(
        self, office_id: str, administration_id: str, errors: list[FieldIssue]
    ) -> dict[str, Any] | None:
        field = "loketPayrollAdministrationId"
        try:
            with self.loket(office_id) as loket:
                administration = loket.get_payroll_administration(administration_id)
        except NotConnected:
            errors.append(
                FieldIssue(
                    field, "er is nog geen Loket-koppeling; koppel eerst Loket via Koppelingen"
                )
            )
            return None
        except LoketNotFound:
            errors.append(
                FieldIssue(
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
            errors.append(FieldIssue(field, text))
            return None
        return {
            "loket_administration_name": administration.name,
            "loket_client_number": administration.client_number,
            "period_type": administration.period_type.value,
        }

    def _target_errors(self, config: ClientConfig) -> list[FieldIssue]:
        target = config.target
        key = target.connection(config.office_id)
        connection = self.connections.get(key)
        name = "AFAS Profit" if isinstance(target, ProfitTarget) else "AFAS SB"
        if connection is None:
            return [
                FieldIssue(
                    "target.environment",
                    f"er is geen {name}-koppeling voor omgeving {key.environment}; "
                    "voeg die eerst toe via Koppelingen",
                )
            ]
        if connection.state is ConnectionState.INACTIVE:
            return [
                FieldIssue(
                    "target.environment", f"de {name}-koppeling {key.environment} staat op inactief"
                )
            ]
        if connection.state is ConnectionState.REAUTHORIZE:
            return [
                FieldIssue(
                    "target.environment",
                    f"de {name}-koppeling {key.environment} vraagt opnieuw toestemming",
                )
            ]
        try:
            return [FieldIssue(f, text) for f, text in self.booker(config).check()]
        except Exception as exc:
            failure = _classified(exc, name)
            if failure.disposition is Disposition.RECONSENT:
                return [
                    FieldIssue(
                        "target.environment", f"{name} weigert de koppeling: {failure.dutch}"
                    )
                ]
            return [FieldIssue("target.environment", f"{name}: {failure.dutch}")]

    def delete(self, config: ClientConfig) -> None:
        """Remove a client, unless a booking of it is not finished (see :meth:`_guard_unsettled`):
        a client created again under another administration would book the run there too."""
        self._guard_unsettled(config, "verwijderd")
        self.clients.delete(config.office_id, config.client_id)

    def _unsettled_elsewhere(self, existing: ClientConfig, config: ClientConfig) -> None:
        if existing.target.administration_key != config.target.administration_key:
            self._guard_unsettled(existing, "naar een andere AFAS-administratie verplaatst")

    def _guard_unsettled(self, existing: ClientConfig, what: str) -> None:
        """The booking ledger is kept per AFAS administration: a booking of this client in its
        current administration that is not finished (a post is out or being sent, booked but
        Loket not yet told, or partly booked) would not be seen from another one, which could
        book the same journal run again there. Refused (409) until it is finished (the next
        nightly or a rerun finishes it). A journal change is fine: look-ups search every journal."""
        if self.unsettled is None:
            return
        open_ = self.unsettled(existing)
        if open_:
            raise BookingUnsettled(len(open_), open_[0] or "—", what)


def _classified(error: Exception, system: str) -> Failure:
    """The failure of a validation read; passing trouble answers 503 (nothing saved)."""
    failure = classify(error)
    if failure is None:
        raise error
    if failure.transient or failure.disposition is Disposition.RETRY_LATER:
        raise UpstreamUnavailable(system) from None
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
        ever_reviewed=False,  # kept by the store, not part of what was sent
    )
    new = replace(
        new, etag="", created_at=None, updated_at=None, updated_by="", ever_reviewed=False
    )
    return same == new
