"""HTTP: runs overview, run detail, reruns."""

import azure.functions as func

from functions._http import serve
from shared.api.handlers import runs

bp = func.Blueprint()
ANONYMOUS = func.AuthLevel.ANONYMOUS  # Easy Auth signs users in; see docs/architecture.md


@bp.route(route=runs.LIST_RUNS.route, methods=["GET"], auth_level=ANONYMOUS)
def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    return serve(runs.LIST_RUNS, req)


@bp.route(route=runs.GET_RUN.route, methods=["GET"], auth_level=ANONYMOUS)
def get_run(req: func.HttpRequest) -> func.HttpResponse:
    return serve(runs.GET_RUN, req)


@bp.route(route=runs.START_RERUN.route, methods=["POST"], auth_level=ANONYMOUS)
def start_rerun(req: func.HttpRequest) -> func.HttpResponse:
    return serve(runs.START_RERUN, req)
