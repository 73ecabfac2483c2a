"""HTTP: client configurations and the entry preview."""

import azure.functions as func

from functions._http import route, serve
from shared.api.handlers import clients

bp = func.Blueprint()


@route(bp, clients.LIST_CLIENTS)
def list_clients(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.LIST_CLIENTS, req)


@route(bp, clients.GET_CLIENT)
def get_client(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.GET_CLIENT, req)


@route(bp, clients.PUT_CLIENT)
def put_client(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.PUT_CLIENT, req)


@route(bp, clients.DELETE_CLIENT)
def delete_client(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.DELETE_CLIENT, req)


@route(bp, clients.PREVIEW)
def preview_entry(req: func.HttpRequest) -> func.HttpResponse:
    return serve(clients.PREVIEW, req)
