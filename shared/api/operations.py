"""A route, described once: method, path, who may call it, schemas, and the handler.

Each ``functions/`` blueprint registers an Azure Function for an :class:`Operation` and calls
:func:`handle`; the OpenAPI document is generated from the same objects, so the two cannot drift.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from shared.api.auth import Principal, forbidden, principal_from_headers
from shared.api.http import ApiRequest, ApiResponse, Problem, problem_response

if TYPE_CHECKING:
    from shared.bootstrap import Services

log = logging.getLogger("loonbrug.api")


class Access(StrEnum):
    PUBLIC = "public"  # no sign-in (health, OAuth callbacks, OpenAPI document)
    READER = "reader"  # any signed-in user of the office
    ADMIN = "admin"  # role Loonbrug.Admin


@dataclass(frozen=True)
class Reply:
    """One documented response of an operation."""

    description: str
    model: type[BaseModel] | None = None
    content_type: str = "application/json"
    schema: Mapping[str, Any] | None = None  # used when there is no model
    # Further media types the same answer may come in (e.g. ``text/csv`` on ``format=csv``),
    # each with its schema; the OpenAPI document lists them beside ``content_type``.
    other_content: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def problem_reply(description: str) -> Reply:
    """A documented problem+json answer (the one ``Problem`` schema of the document)."""
    return Reply(
        description,
        schema={"$ref": "#/components/schemas/Problem"},
        content_type="application/problem+json",
    )


@dataclass(frozen=True)
class QueryParam:
    name: str
    description: str
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False


@dataclass(frozen=True)
class RequestContext:
    request: ApiRequest
    services: Services
    principal: Principal | None

    @property
    def office_id(self) -> str:
        if self.principal is None:
            raise RuntimeError("no principal on a public operation")
        return self.principal.office_id

    @property
    def user(self) -> Principal:
        if self.principal is None:
            raise RuntimeError("no principal on a public operation")
        return self.principal


Handler = Callable[[RequestContext], ApiResponse]


@dataclass(frozen=True)
class Operation:
    name: str  # the Azure Function name and the OpenAPI operationId
    method: str
    route: str  # Functions route template without the /api prefix, e.g. "clients/{clientId}"
    access: Access
    summary: str
    tag: str
    handler: Handler
    body: type[BaseModel] | None = None
    body_required: bool = True  # False: an empty body is accepted (the body's fields are optional)
    replies: Mapping[int, Reply] = field(default_factory=dict)
    query: tuple[QueryParam, ...] = ()
    description: str = ""

    @property
    def path(self) -> str:
        """The OpenAPI path: a catch-all ``{*rest}`` of the Functions route becomes ``{rest}``."""
        return "/api/" + self.route.replace("{*", "{")


def handle(operation: Operation, request: ApiRequest, services: Services) -> ApiResponse:
    """Authenticate, authorise, run the handler, and turn every failure into problem+json."""
    started = time.perf_counter()
    request = _encodable(request)
    try:
        principal = _authorise(operation, request, services)
        response = operation.handler(RequestContext(request, services, principal))
    except Problem as problem:
        response = problem_response(problem)
    except Exception:
        incident = uuid.uuid4().hex[:12]
        log.exception("unhandled error in %s (incident %s)", operation.name, incident)
        response = problem_response(
            Problem(
                500,
                "internal-error",
                "Internal error",
                "Er ging iets mis aan onze kant. Probeer het later opnieuw; blijft het misgaan, "
                f"noem dan incidentnummer {incident} aan de support.",
                extra={"incident": incident},
            )
        )
    # Never log the URL: OAuth callbacks carry codes in the query string.
    log.info(
        "http %s %s -> %s in %.1f ms",
        operation.method,
        operation.route,
        response.status,
        (time.perf_counter() - started) * 1000,
        extra={"operation": operation.name, "status": response.status},
    )
    return response


def _encodable(request: ApiRequest) -> ApiRequest:
    """Route and query values as UTF-8 can carry them: a lone surrogate (a sloppy decoder's
    answer to a percent-encoded half character) becomes ``?``, so every route answers it as
    the odd value it is (404, 422, a Dutch page) instead of failing on it with a 500."""

    def clean(value: str) -> str:
        return value.encode("utf-8", "replace").decode("utf-8")

    def odd(values: Mapping[str, str]) -> bool:
        return any(clean(k) != k or clean(v) != v for k, v in values.items())

    if not odd(request.route_params) and not odd(request.query):
        return request
    return replace(
        request,
        route_params={clean(k): clean(v) for k, v in request.route_params.items()},
        query={clean(k): clean(v) for k, v in request.query.items()},
    )


def _authorise(operation: Operation, request: ApiRequest, services: Services) -> Principal | None:
    if operation.access is Access.PUBLIC:
        return None
    if not services.settings.trusts_principal_header:
        raise Problem(
            503,
            "authentication-not-configured",
            "Authentication not configured",
            "Aanmelden is niet ingeschakeld voor deze omgeving; de beheer-API is daarom uit.",
            hint="Zet App Service Authentication (Microsoft Entra ID) aan voor deze Function App.",
        )
    principal = principal_from_headers(request.headers)
    if operation.access is Access.ADMIN and not principal.is_admin:
        raise forbidden()
    return principal
