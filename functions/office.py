"""HTTP: review mode (approvals), notification settings, audit documents and exports."""

import azure.functions as func

from functions._http import serve
from shared.api.handlers import approvals, documents, notifications

bp = func.Blueprint()
ANONYMOUS = func.AuthLevel.ANONYMOUS  # Easy Auth signs users in; see docs/architecture.md


@bp.route(route=approvals.LIST_APPROVALS.route, methods=["GET"], auth_level=ANONYMOUS)
def list_approvals(req: func.HttpRequest) -> func.HttpResponse:
    return serve(approvals.LIST_APPROVALS, req)


@bp.route(route=approvals.APPROVE.route, methods=["POST"], auth_level=ANONYMOUS)
def approve_journal_run(req: func.HttpRequest) -> func.HttpResponse:
    return serve(approvals.APPROVE, req)


@bp.route(route=approvals.REJECT.route, methods=["POST"], auth_level=ANONYMOUS)
def reject_journal_run(req: func.HttpRequest) -> func.HttpResponse:
    return serve(approvals.REJECT, req)


@bp.route(route=notifications.GET_NOTIFICATIONS.route, methods=["GET"], auth_level=ANONYMOUS)
def get_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return serve(notifications.GET_NOTIFICATIONS, req)


@bp.route(route=notifications.PUT_NOTIFICATIONS.route, methods=["PUT"], auth_level=ANONYMOUS)
def put_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return serve(notifications.PUT_NOTIFICATIONS, req)


@bp.route(route=documents.LIST_DOCUMENTS.route, methods=["GET"], auth_level=ANONYMOUS)
def list_journal_run_documents(req: func.HttpRequest) -> func.HttpResponse:
    return serve(documents.LIST_DOCUMENTS, req)


@bp.route(route=documents.GET_DOCUMENT.route, methods=["GET"], auth_level=ANONYMOUS)
def get_journal_run_document(req: func.HttpRequest) -> func.HttpResponse:
    return serve(documents.GET_DOCUMENT, req)


@bp.route(route=documents.EXPORT_CSV.route, methods=["GET"], auth_level=ANONYMOUS)
def export_journal_run_csv(req: func.HttpRequest) -> func.HttpResponse:
    return serve(documents.EXPORT_CSV, req)


@bp.route(route=documents.EXPORT_JSON.route, methods=["GET"], auth_level=ANONYMOUS)
def export_journal_run_json(req: func.HttpRequest) -> func.HttpResponse:
    return serve(documents.EXPORT_JSON, req)
