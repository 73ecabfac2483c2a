"""HTTP: health and the OpenAPI document."""

import azure.functions as func

from functions._http import route, serve
from shared.api.handlers import system

bp = func.Blueprint()


@route(bp, system.HEALTH)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return serve(system.HEALTH, req)


@route(bp, system.OPENAPI)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return serve(system.OPENAPI, req)
