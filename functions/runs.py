"""HTTP: runs overview, run detail, reruns."""

import azure.functions as func

from functions._http import route, serve
from shared.api.handlers import runs

bp = func.Blueprint()


@route(bp, runs.LIST_RUNS)
def list_runs(req: func.HttpRequest) -> func.HttpResponse:
    return serve(runs.LIST_RUNS, req)


@route(bp, runs.GET_RUN)
def get_run(req: func.HttpRequest) -> func.HttpResponse:
    return serve(runs.GET_RUN, req)


@route(bp, runs.START_RERUN)
def start_rerun(req: func.HttpRequest) -> func.HttpResponse:
    return serve(runs.START_RERUN, req)
