"""HTTP: the web portal's static files (shared/api/handlers/portal.py)."""

import azure.functions as func

from functions._http import serve
from shared.api.handlers import portal as ops

bp = func.Blueprint()


@bp.route(route=ops.PORTAL.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def portal(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.PORTAL, req)
