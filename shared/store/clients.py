"""Client configurations per office. Table ``Clients``: PartitionKey = office id, RowKey = client id."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.clients.model import BookingMode, ClientConfig, ProfitTarget, Rounding, SbTarget, Target
from shared.journal.mapping import CostCenterRule, JournalMapping
from shared.journal.periods import PeriodRule
from shared.store.storage import Storage
from shared.store.tables import ConcurrencyConflict, check_key, etag_of, get_or_none, when

TABLE: Final = "Clients"
# Table Storage holds at most 32K characters per string property.
MAX_MAPPING_CHARS: Final = 30_000


class MappingTooLarge(ValueError):
    pass


def mapping_to_json(mapping: JournalMapping) -> str:
    return json.dumps(
        {
            "accounts": dict(mapping.accounts),
            "fallbackAccount": mapping.fallback_account,
            "costCenters": mapping.cost_centers.value,
            "costCenterAxis": mapping.cost_center_axis,
            "costUnitAxis": mapping.cost_unit_axis,
            "costCenterMap": dict(mapping.cost_center_map),
            "costUnitMap": dict(mapping.cost_unit_map),
            "description": mapping.description,
            "periodRule": mapping.period_rule.value if mapping.period_rule else None,
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def mapping_from_json(text: str) -> JournalMapping:
    data: dict[str, Any] = json.loads(text or "{}")
    return JournalMapping(
        accounts=data.get("accounts") or {},
        fallback_account=data.get("fallbackAccount"),
        cost_centers=CostCenterRule(data.get("costCenters") or "pass"),
        cost_center_axis=int(data.get("costCenterAxis") or 1),
        cost_unit_axis=data.get("costUnitAxis"),
        cost_center_map=data.get("costCenterMap") or {},
        cost_unit_map=data.get("costUnitMap") or {},
        description=data.get("description") or JournalMapping().description,
        period_rule=PeriodRule(data["periodRule"]) if data.get("periodRule") else None,
    )


def _target_fields(target: Target) -> dict[str, Any]:
    if isinstance(target, ProfitTarget):
        return {
            "target_type": "afas-profit",
            "target_environment": target.environment,
            "target_administration": str(target.administration),
            "target_journal": target.journal,
        }
    return {
        "target_type": "afas-sb",
        "target_environment": target.environment,
        "target_administration": target.administration_id,
        "target_journal": "",
    }


def _target(entity: TableEntity) -> Target:
    if entity["target_type"] == "afas-profit":
        return ProfitTarget(
            environment=entity["target_environment"],
            administration=int(entity["target_administration"]),
            journal=entity["target_journal"],
        )
    return SbTarget(entity["target_environment"], entity["target_administration"])


class ClientRepository:
    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    def get(self, office_id: str, client_id: str) -> ClientConfig | None:
        entity = get_or_none(self._table, check_key(office_id), check_key(client_id))
        return _config(entity) if entity is not None else None

    def for_office(self, office_id: str) -> list[ClientConfig]:
        entities = self._table.query_entities(
            "PartitionKey eq @office", parameters={"office": check_key(office_id)}
        )
        return sorted((_config(e) for e in entities), key=lambda c: c.client_id)

    def save(
        self, config: ClientConfig, *, by_user: str, now: datetime, if_match: str | None = None
    ) -> tuple[ClientConfig, bool]:
        """Insert or replace; returns (stored, created). ``if_match`` makes it conditional."""
        mapping = mapping_to_json(config.mapping)
        if len(mapping) > MAX_MAPPING_CHARS:
            raise MappingTooLarge(f"mapping is {len(mapping)} characters")
        entity: dict[str, Any] = {
            "PartitionKey": check_key(config.office_id),
            "RowKey": check_key(config.client_id),
            "loket_administration_id": config.loket_administration_id,
            "include_in_sync": config.include_in_sync,
            "mode": config.mode.value,
            "mapping": mapping,
            "rounding_account": config.rounding.account if config.rounding else "",
            "rounding_max": str(config.rounding.max_difference) if config.rounding else "",
            "name": config.name,
            "loket_administration_name": config.loket_administration_name,
            "loket_client_number": config.loket_client_number
            if config.loket_client_number is not None
            else -1,
            "loket_employer_name": config.loket_employer_name,
            "period_type": config.period_type,
            "updated_at": now,
            "updated_by": by_user,
            **_target_fields(config.target),
        }
        existing = self.get(config.office_id, config.client_id)
        created = existing is None
        entity["created_at"] = existing.created_at if existing and existing.created_at else now
        entity["ever_reviewed"] = (
            config.mode is BookingMode.REVIEW
            or config.ever_reviewed
            or (existing is not None and existing.ever_reviewed)
        )
        try:
            if if_match is not None:
                if existing is None:
                    raise ConcurrencyConflict("no such client")
                self._table.update_entity(
                    entity,
                    mode=UpdateMode.REPLACE,
                    etag=if_match,
                    match_condition=MatchConditions.IfNotModified,
                )
            elif created:
                self._table.create_entity(entity)
            else:
                self._table.upsert_entity(entity, mode=UpdateMode.REPLACE)
        except (ResourceModifiedError, ResourceExistsError) as exc:
            raise ConcurrencyConflict(str(exc)) from None
        stored = self.get(config.office_id, config.client_id)
        assert stored is not None
        return stored, created

    def delete(self, office_id: str, client_id: str) -> bool:
        try:
            self._table.delete_entity(check_key(office_id), check_key(client_id))
        except ResourceNotFoundError:
            return False
        return True


def _config(entity: TableEntity) -> ClientConfig:
    number = entity.get("loket_client_number", -1)
    rounding = None
    if entity.get("rounding_account"):
        rounding = Rounding(entity["rounding_account"], Decimal(entity.get("rounding_max") or "0"))
    return ClientConfig(
        office_id=entity["PartitionKey"],
        client_id=entity["RowKey"],
        loket_administration_id=entity["loket_administration_id"],
        target=_target(entity),
        include_in_sync=bool(entity.get("include_in_sync", True)),
        mode=BookingMode(entity.get("mode") or "automatic"),
        mapping=mapping_from_json(entity.get("mapping", "{}")),
        rounding=rounding,
        name=entity.get("name", ""),
        loket_administration_name=entity.get("loket_administration_name", ""),
        loket_client_number=None if number is None or int(number) < 0 else int(number),
        loket_employer_name=entity.get("loket_employer_name", ""),
        period_type=entity.get("period_type", "unknown"),
        created_at=when(entity.get("created_at")),
        updated_at=when(entity.get("updated_at")),
        updated_by=entity.get("updated_by", ""),
        ever_reviewed=bool(entity.get("ever_reviewed", False)) or entity.get("mode") == "review",
        etag=etag_of(entity),
    )
