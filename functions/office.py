"""HTTP: review mode (approvals), notification settings, audit documents and exports."""

import azure.functions as func

from functions._http import route, serve
from shared.api.handlers import approvals, documents, notifications

bp = func.Blueprint()


@route(bp, approvals.LIST_APPROVALS)
def list_approvals(req: func.HttpRequest) -> func.HttpResponse:
    return serve(approvals.LIST_APPROVALS, req)


@route(bp, approvals.APPROVE)
def approve_journal_run(req: func.HttpRequest) -> func.HttpResponse:
    return serve(approvals.APPROVE, req)


@route(bp, approvals.REJECT)
def reject_journal_run(req: func.HttpRequest) -> func.HttpResponse:
    return serve(approvals.REJECT, req)


@route(bp, notifications.GET_NOTIFICATIONS)
def get_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return serve(notifications.GET_NOTIFICATIONS, req)


@route(bp, notifications.PUT_NOTIFICATIONS)
def put_notifications(req: func.HttpRequest) -> func.HttpResponse:
    return serve(notifications.PUT_NOTIFICATIONS, req)


@route(bp, documents.LIST_DOCUMENTS)
def list_journal_run_documents(req: func.HttpRequest) -> func.HttpResponse:
    return serve(documents.LIST_DOCUMENTS, req)


@route(bp, documents.GET_DOCUMENT)
def get_journal_run_document(req: func.HttpRequest) -> func.HttpResponse:
    return serve(documents.GET_DOCUMENT, req)


@route(bp, documents.EXPORT_CSV)
def export_journal_run_csv(req: func.HttpRequest) -> func.HttpResponse:
    return serve(documents.EXPORT_CSV, req)


@route(bp, documents.EXPORT_JSON)
def export_journal_run_json(req: func.HttpRequest) -> func.HttpResponse:
    return serve(documents.EXPORT_JSON, req)
