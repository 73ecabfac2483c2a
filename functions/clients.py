"""HTTP: client configurations and the entry preview."""

import azure.functions as func

from functions._http import serve
from shared.api.handlers import clients

bp = func.Blueprint()
ANONYMOUS = func.AuthLevel.ANONYMOUS  # Easy Auth signs users in; see docs/architecture.md


@bp.route(route=clients.LIST_CLIENTS.route, methods=["GET"], auth_level=ANONYMOUS)
def list_clients(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.LIST_CLIENTS, req)


@bp.route(route=clients.GET_CLIENT.route, methods=["GET"], auth_level=ANONYMOUS)
def get_client(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.GET_CLIENT, req)


@bp.route(route=clients.PUT_CLIENT.route, methods=["PUT"], auth_level=ANONYMOUS)
def put_client(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.PUT_CLIENT, req)


@bp.route(route=clients.DELETE_CLIENT.route, methods=["DELETE"], auth_level=ANONYMOUS)
def delete_client(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.DELETE_CLIENT, req)


@bp.route(route=clients.PREVIEW.route, methods=["POST"], auth_level=ANONYMOUS)
def preview_entry(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.PREVIEW, req)
