"""HTTP: AFAS connections (Profit token, SB consent, its OAuth callback and App Center landing
page, the SB environments and administrations, the Profit administrations and journals the client
form lists)."""

import azure.functions as func

from functions._http import serve
from shared.api.handlers import afas_connections as afas

bp = func.Blueprint()


@bp.route(route=afas.PROFIT_CONNECT.route, methods=["PUT"], auth_level=func.AuthLevel.ANONYMOUS)
def afas_profit_connect(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.PROFIT_CONNECT, req)


@bp.route(route=afas.SB_CONNECT.route, methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
def afas_sb_connect(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_CONNECT, req)


@bp.route(route=afas.SB_CALLBACK.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def afas_sb_callback(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_CALLBACK, req)


@bp.route(route=afas.SB_LANDING.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def afas_sb_landing(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_LANDING, req)


@bp.route(route=afas.SB_ENVIRONMENTS.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def afas_sb_environments(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_ENVIRONMENTS, req)


@bp.route(route=afas.SB_ADMINISTRATIONS.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def afas_sb_administrations(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.SB_ADMINISTRATIONS, req)


@bp.route(
    route=afas.PROFIT_ADMINISTRATIONS.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS
)
def afas_profit_administrations(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.PROFIT_ADMINISTRATIONS, req)


@bp.route(route=afas.PROFIT_JOURNALS.route, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def afas_profit_journals(req: func.HttpRequest) -> func.HttpResponse:
    return serve(afas.PROFIT_JOURNALS, req)
