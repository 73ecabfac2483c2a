"""Translate between azure.functions HTTP types and shared.api's plain request/response."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import azure.functions as func

from shared.api.http import ApiRequest, Headers
from shared.api.operations import Operation, handle
from shared.bootstrap import get_services


def route(bp: func.Blueprint, operation: Operation) -> Callable[[Any], Any]:
    """The HTTP trigger of ``operation``: its route and method come from the catalog's
    :class:`Operation`; the auth level is the app's (ANONYMOUS, set once in function_app.py:
    Easy Auth signs users in, see docs/architecture.md)."""
    decorator: Callable[[Any], Any] = bp.route(route=operation.route, methods=[operation.method])
    return decorator


def serve(operation: Operation, req: func.HttpRequest) -> func.HttpResponse:
    request = ApiRequest(
        method=req.method,
        url=req.url,
        headers=Headers(dict(req.headers)),
        route_params=dict(req.route_params),
        query=dict(req.params),
        body=req.get_body() or b"",
    )
    response = handle(operation, request, get_services())
    headers = dict(response.headers)
    content_type = headers.pop("Content-Type", "application/octet-stream")
    return func.HttpResponse(
        body=response.body,
        status_code=response.status,
        headers={**headers, "Content-Type": content_type},
        mimetype=content_type.split(";")[0],
        charset="utf-8",
    )
