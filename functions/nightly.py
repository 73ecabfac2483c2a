"""Timer: the nightly sync. Fires hourly in UTC; the planner gates on the Amsterdam hour."""

import azure.functions as func

from shared.bootstrap import get_services
from shared.sync import entrypoints

bp = func.Blueprint()

# Hourly at minute 5 (UTC; Flex Consumption has no time zones). See shared/sync/planner.py.
NIGHTLY_SCHEDULE = "0 5 * * * *"


@bp.timer_trigger(
    schedule=NIGHTLY_SCHEDULE, arg_name="timer", run_on_startup=False, use_monitor=True
)
def nightly_sync(timer: func.TimerRequest) -> None:
    entrypoints.nightly_tick(get_services(), past_due=timer.past_due)
