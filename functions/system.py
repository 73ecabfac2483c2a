"""HTTP: health and the OpenAPI document."""

import azure.functions as func

from functions._http import serve
from shared.api.handlers import system

bp = func.Blueprint()


@bp.route(route=system.HEALTH.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return serve(system.HEALTH, req)


@bp.route(route=system.OPENAPI.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return serve(system.OPENAPI, req)
