"""The Bicep, checked offline: it parses, the modules wire up, and the security settings hold."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from shared.api import catalog
from shared.api.handlers import system
from shared.settings import Settings
from tests.infra.bicep import (
    APP,
    INFRA,
    app_settings,
    bicep_files,
    module,
    object_keys,
    only,
    output_references,
    parameters_file,
    parse,
    resolve_variables,
    resources,
    strings,
)

EXPECTED_MODULES = {
    "identity": "app/identity.bicep",
    "storage": "app/storage.bicep",
    "monitoring": "app/monitoring.bicep",
    "keyVault": "app/keyvault.bicep",
    "rbac": "app/rbac.bicep",
    "api": "app/api.bicep",
    "auth": "app/auth.bicep",
    "alerts": "app/alerts.bicep",
    "workbook": "app/workbook.bicep",
}
ROLE = {
    "b7e6dc6d-f1e8-4753-8033-0f276bb0955b": "Storage Blob Data Owner",
    "974c5e8b-45b9-4653-ba55-5f855dd0fb88": "Storage Queue Data Contributor",
    "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3": "Storage Table Data Contributor",
    "3913510d-42f4-4e42-8a64-420c390055eb": "Monitoring Metrics Publisher",
    "4633458b-17de-408a-b874-0445c86b69e6": "Key Vault Secrets User",
}


def fn(node: Any) -> dict[str, Any]:
    assert isinstance(node, dict) and "function" in node, node
    return dict(node["function"])


@pytest.mark.parametrize("path", bicep_files(), ids=lambda p: str(p.relative_to(INFRA)))
def test_every_bicep_file_parses(path: Path) -> None:
    doc = parse(path)
    assert doc.get("resources") or doc.get("modules"), f"{path.name} declares nothing"


def test_main_wires_every_module() -> None:
    main = module("main.bicep")
    assert main["globals"]["scope"]["value"] == "subscription"
    found = {name: m["detail"]["path"] for name, m in main["modules"].items()}
    assert found == EXPECTED_MODULES
    assert {p.relative_to(INFRA).as_posix() for p in bicep_files()} == {
        "main.bicep",
        *EXPECTED_MODULES.values(),
    }


@pytest.mark.parametrize("symbol", sorted(EXPECTED_MODULES))
def test_module_params_and_outputs_match(symbol: str) -> None:
    main = module("main.bicep")
    config = main["modules"][symbol]["config"]
    target = module(EXPECTED_MODULES[symbol])
    declared = target.get("parameters", {})
    passed = set(config["params"])
    assert passed <= set(declared), f"unknown params for {symbol}: {passed - set(declared)}"
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= passed, f"{symbol} misses required params {required - passed}"
    for module_symbol, output in output_references(main):
        outputs = module(EXPECTED_MODULES[module_symbol]).get("outputs", {})
        assert output in outputs, f"{module_symbol}.outputs.{output} does not exist"


def test_parameters_file_matches_main_parameters() -> None:
    declared = module("main.bicep")["parameters"]
    given = parameters_file()
    assert set(given) <= set(declared), set(given) - set(declared)
    required = {name for name, p in declared.items() if p["default"] is None}
    assert required <= set(given), f"no value for required params {required - set(given)}"
    for name, entry in given.items():
        # azd substitution: ${NAME} or ${NAME=default}; a default cannot contain braces.
        assert re.fullmatch(r"\$\{[A-Z0-9_]+(=[^{}]*)?\}", entry["value"]), (name, entry)


def test_secret_parameters_are_secure_everywhere() -> None:
    for path in [INFRA / "main.bicep", APP / "keyvault.bicep"]:
        for name, param in parse(path)["parameters"].items():
            if re.search(r"secret|key$|keys", name, re.IGNORECASE) and param["type"] == "string":
                decorators = {d["type"] for d in param["decorators"]}
                assert "secure" in decorators, f"{path.name}: {name} must be @secure()"


def test_flex_consumption_linux_python_311() -> None:
    api = module("app/api.bicep")
    plan = only(api, "Microsoft.Web/serverfarms")
    assert plan["sku"] == {"name": "FC1", "tier": "FlexConsumption"}
    assert plan["properties"]["reserved"] is True
    site = only(api, "Microsoft.Web/sites")
    assert site["kind"] == "functionapp,linux"
    config = site["properties"]["functionAppConfig"]
    assert config["runtime"] == {"name": "python", "version": "3.11"}
    assert config["deployment"]["storage"]["authentication"]["type"] == "UserAssignedIdentity"
    assert site["identity"]["type"] == "UserAssigned"


def test_site_is_https_only_tls12_without_ftp_or_basic_auth() -> None:
    api = module("app/api.bicep")
    site = only(api, "Microsoft.Web/sites")
    assert site["properties"]["httpsOnly"] is True
    assert site["properties"]["siteConfig"]["minTlsVersion"] == "1.2"
    assert site["properties"]["siteConfig"]["scmMinTlsVersion"] == "1.2"
    assert site["properties"]["siteConfig"]["ftpsState"] == "Disabled"
    policies = resources(api, "Microsoft.Web/sites/basicPublishingCredentialsPolicies")
    assert {p["name"]: p["properties"]["allow"] for p in policies.values()} == {
        "ftp": False,
        "scm": False,
    }


def test_storage_account_is_keyless() -> None:
    account = only(module("app/storage.bicep"), "Microsoft.Storage/storageAccounts")
    props = account["properties"]
    assert props["allowSharedKeyAccess"] is False
    assert props["allowBlobPublicAccess"] is False
    assert props["minimumTlsVersion"] == "TLS1_2"
    assert props["supportsHttpsTrafficOnly"] is True
    assert props["defaultToOAuthAuthentication"] is True
    for path in bicep_files():
        text = path.read_text()
        for forbidden in (
            "listKeys(",
            "AccountKey=",
            "listConnectionStrings",
            "InstrumentationKey=",
        ):
            assert forbidden not in text, f"{path.name} uses {forbidden}"


def test_host_storage_is_identity_based() -> None:
    settings = app_settings()
    assert settings["AzureWebJobsStorage__credential"] == "managedidentity"
    assert settings["AzureWebJobsStorage__clientId"] == "identityClientId"
    for service in ("blob", "queue", "table"):
        value = settings[f"AzureWebJobsStorage__{service}ServiceUri"]
        assert "primaryEndpoints" in str(value), value
    assert "AzureWebJobsStorage" not in settings  # no connection string in Azure


def test_key_vault_references_for_every_secret() -> None:
    api = module("app/api.bicep")
    settings = app_settings()
    assert api["variables"]["keyVaultReference"]["value"] == "@Microsoft.KeyVault(SecretUri="
    references = {
        "LOKET_CLIENT_SECRET": "loketClientSecretUri",
        "AFAS_SB_CLIENT_SECRET": "afasSbClientSecretUri",
        "TOKEN_ENCRYPTION_KEY": "tokenEncryptionKeySecretUri",
        "TOKEN_ENCRYPTION_KEYS_PREVIOUS": "tokenEncryptionKeysPreviousSecretUri",
        "MICROSOFT_PROVIDER_AUTHENTICATION_SECRET": "authClientSecretUri",
    }
    for setting, uri_param in references.items():
        assert settings[setting] == "${keyVaultReference}${" + uri_param + "})", setting
        wired = module("main.bicep")["modules"]["api"]["config"]["params"][uri_param]
        assert ("keyVault", uri_param) in set(output_references(wired)), uri_param
    site = only(api, "Microsoft.Web/sites")
    assert site["properties"]["keyVaultReferenceIdentity"] == "identityId"


def test_key_vault_is_rbac_mode_with_purge_protection() -> None:
    kv = module("app/keyvault.bicep")
    vault = only(kv, "Microsoft.KeyVault/vaults")["properties"]
    assert vault["enableRbacAuthorization"] is True
    assert vault["enablePurgeProtection"] is True
    assert vault["enableSoftDelete"] is True
    assert vault["softDeleteRetentionInDays"] >= 7
    secrets = {
        kv["variables"][r["name"]]["value"]
        for r in resources(kv, "Microsoft.KeyVault/vaults/secrets").values()
    }
    assert secrets >= {"token-encryption-key", "loket-client-secret", "afas-sb-client-secret"}
    for output in kv["outputs"].values():  # URIs only, never a value
        assert not {"tokenEncryptionKey", "loketClientSecret", "afasSbClientSecret"} & set(
            strings(output)
        )


def test_role_assignments_for_the_identity() -> None:
    rbac = module("app/rbac.bicep")
    role_vars = {name: var["value"] for name, var in rbac["variables"].items()}
    assigned: dict[str, str] = {}
    for symbol, assignment in resources(rbac, "Microsoft.Authorization/roleAssignments").items():
        props = assignment["properties"]
        role_var = fn(props["roleDefinitionId"])["parameters"]["resource_name_1"]
        principal = props["principalId"]
        scope = assignment["scope"]
        # Idempotent names: guid(scope.id, principal, role).
        name = fn(assignment["name"])
        assert name["type"] == "guid", symbol
        parts = list(name["parameters"].values())
        assert parts[0] == {
            "operator": {
                "type": "property_accessor",
                "operands": {"operand_1": scope, "operand_2": "id"},
            }
        }, symbol
        assert parts[1:] == [principal, role_var], symbol
        if principal == "managedIdentityPrincipalId":
            assert props["principalType"] == "ServicePrincipal"
            assigned[role_vars[role_var]] = scope
    assert {ROLE[role]: scope for role, scope in assigned.items()} == {
        "Storage Blob Data Owner": "storageAccount",
        "Storage Queue Data Contributor": "storageAccount",
        "Storage Table Data Contributor": "storageAccount",
        "Monitoring Metrics Publisher": "applicationInsights",
        "Key Vault Secrets User": "vault",
    }


def test_application_insights_without_local_auth() -> None:
    monitoring = module("app/monitoring.bicep")
    insights = only(monitoring, "Microsoft.Insights/components")["properties"]
    assert insights["DisableLocalAuth"] is True
    assert insights["WorkspaceResourceId"] == {
        "operator": {
            "type": "property_accessor",
            "operands": {"operand_1": "logAnalytics", "operand_2": "id"},
        }
    }
    settings = app_settings()
    assert settings["APPLICATIONINSIGHTS_AUTHENTICATION_STRING"] == (
        "ClientId=${identityClientId};Authorization=AAD"
    )
    assert "ConnectionString" in str(settings["APPLICATIONINSIGHTS_CONNECTION_STRING"])
    # The app calls configure_azure_monitor itself; the worker's own switch would export twice.
    assert "PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY" not in settings


def test_easy_auth_requires_sign_in_except_health_and_oauth_callbacks() -> None:
    auth = module("app/auth.bicep")
    config = only(auth, "Microsoft.Web/sites/config")
    assert config["name"] == "authsettingsV2"
    props = config["properties"]
    assert props["platform"]["enabled"] is True
    validation = props["globalValidation"]
    assert validation["requireAuthentication"] is True
    assert validation["unauthenticatedClientAction"] == "Return401"
    excluded = resolve_variables(auth, validation["excludedPaths"])
    settings = Settings.from_env(
        {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "LOONBRUG_ENVIRONMENT": "development"}
    )
    callbacks = {
        settings.redirect_uri(provider).removeprefix(settings.public_base_url)
        for provider in ("loket", "afas-sb")
    }
    assert set(excluded) == {system.HEALTH.path} | callbacks
    assert catalog.OPENAPI.path not in excluded  # contract §2: only health and the callbacks
    assert props["httpSettings"]["requireHttps"] is True
    aad = props["identityProviders"]["azureActiveDirectory"]
    assert aad["enabled"] is True
    assert aad["registration"]["clientId"] == "clientId"


def test_alert_rules_action_group_and_workbook_exist() -> None:
    alerts = module("app/alerts.bicep")
    group = only(alerts, "Microsoft.Insights/actionGroups")
    assert group["properties"]["emailReceivers"][0]["emailAddress"] == "alertEmail"
    rules = resources(alerts, "Microsoft.Insights/scheduledQueryRules")
    assert set(rules) == {"noSuccessfulNightly", "poisonMessage", "failureRate", "reauthorize"}
    for symbol, rule in rules.items():
        props = rule["properties"]
        assert props["scopes"] == ["applicationInsightsId"], symbol
        assert props["enabled"] is True
        criterion = props["criteria"]["allOf"][0]
        query = fn(criterion["query"])
        assert query["type"] == "load_text_content"
        kql_path = APP / query["parameters"]["file_path"]
        kql = kql_path.read_text()
        for dimension in criterion.get("dimensions", []):
            assert re.search(rf"\b{dimension['name']}\b", kql), (symbol, dimension["name"])
        if "metricMeasureColumn" in criterion:
            assert criterion["metricMeasureColumn"] in kql
        assert props["actions"]["actionGroups"] == [
            {
                "operator": {
                    "type": "property_accessor",
                    "operands": {"operand_1": "actionGroup", "operand_2": "id"},
                }
            }
        ]
    assert rules["failureRate"]["properties"]["criteria"]["allOf"][0]["threshold"] == (
        "failureRateThresholdPercent"
    )

    workbook = only(module("app/workbook.bicep"), "Microsoft.Insights/workbooks")
    assert workbook["kind"] == "shared"
    data = fn(workbook["properties"]["serializedData"])
    assert (APP / data["parameters"]["file_path"]).is_file()
    assert workbook["properties"]["sourceId"] == "applicationInsightsId"


def test_outputs_tell_the_operator_the_redirect_uris() -> None:
    outputs = module("main.bicep")["outputs"]
    assert outputs["LOKET_REDIRECT_URI"]["value"].endswith("/api/oauth/loket/callback")
    assert outputs["AFAS_SB_REDIRECT_URI"]["value"].endswith("/api/oauth/afas-sb/callback")
    keys = object_keys({name: None for name in outputs})
    assert {"SERVICE_API_NAME", "AZURE_FUNCTION_NAME", "PUBLIC_BASE_URL"} <= keys


def _queue_triggers() -> set[str]:
    """``queue_name=`` of every queue trigger in functions/*.py, resolved as the module has it."""
    import ast
    import importlib

    found: set[str] = set()
    for path in sorted((INFRA.parent / "functions").glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if keyword.arg != "queue_name":
                    continue
                value = keyword.value
                if isinstance(value, ast.Constant):
                    found.add(str(value.value))
                else:
                    assert isinstance(value, ast.Name), ast.dump(value)
                    found.add(getattr(importlib.import_module(f"functions.{path.stem}"), value.id))
    return found


def test_storage_creates_every_queue_the_functions_read_and_write() -> None:
    """Every queue trigger's queue (and its poison queue) and every queue the app sends to is
    declared in storage.bicep, by the names the code uses."""
    from shared.reconciliation.weekly import RECONCILIATION_QUEUE
    from shared.sync.messages import SYNC_POISON_QUEUE, SYNC_QUEUE

    triggered = _queue_triggers()
    assert {SYNC_QUEUE, SYNC_POISON_QUEUE, RECONCILIATION_QUEUE} <= triggered
    storage = module("app/storage.bicep")
    queues = resources(storage, "Microsoft.Storage/storageAccounts/queueServices/queues")
    declared = {q["name"].strip("'") for q in queues.values()}
    poison = {f"{q}-poison" for q in triggered if not q.endswith("-poison")}
    assert declared == triggered | poison | {SYNC_QUEUE, RECONCILIATION_QUEUE}
    service = only(storage, "Microsoft.Storage/storageAccounts/queueServices")
    assert service["parent"] == "storage"
    assert all(q["parent"] == "queueServices" for q in queues.values())
