import base64

import pytest

from shared.settings import DEFAULT_AFAS_PROFIT_URL, Settings, SettingsError

KEY = base64.b64encode(b"x" * 32).decode()
CONN = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=abc=="


def prod_env(**extra: str) -> dict[str, str]:
    env = {
        "AzureWebJobsStorage": CONN,
        "LOKET_CLIENT_ID": "id",
        "LOKET_CLIENT_SECRET": "secret",
        "AFAS_SB_CLIENT_ID": "sb",
        "AFAS_SB_CLIENT_SECRET": "sbsecret",
        "TOKEN_ENCRYPTION_KEY": KEY,
    }
    env.update(extra)
    return env


def test_defaults_follow_the_contract() -> None:
    settings = Settings.from_env(prod_env())
    assert settings.public_base_url == "http://127.0.0.1:7071"
    assert settings.loket_auth_url == "https://oauth.loket.nl"
    assert settings.loket_api_url == "https://api.loket.nl/v2"
    assert settings.afas_profit_url == DEFAULT_AFAS_PROFIT_URL
    assert settings.nightly_local_hour == 2
    assert settings.redirect_uri("loket") == "http://127.0.0.1:7071/api/oauth/loket/callback"
    assert not settings.is_development


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LOKET_CLIENT_ID", "", "setting LOKET_CLIENT_ID: is missing"),
        ("TOKEN_ENCRYPTION_KEY", "", "setting TOKEN_ENCRYPTION_KEY: is missing"),
        (
            "TOKEN_ENCRYPTION_KEY",
            "not-base64!",
            "setting TOKEN_ENCRYPTION_KEY: is not valid base64",
        ),
        ("TOKEN_ENCRYPTION_KEY", base64.b64encode(b"short").decode(), "exactly 32 bytes"),
        ("NIGHTLY_LOCAL_HOUR", "25", "setting NIGHTLY_LOCAL_HOUR: must be between 0 and 23"),
        ("NIGHTLY_LOCAL_HOUR", "two", "setting NIGHTLY_LOCAL_HOUR: is not a whole number"),
        ("PUBLIC_BASE_URL", "ftp://x", "setting PUBLIC_BASE_URL: is not an http(s) URL"),
        ("AFAS_PROFIT_URL", "https://x.example", "must contain the placeholder {environment}"),
        ("AzureWebJobsStorage", "nonsense", "setting AzureWebJobsStorage: is not a storage"),
        ("LOONBRUG_ENVIRONMENT", "staging", "setting LOONBRUG_ENVIRONMENT: must be one of"),
        ("AFAS_INTEGRATION_ID", "Loonbrug", "setting AFAS_INTEGRATION_ID: must be the AFAS"),
        ("AFAS_INTEGRATION_ID", "12345-678900", "setting AFAS_INTEGRATION_ID: must be the AFAS"),
    ],
)
def test_a_bad_setting_fails_with_one_line_naming_it(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(prod_env(**{name: value}))
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert caught.value.setting == name


def test_afas_integration_id_is_optional_and_read_as_given() -> None:
    assert Settings.from_env(prod_env()).afas_integration_id is None
    assert Settings.from_env(prod_env(AFAS_INTEGRATION_ID="")).afas_integration_id is None
    given = Settings.from_env(prod_env(AFAS_INTEGRATION_ID=" 12345_678900 "))
    assert given.afas_integration_id == "12345_678900"


def test_missing_storage_is_named() -> None:
    env = prod_env()
    del env["AzureWebJobsStorage"]
    with pytest.raises(SettingsError, match="setting AzureWebJobsStorage: is missing"):
        Settings.from_env(env)


def test_identity_based_storage_from_account_name() -> None:
    env = prod_env()
    del env["AzureWebJobsStorage"]
    env["AzureWebJobsStorage__accountName"] = "stloonbrug"
    env["AzureWebJobsStorage__clientId"] = "11111111-2222-3333-4444-555555555555"
    storage = Settings.from_env(env).storage
    assert storage.identity_based
    assert storage.table_service_uri == "https://stloonbrug.table.core.windows.net"
    assert storage.queue_service_uri == "https://stloonbrug.queue.core.windows.net"
    assert storage.managed_identity_client_id == "11111111-2222-3333-4444-555555555555"


def test_development_allows_missing_oauth_clients_and_key() -> None:
    settings = Settings.from_env(
        {"AzureWebJobsStorage": CONN, "LOONBRUG_ENVIRONMENT": "development"}
    )
    assert settings.loket_client_id is None
    assert len(settings.encryption_keys) == 1


def test_secrets_do_not_show_in_repr() -> None:
    settings = Settings.from_env(prod_env())
    text = repr(settings)
    assert "secret" not in text.replace("Secret(", "").replace("_secret", "")
    assert KEY not in text
    assert "AccountKey=abc" not in text


def test_principal_header_is_trusted_only_with_easy_auth_or_in_dev() -> None:
    assert not Settings.from_env(prod_env()).trusts_principal_header
    in_azure_no_auth = Settings.from_env(
        prod_env(WEBSITE_SITE_NAME="app", WEBSITE_AUTH_ENABLED="False")
    )
    assert not in_azure_no_auth.trusts_principal_header
    in_azure_auth = Settings.from_env(
        prod_env(WEBSITE_SITE_NAME="app", WEBSITE_AUTH_ENABLED="True")
    )
    assert in_azure_auth.trusts_principal_header
    dev = Settings.from_env(prod_env(LOONBRUG_ENVIRONMENT="development"))
    assert dev.trusts_principal_header
    dev_in_azure = Settings.from_env(
        prod_env(LOONBRUG_ENVIRONMENT="development", WEBSITE_SITE_NAME="a")
    )
    assert not dev_in_azure.trusts_principal_header


def test_portal_url_is_optional_and_only_then_changes_the_landing() -> None:
    unset = Settings.from_env(prod_env(PUBLIC_BASE_URL="https://app.example.nl/"))
    assert unset.portal_url is None
    assert unset.consent_landing_url() == "https://app.example.nl/"  # contract §3 as it was
    assert unset.portal_page_url == "https://app.example.nl/api/portal/"
    portal = Settings.from_env(prod_env(PORTAL_URL="https://app.example.nl/api/portal/"))
    assert portal.consent_landing_url() == "https://app.example.nl/api/portal/#/connections"
    assert portal.portal_page_url == "https://app.example.nl/api/portal/"
    folder = Settings.from_env(prod_env(PORTAL_URL="https://loonbrug.kantoor.nl"))
    assert folder.portal_page_url == "https://loonbrug.kantoor.nl/"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("ftp://x", "is not an http(s) URL"),
        ("/api/portal/", "is not an http(s) URL"),
        ("https://app.example.nl/api/portal/#/runs", "must not contain a query (?) or fragment"),
        ("https://app.example.nl/api/portal/?x=1", "must not contain a query (?) or fragment"),
    ],
)
def test_a_bad_portal_url_is_named(value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=r"setting PORTAL_URL: ") as caught:
        Settings.from_env(prod_env(PORTAL_URL=value))
    assert message in str(caught.value)
