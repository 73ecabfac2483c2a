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
from shared.api.http import ApiResponse, json_response
from shared.api.openapi import build_document
from shared.api.operations import Access, Operation, Reply, RequestContext


def openapi_document(ctx: RequestContext) -> ApiResponse:
    return json_response(200, openapi(ctx.services.settings.public_base_url))


# The document is built from the catalog, so its operation lives here (the handlers never import
# the catalog: no cycle).
OPENAPI = Operation(
    name="openapi",
    method="GET",
    route="openapi.json",
    access=Access.PUBLIC,
    summary="This OpenAPI 3.1 document",
    tag="system",
    handler=openapi_document,
    replies={200: Reply("The OpenAPI document.", schema={"type": "object"})},
)

OPERATIONS: tuple[Operation, ...] = (
    system.HEALTH,
    OPENAPI,
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
