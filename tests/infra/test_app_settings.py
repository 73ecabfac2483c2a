"""Every setting the app reads is set by the Bicep (or is a documented optional one), and the
settings the Bicep sets make the app start in production mode."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from shared.settings import Environment, Settings
from tests.infra.bicep import ROOT, app_settings, module
from tests.unit.test_bindings import RecordingEnv

# Read by shared/settings.py but deliberately not set by infra/app/api.bicep. docs/operations.md
# repeats this list for operators.
OPTIONAL_IN_AZURE = {
    "AzureWebJobsStorage": "connection-string form, local only (Azurite); Azure uses the identity-based __* settings",
    "AzureWebJobsStorage__accountName": "short identity-based form; the Bicep sets the per-service URIs instead",
    "WEBSITE_INSTANCE_ID": "set by the platform on every instance",
    "WEBSITE_SITE_NAME": "set by the platform",
    "WEBSITE_AUTH_ENABLED": "set by the platform when App Service Authentication is on (auth.bicep)",
    "SMTP_HOST": "local only: notifications through an SMTP server (the SMTP sandbox); Azure uses ACS_EMAIL_ENDPOINT",
    "SMTP_PORT": "local only, with SMTP_HOST (default 25)",
}
# In local.settings.sample.json for the local host only.
LOCAL_ONLY = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsFeatureFlags"}


def names_the_app_reads() -> set[str]:
    env = RecordingEnv(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "LOONBRUG_ENVIRONMENT": "development"}
    )
    Settings.from_env(env)
    # As in Azure: identity-based storage, platform variables present.
    azure = RecordingEnv(
        {"AzureWebJobsStorage__accountName": "acct", "WEBSITE_SITE_NAME": "func-loonbrug"}
        | {k: v for k, v in env.items() if k != "AzureWebJobsStorage"}
    )
    Settings.from_env(azure)
    return env.asked | azure.asked


def test_every_setting_the_app_reads_is_provided_or_optional() -> None:
    read = names_the_app_reads()
    provided = set(app_settings())
    missing = read - provided - set(OPTIONAL_IN_AZURE)
    assert not missing, (
        f"settings read by the app but not set by infra/app/api.bicep: {sorted(missing)}"
    )
    assert {"TOKEN_ENCRYPTION_KEY", "LOKET_CLIENT_SECRET", "PUBLIC_BASE_URL"} <= read & provided
    assert set(OPTIONAL_IN_AZURE) <= read, "stale names in OPTIONAL_IN_AZURE"


def test_every_sample_setting_is_provided_in_azure() -> None:
    sample = set(json.loads((ROOT / "local.settings.sample.json").read_text())["Values"])
    missing = sample - set(app_settings()) - set(OPTIONAL_IN_AZURE) - LOCAL_ONLY
    assert not missing, f"in local.settings.sample.json but not in the Bicep: {sorted(missing)}"


def test_optional_settings_are_documented_for_operators() -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    for name in OPTIONAL_IN_AZURE:
        assert f"`{name}`" in operations, name


def _plausible(name: str, expression: Any, identifiers: set[str]) -> str:
    """A value the platform would put in place of a Bicep expression (literals stay as they are)."""
    if isinstance(expression, str) and expression.startswith("${keyVaultReference}"):
        return base64.b64encode(b"k" * 32).decode() if "TOKEN_ENCRYPTION" in name else "secret"
    if (
        isinstance(expression, str)
        and not expression.startswith("${")
        and expression not in identifiers
    ):
        return expression  # a literal, e.g. 'production' or 'managedidentity'
    service = re.search(r"__(\w+?)ServiceUri", name)
    if service:
        return f"https://stacct.{service.group(1).lower()}.core.windows.net/"
    return {
        "PUBLIC_BASE_URL": "https://func-loonbrug.azurewebsites.net",
        "PORTAL_URL": "https://func-loonbrug.azurewebsites.net/api/portal/",
        "NIGHTLY_LOCAL_HOUR": "2",
        "RECONCILIATION_WEEKDAY": "1",
        "AUDIT_RETENTION_YEARS": "7",
        "ACS_EMAIL_ENDPOINT": "https://acs-loonbrug.europe.communication.azure.com",
        "NOTIFY_SENDER": "loonbrug@mail.example.nl",
        "LOKET_AUTH_URL": "https://oauth.loket.nl",
        "LOKET_API_URL": "https://api.loket.nl/v2",
        "AFAS_PROFIT_URL": "https://{environment}.rest.afas.online/ProfitRestServices",
        "AFAS_SB_URL": "https://afas-sb.afasfocus.nl/{environment}",
        "AFAS_INTEGRATION_ID": "12345_678900",
    }.get(name, "value")


def test_the_bicep_settings_start_the_app_in_production() -> None:
    api = module("app/api.bicep")
    identifiers = set(api["parameters"]) | set(api["variables"])
    env = {name: _plausible(name, value, identifiers) for name, value in app_settings().items()}
    assert env["LOONBRUG_ENVIRONMENT"] == "production"
    assert env["AzureWebJobsStorage__credential"] == "managedidentity"
    env.update({"WEBSITE_SITE_NAME": "func-loonbrug", "WEBSITE_AUTH_ENABLED": "True"})
    settings = Settings.from_env(env)
    assert settings.environment is Environment.PRODUCTION
    assert settings.storage.identity_based
    assert settings.storage.managed_identity_client_id is not None
    assert settings.storage.blob_service_uri is not None
    assert settings.trusts_principal_header  # Easy Auth is on
    assert settings.appinsights_connection_string is not None
    assert settings.audit_retention_years == 7
    assert settings.email_configured
    assert settings.afas_integration_id == "12345_678900"  # azd env AFAS_INTEGRATION_ID
    # The OAuth callbacks land on the portal, not on the Functions default page at "/".
    assert settings.consent_landing_url() == (
        "https://func-loonbrug.azurewebsites.net/api/portal/#/connections"
    )


def test_the_afas_integration_id_reaches_the_app_from_the_azd_environment() -> None:
    main = module("main.bicep")
    assert main["parameters"]["afasIntegrationId"]["default"] == ""
    parameters = json.loads((ROOT / "infra" / "main.parameters.json").read_text())["parameters"]
    assert parameters["afasIntegrationId"]["value"] == "${AFAS_INTEGRATION_ID}"
    assert app_settings()["AFAS_INTEGRATION_ID"] == "afasIntegrationId"
    # An empty parameter is an empty setting: the app then sends no IntegrationId header.
    assert (
        Settings.from_env(
            {
                "AzureWebJobsStorage": "UseDevelopmentStorage=true",
                "LOONBRUG_ENVIRONMENT": "development",
            }
            | {"AFAS_INTEGRATION_ID": ""}
        ).afas_integration_id
        is None
    )


def test_audit_container_is_immutable_and_deleted_after_retention() -> None:
    from tests.infra.bicep import only

    storage = module("app/storage.bicep")
    assert storage["parameters"]["auditRetentionYears"]["default"] == 7
    container = only(
        storage, "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies"
    )
    assert container["properties"]["immutabilityPeriodSinceCreationInDays"] == "auditRetentionDays"
    assert container["properties"]["allowProtectedAppendWrites"] is False
    policy = only(storage, "Microsoft.Storage/storageAccounts/managementPolicies")
    rule = policy["properties"]["policy"]["rules"][0]
    assert rule["definition"]["filters"]["prefixMatch"] == ["${auditContainerName}/"]
    assert (
        rule["definition"]["actions"]["baseBlob"]["delete"]["daysAfterCreationGreaterThan"]
        == "auditRetentionDays"
    )
    assert (
        storage["variables"]["auditContainerName"]["value"] == "audit"
    )  # shared/store/audit_copies.py
