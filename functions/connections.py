"""HTTP: the office's connections, the Loket consent flow and what Loket can see."""

import azure.functions as func

from functions._http import serve
from shared.api.handlers import connections as ops

bp = func.Blueprint()
ANONYMOUS = func.AuthLevel.ANONYMOUS  # Easy Auth guards the app; see test_bindings.py


@bp.route(route=ops.LIST_CONNECTIONS.route, methods=["GET"], auth_level=ANONYMOUS)
def list_connections(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.LIST_CONNECTIONS, req)


@bp.route(route=ops.CONNECT_LOKET.route, methods=["POST"], auth_level=ANONYMOUS)
def connect_loket(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.CONNECT_LOKET, req)


@bp.route(route=ops.DISCONNECT_LOKET.route, methods=["DELETE"], auth_level=ANONYMOUS)
def disconnect_loket(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.DISCONNECT_LOKET, req)


@bp.route(route=ops.LOKET_CALLBACK.route, methods=["GET"], auth_level=ANONYMOUS)
def loket_callback(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.LOKET_CALLBACK, req)


@bp.route(route=ops.LOKET_PAYROLL_ADMINISTRATIONS.route, methods=["GET"], auth_level=ANONYMOUS)
def loket_payroll_administrations(req: func.HttpRequest) -> func.HttpResponse:
    return serve(ops.LOKET_PAYROLL_ADMINISTRATIONS, req)
