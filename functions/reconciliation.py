"""Aansluiting: the API route, the weekly timer and its per-office queue worker."""

import azure.functions as func

from functions._http import route, serve
from shared.api.handlers import reconciliation
from shared.bootstrap import get_services
from shared.reconciliation.weekly import (
    RECONCILIATION_POISON_QUEUE,
    RECONCILIATION_QUEUE,
    process_office_message,
    process_poison_message,
    weekly_tick,
)

bp = func.Blueprint()

# Daily at 05:20 UTC; the job runs only on RECONCILIATION_WEEKDAY (Europe/Amsterdam), as the
# nightly gates on NIGHTLY_LOCAL_HOUR.
RECONCILIATION_SCHEDULE = "0 20 5 * * *"


@route(bp, reconciliation.GET_RECONCILIATION)
def get_client_reconciliation(req: func.HttpRequest) -> func.HttpResponse:
    return serve(reconciliation.GET_RECONCILIATION, req)


@bp.timer_trigger(
    schedule=RECONCILIATION_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=True
)
def weekly_reconciliation(timer: func.TimerRequest) -> None:
    weekly_tick(get_services())


@bp.queue_trigger(arg_name="msg", queue_name=RECONCILIATION_QUEUE, connection="AzureWebJobsStorage")
def reconciliation_worker(msg: func.QueueMessage) -> None:
    process_office_message(get_services(), msg.get_body())


@bp.queue_trigger(
    arg_name="msg", queue_name=RECONCILIATION_POISON_QUEUE, connection="AzureWebJobsStorage"
)
def reconciliation_worker_poison(msg: func.QueueMessage) -> None:
    process_poison_message(get_services(), msg.get_body())
