"""The OpenAPI 3.1 document, generated from the operations (served at /api/openapi.json)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from shared.api.http import PROBLEM_JSON
from shared.api.operations import Access, Operation

_PARAM = re.compile(r"\{\*?([A-Za-z_][A-Za-z0-9_]*)(?::[^}?]*)?\??\}")

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string", "description": "Short English summary of the problem type."},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "Dutch explanation for the user."},
        "hint": {"type": "string", "description": "Dutch hint: what the user can do about it."},
        "incident": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "detail"],
                "properties": {"field": {"type": "string"}, "detail": {"type": "string"}},
            },
        },
    },
}

# Examples of path parameters (documentation; fuzzers also start from them).
_PATH_EXAMPLES: dict[str, str] = {"clientId": "4711", "runId": "nightly-2025-01-31"}

_STANDARD_PROBLEMS = {
    400: "The request is not readable (no JSON, wrong shape).",
    401: "No signed-in user (missing or unreadable X-MS-CLIENT-PRINCIPAL).",
    403: "The signed-in user lacks the Loonbrug.Admin role.",
    404: "Unknown id, or an id of another office.",
    413: "The body is larger than the limit.",
    415: "The body is not JSON.",
    422: "The body is JSON but a field is wrong; errors[] names each field.",
    500: "Unexpected error; the incident number identifies it in the logs.",
    503: "Authentication or storage is unavailable.",
}


def build_document(operations: Iterable[Operation], *, server_url: str) -> dict[str, Any]:
    ops = list(operations)
    wanted: set[tuple[type[BaseModel], str]] = set()
    for op in ops:
        if op.body is not None:
            wanted.add((op.body, "validation"))
        wanted.update((r.model, "serialization") for r in op.replies.values() if r.model)
    refs, defs = models_json_schema(
        sorted(wanted, key=lambda pair: (pair[0].__name__, pair[1])),  # type: ignore[arg-type]
        ref_template="#/components/schemas/{model}",
        by_alias=True,
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA

    def ref(model: type[BaseModel], mode: str) -> dict[str, Any]:
        return dict(refs[(model, mode)])  # type: ignore[index]

    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(ops, key=lambda o: (o.path, o.method)):
        item: dict[str, Any] = {
            "operationId": op.name,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string"},
                    **({"example": _PATH_EXAMPLES[name]} if name in _PATH_EXAMPLES else {}),
                }
                for name in _PARAM.findall(op.route)
            ]
            + [
                {
                    "name": q.name,
                    "in": "query",
                    "required": q.required,
                    "description": q.description,
                    "schema": dict(q.schema),
                }
                for q in op.query
            ],
            "responses": {},
        }
        if op.description:
            item["description"] = op.description
        if op.access is Access.PUBLIC:
            item["security"] = []
        if op.body is not None:
            item["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": ref(op.body, "validation")}},
            }
        for status, reply in sorted(op.replies.items()):
            response: dict[str, Any] = {"description": reply.description}
            if reply.model is not None:
                response["content"] = {
                    reply.content_type: {"schema": ref(reply.model, "serialization")}
                }
            elif reply.schema is not None:
                response["content"] = {reply.content_type: {"schema": dict(reply.schema)}}
            for media_type, schema in reply.other_content.items():
                response.setdefault("content", {})[media_type] = {"schema": dict(schema)}
            item["responses"][str(status)] = response
        for status in _problem_statuses(op):
            item["responses"].setdefault(
                str(status),
                {
                    "description": _STANDARD_PROBLEMS[status],
                    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
                },
            )
        paths.setdefault(op.path, {})[op.method.lower()] = item

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Loonbrug management API",
            "version": "1",
            "description": (
                "Books Loket.nl payroll journal runs into AFAS Profit and AFAS SB. JSON in "
                "camelCase; errors are application/problem+json with a Dutch detail."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"easyAuth": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "easyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-MS-CLIENT-PRINCIPAL",
                    "description": "Set by App Service Authentication (Microsoft Entra ID).",
                }
            },
        },
    }


def _problem_statuses(op: Operation) -> list[int]:
    statuses = [500]
    if op.access is not Access.PUBLIC:
        statuses += [401, 503]
    if op.access is Access.ADMIN:
        statuses.append(403)
    if op.body is not None:
        statuses += [400, 413, 415, 422]
    elif op.query and op.access is not Access.PUBLIC:
        statuses.append(422)  # a query parameter out of its documented range
    if _PARAM.search(op.route):
        statuses.append(404)
    return sorted(statuses)
