"""HTTP: the web portal's static files (shared/api/handlers/portal.py)."""

import azure.functions as func

from functions._http import route, serve
from shared.api.handlers import portal as ops

bp = func.Blueprint()


@route(bp, ops.PORTAL)
def portal(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.PORTAL, req)
