"""The Function App: create it, check the settings, switch telemetry on, register the blueprints."""

import azure.functions as func

from functions import (
    afas,
    clients,
    connections,
    nightly,
    office,
    portal,
    reconciliation,
    runs,
    system,
    worker,
)
from shared import telemetry
from shared.settings import get_settings

# Read the settings now: a missing or malformed one stops the app at start, naming it.
settings = get_settings()
# Application Insights when APPLICATIONINSIGHTS_CONNECTION_STRING is set; log redaction always.
telemetry.configure(settings)

# The one place for the HTTP auth level: ANONYMOUS at the function level, because Easy Auth
# signs users in before a request reaches us (function keys would collide with OAuth's ?code=).
app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in (
    system.bp,
    connections.bp,
    afas.bp,
    clients.bp,
    runs.bp,
    office.bp,
    nightly.bp,
    worker.bp,
    portal.bp,
    reconciliation.bp,
):
    app.register_functions(blueprint)
