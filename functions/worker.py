"""Queue: the sync worker and its poison-queue handler."""

import azure.functions as func

from shared.bootstrap import get_services
from shared.sync import entrypoints
from shared.sync.messages import SYNC_POISON_QUEUE, SYNC_QUEUE

bp = func.Blueprint()


@bp.queue_trigger(arg_name="msg", queue_name=SYNC_QUEUE, connection="AzureWebJobsStorage")
def sync_worker(msg: func.QueueMessage) -> None:
    entrypoints.process_job_message(
        get_services(),
        msg.get_body(),
        dequeue_count=msg.dequeue_count or 1,
        message_id=msg.id or "",
    )


@bp.queue_trigger(arg_name="msg", queue_name=SYNC_POISON_QUEUE, connection="AzureWebJobsStorage")
def sync_worker_poison(msg: func.QueueMessage) -> None:
    entrypoints.process_poison_message(
        get_services(), msg.get_body(), dequeue_count=msg.dequeue_count or 1
    )
