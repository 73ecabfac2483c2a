"""HTTP: AFAS connections (Profit token, SB consent, its OAuth callback and App Center landing
page, the SB environments and administrations, the Profit administrations and journals the client
form lists)."""

import azure.functions as func

from functions._http import route, serve
from shared.api.handlers import afas_connections as afas

bp = func.Blueprint()


@route(bp, afas.PROFIT_CONNECT)
def afas_profit_connect(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.PROFIT_CONNECT, req)


@route(bp, afas.SB_CONNECT)
def afas_sb_connect(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_CONNECT, req)


@route(bp, afas.SB_CALLBACK)
def afas_sb_callback(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_CALLBACK, req)


@route(bp, afas.SB_LANDING)
def afas_sb_landing(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_LANDING, req)


@route(bp, afas.SB_ENVIRONMENTS)
def afas_sb_environments(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_ENVIRONMENTS, req)


@route(bp, afas.SB_ADMINISTRATIONS)
def afas_sb_administrations(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_ADMINISTRATIONS, req)


@route(bp, afas.PROFIT_ADMINISTRATIONS)
def afas_profit_administrations(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.PROFIT_ADMINISTRATIONS, req)


@route(bp, afas.PROFIT_JOURNALS)
def afas_profit_journals(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.PROFIT_JOURNALS, req)
