"""Translate between azure.functions HTTP types and shared.api's plain request/response."""

from __future__ import annotations

import azure.functions as func

from shared.api.http import ApiRequest, Headers
from shared.api.operations import Operation, handle
from shared.bootstrap import get_services


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
