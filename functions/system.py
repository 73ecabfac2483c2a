"""HTTP: health and the OpenAPI document."""

import azure.functions as func

from functions._http import route, serve
from shared.api import catalog
from shared.api.handlers import system

bp = func.Blueprint()


@route(bp, system.HEALTH)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return serve(system.HEALTH, req)


@route(bp, catalog.OPENAPI)
def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return serve(catalog.OPENAPI, req)
