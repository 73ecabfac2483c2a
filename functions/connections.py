"""HTTP: the office's connections, the Loket consent flow and what Loket can see."""

import azure.functions as func

from functions._http import route, serve
from shared.api.handlers import connections as ops

bp = func.Blueprint()


@route(bp, ops.LIST_CONNECTIONS)
def list_connections(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.LIST_CONNECTIONS, req)


@route(bp, ops.CONNECT_LOKET)
def connect_loket(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.CONNECT_LOKET, req)


@route(bp, ops.DISCONNECT_LOKET)
def disconnect_loket(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.DISCONNECT_LOKET, req)


@route(bp, ops.LOKET_CALLBACK)
def loket_callback(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.LOKET_CALLBACK, req)


@route(bp, ops.LOKET_PAYROLL_ADMINISTRATIONS)
def loket_payroll_administrations(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.LOKET_PAYROLL_ADMINISTRATIONS, req)
