"""Health. (The OpenAPI document is served by the catalog, which lists every operation.)"""

from __future__ import annotations

import logging

from pydantic import BaseModel

from shared.api.http import ApiResponse, Problem, json_response
from shared.api.operations import Access, Operation, Reply, RequestContext

log = logging.getLogger("loonbrug.api")


class HealthAnswer(BaseModel):
    status: str


def health(ctx: RequestContext) -> ApiResponse:
    try:
        ctx.services.storage.ping()
    except Exception as exc:
        log.warning("health: storage does not answer: %s", type(exc).__name__)
        raise Problem(
            503,
            "storage-unavailable",
            "Storage unavailable",
            "De opslag van Loonbrug reageert niet. Probeer het over een paar minuten opnieuw.",
        ) from None
    return json_response(200, HealthAnswer(status="ok"))


HEALTH = Operation(
    name="health",
    method="GET",
    route="health",
    access=Access.PUBLIC,
    summary="Liveness: 200 when storage answers, 503 otherwise",
    tag="system",
    handler=health,
    replies={200: Reply("Storage answers.", HealthAnswer)},
)
