"""The Function App: create it, check the settings, register one blueprint per trigger group."""

import azure.functions as func

from functions import afas, nightly, system, worker
from shared.settings import get_settings

# Read the settings now: a missing or malformed one stops the app at start, naming it.
get_settings()

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)
for blueprint in (system.bp, nightly.bp, worker.bp, afas.bp):
    app.register_functions(blueprint)
