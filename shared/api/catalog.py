"""Every operation of the management API, in one list (the source of the OpenAPI document)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from shared.api.handlers import afas_connections, connections, system
from shared.api.openapi import build_document
from shared.api.operations import Operation

OPERATIONS: tuple[Operation, ...] = (
    system.HEALTH,
    system.OPENAPI,
    *connections.OPERATIONS,
    *afas_connections.OPERATIONS,
)


@lru_cache(maxsize=4)
def openapi(server_url: str) -> dict[str, Any]:
    return build_document(OPERATIONS, server_url=server_url)
