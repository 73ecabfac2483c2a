"""Every operation of the management API, in one list (the source of the OpenAPI document)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from shared.api.handlers import (
    afas_connections,
    approvals,
    clients,
    connections,
    documents,
    notifications,
    portal,
    reconciliation,
    runs,
    system,
)
from shared.api.openapi import build_document
from shared.api.operations import Operation

OPERATIONS: tuple[Operation, ...] = (
    system.HEALTH,
    system.OPENAPI,
    runs.LIST_RUNS,
    runs.GET_RUN,
    runs.START_RERUN,
    *connections.OPERATIONS,
    *afas_connections.OPERATIONS,
    clients.LIST_CLIENTS,
    clients.GET_CLIENT,
    clients.PUT_CLIENT,
    clients.DELETE_CLIENT,
    clients.PREVIEW,
    *approvals.OPERATIONS,
    *notifications.OPERATIONS,
    *documents.OPERATIONS,
    *reconciliation.OPERATIONS,
    portal.PORTAL,
)


@lru_cache(maxsize=4)
def openapi(server_url: str) -> dict[str, Any]:
    return build_document(OPERATIONS, server_url=server_url)
