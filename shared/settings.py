"""Typed settings, loaded once from the environment (contract §1).

Every name the app reads is declared here and listed in ``local.settings.sample.json``. A missing
or malformed value raises :class:`SettingsError` whose message is one line naming the setting, so
the Functions host (or the local host) stops at start with an answer an operator can act on.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from typing import Final, TypeVar
from urllib.parse import urlsplit

from shared.secret import Secret

DEFAULT_PUBLIC_BASE_URL: Final = "http://127.0.0.1:7071"
DEFAULT_LOKET_AUTH_URL: Final = "https://oauth.loket.nl"
DEFAULT_LOKET_API_URL: Final = "https://api.loket.nl/v2"
DEFAULT_AFAS_PROFIT_URL: Final = "https://{environment}.rest.afas.online/ProfitRestServices"
# An independent SB customer; accountants reach clients under their own subdomain (afas-api.md §4.2).
DEFAULT_AFAS_SB_URL: Final = "https://afas-sb.afasfocus.nl/{environment}"
# Hosts an SB API server may have (concepts.md of the SB docs: https://<subdomain>.afasfocus.nl).
DEFAULT_AFAS_SB_ALLOWED_HOSTS: Final = ("*.afasfocus.nl",)
DEFAULT_NIGHTLY_LOCAL_HOUR: Final = 2
# ISO weekday (1 = Monday) on which the weekly Aansluiting runs (Europe/Amsterdam).
DEFAULT_RECONCILIATION_WEEKDAY: Final = 1
DEFAULT_AUDIT_RETENTION_YEARS: Final = 7
DEFAULT_SMTP_PORT: Final = 25
DEFAULT_NOTIFY_SENDER: Final = "loonbrug@localhost"

# A fixed, publicly known key used only in development when TOKEN_ENCRYPTION_KEY is unset.
# Production refuses to start without a real key.
DEV_ENCRYPTION_KEY: Final = base64.b64encode(hashlib.sha256(b"loonbrug-dev-only").digest()).decode()


E = TypeVar("E", bound=StrEnum)


class SettingsError(ValueError):
    """A setting is missing or malformed. ``str()`` is one line that names it."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"setting {name}: {problem}")
        self.setting = name


class Environment(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"


@dataclass(frozen=True)
class StorageConfig:
    """How to reach the storage account: a connection string (Azurite, local) or identity-based.

    Identity-based (Azure): ``AzureWebJobsStorage__accountName`` or the per-service URIs
    (``__tableServiceUri``, ``__queueServiceUri``, ``__blobServiceUri``), with
    ``__credential=managedidentity`` and ``__clientId`` for a user-assigned identity.
    """

    connection_string: Secret | None = None
    table_service_uri: str | None = None
    queue_service_uri: str | None = None
    blob_service_uri: str | None = None
    managed_identity_client_id: str | None = None

    @property
    def identity_based(self) -> bool:
        return self.connection_string is None


@dataclass(frozen=True)
class Settings:
    storage: StorageConfig
    environment: Environment
    public_base_url: str
    loket_auth_url: str
    loket_api_url: str
    loket_client_id: str | None
    loket_client_secret: Secret | None
    afas_profit_url: str
    afas_sb_url: str
    afas_sb_client_id: str | None
    afas_sb_client_secret: Secret | None
    # Encryption keys for stored secrets: the first encrypts, all of them decrypt (rotation).
    encryption_keys: tuple[Secret, ...] = field(repr=False)
    nightly_local_hour: int = DEFAULT_NIGHTLY_LOCAL_HOUR
    reconciliation_weekday: int = DEFAULT_RECONCILIATION_WEEKDAY
    # Set by App Service when Authentication (Easy Auth) is on; None when not running in Azure.
    easy_auth_enabled: bool | None = None
    appinsights_connection_string: Secret | None = None
    # Audit copies of journal runs (Blob Storage) are kept this many years.
    audit_retention_years: int = DEFAULT_AUDIT_RETENTION_YEARS
    # Notifications: Azure Communication Services Email (managed identity) in Azure, SMTP locally.
    acs_email_endpoint: str | None = None
    smtp_host: str | None = None
    smtp_port: int = DEFAULT_SMTP_PORT
    notify_sender: str = DEFAULT_NOTIFY_SENDER
    # PORTAL_URL: where users open the portal (in Azure ``https://<host>/api/portal/``). None when
    # unset: the OAuth callbacks then go to ``{PUBLIC_BASE_URL}/`` as contract §3 says.
    portal_url: str | None = None
    # AFAS_INTEGRATION_ID: the AFAS partner IntegrationId, sent as the ``IntegrationId`` header on
    # every Profit request when set (afas/profit/integrationid.md); None: not sent.
    afas_integration_id: str | None = None
    # AFAS_SB_ALLOWED_HOSTS: host patterns ("*" = one DNS label) an SB API server may have.
    afas_sb_allowed_hosts: tuple[str, ...] = DEFAULT_AFAS_SB_ALLOWED_HOSTS

    @property
    def email_configured(self) -> bool:
        return bool(self.acs_email_endpoint or self.smtp_host)

    @property
    def is_development(self) -> bool:
        return self.environment is Environment.DEVELOPMENT

    @property
    def trusts_principal_header(self) -> bool:
        """``X-MS-CLIENT-PRINCIPAL`` is only believed when Easy Auth put it there, or in dev."""
        return self.easy_auth_enabled is True or (
            self.easy_auth_enabled is None and self.is_development
        )

    @property
    def running_in_azure(self) -> bool:
        return self.easy_auth_enabled is not None

    def redirect_uri(self, provider: str) -> str:
        return f"{self.public_base_url}/api/oauth/{provider}/callback"

    def consent_landing_url(self) -> str:
        """Where the Loket and AFAS SB OAuth callbacks send the browser when consent is done.

        ``PORTAL_URL`` when set, opened on the Koppelingen screen (``#/connections``); otherwise
        ``{PUBLIC_BASE_URL}/`` (contract §3; the local host sends ``/`` on to the portal).
        """
        if self.portal_url is None:
            return f"{self.public_base_url}/"
        return f"{self.portal_url}#/connections"

    @property
    def portal_page_url(self) -> str:
        """The portal page that links (e-mails) point into: ``PORTAL_URL`` when set, otherwise
        ``{PUBLIC_BASE_URL}/api/portal/`` (where the Function App serves it)."""
        return self.portal_url or f"{self.public_base_url}/api/portal/"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        environment = _enum(env, "LOONBRUG_ENVIRONMENT", Environment, Environment.PRODUCTION)
        dev = environment is Environment.DEVELOPMENT
        in_azure = bool(env.get("WEBSITE_INSTANCE_ID") or env.get("WEBSITE_SITE_NAME"))
        easy_auth = (env.get("WEBSITE_AUTH_ENABLED", "").lower() == "true") if in_azure else None
        return cls(
            storage=_storage(env),
            environment=environment,
            public_base_url=_url(env, "PUBLIC_BASE_URL", DEFAULT_PUBLIC_BASE_URL),
            loket_auth_url=_url(env, "LOKET_AUTH_URL", DEFAULT_LOKET_AUTH_URL),
            loket_api_url=_url(env, "LOKET_API_URL", DEFAULT_LOKET_API_URL),
            loket_client_id=_text(env, "LOKET_CLIENT_ID", required=not dev),
            loket_client_secret=_secret(env, "LOKET_CLIENT_SECRET", required=not dev),
            afas_profit_url=_url_template(env, "AFAS_PROFIT_URL", DEFAULT_AFAS_PROFIT_URL),
            afas_sb_url=_sb_url_template(env, "AFAS_SB_URL", DEFAULT_AFAS_SB_URL),
            afas_sb_client_id=_text(env, "AFAS_SB_CLIENT_ID", required=not dev),
            afas_sb_client_secret=_secret(env, "AFAS_SB_CLIENT_SECRET", required=not dev),
            encryption_keys=_encryption_keys(env, dev),
            nightly_local_hour=_int(env, "NIGHTLY_LOCAL_HOUR", DEFAULT_NIGHTLY_LOCAL_HOUR, 0, 23),
            reconciliation_weekday=_int(
                env, "RECONCILIATION_WEEKDAY", DEFAULT_RECONCILIATION_WEEKDAY, 1, 7
            ),
            easy_auth_enabled=easy_auth,
            appinsights_connection_string=_secret(
                env, "APPLICATIONINSIGHTS_CONNECTION_STRING", required=False
            ),
            audit_retention_years=_int(
                env, "AUDIT_RETENTION_YEARS", DEFAULT_AUDIT_RETENTION_YEARS, 1, 100
            ),
            acs_email_endpoint=_optional_url(env, "ACS_EMAIL_ENDPOINT"),
            smtp_host=_text(env, "SMTP_HOST", required=False),
            smtp_port=_int(env, "SMTP_PORT", DEFAULT_SMTP_PORT, 1, 65535),
            notify_sender=_email(env, "NOTIFY_SENDER", DEFAULT_NOTIFY_SENDER),
            portal_url=_page_url(env, "PORTAL_URL"),
            afas_integration_id=_integration_id(env, "AFAS_INTEGRATION_ID"),
            afas_sb_allowed_hosts=_host_patterns(env, "AFAS_SB_ALLOWED_HOSTS"),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests build their own with ``Settings.from_env``."""
    import os

    return Settings.from_env(os.environ)


def _text(env: Mapping[str, str], name: str, *, required: bool) -> str | None:
    value = env.get(name, "").strip()
    if not value:
        if required:
            raise SettingsError(name, "is missing")
        return None
    return value


def _secret(env: Mapping[str, str], name: str, *, required: bool) -> Secret | None:
    value = _text(env, name, required=required)
    return Secret(value) if value is not None else None


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(name, "is not an http(s) URL")
    return value.rstrip("/")


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    if not env.get(name, "").strip():
        return None
    return _url(env, name, "")


def _page_url(env: Mapping[str, str], name: str) -> str | None:
    """An optional page URL: http(s), no query or fragment (the portal's routes live in the
    fragment); a folder path gets its trailing slash so relative links resolve without a redirect."""
    value = env.get(name, "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise SettingsError(name, "is not an http(s) URL")
    if parts.query or parts.fragment or "#" in value:
        raise SettingsError(name, "must not contain a query (?) or fragment (#)")
    if not parts.path.endswith("/") and not parts.path.endswith(".html"):
        value += "/"
    return value


def _email(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    local, _, domain = value.rpartition("@")
    if not local or not domain or any(c.isspace() for c in value) or "<" in value:
        raise SettingsError(name, "is not an e-mail address")
    return value


def _integration_id(env: Mapping[str, str], name: str) -> str | None:
    """``{subscription number}_{project number}``, e.g. ``12345_678900`` (integrationid.md)."""
    value = env.get(name, "").strip()
    if not value:
        return None
    if not re.fullmatch(r"[0-9]+_[0-9]+", value):
        raise SettingsError(name, "must be the AFAS IntegrationId, e.g. 12345_678900")
    return value


def _url_template(env: Mapping[str, str], name: str, default: str) -> str:
    value = env.get(name, "").strip() or default
    if "{environment}" not in value:
        raise SettingsError(name, "must contain the placeholder {environment}")
    _url({name: value.replace("{environment}", "x")}, name, default)
    return value.rstrip("/")


_HOST_PATTERN: Final = re.compile(
    r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z"
)


def _host_patterns(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Comma-separated host names, each optionally starting with ``*.`` (one DNS label), e.g.
    ``*.afasfocus.nl,127.0.0.1``. Lower-cased; no scheme, port or path."""
    raw = env.get(name, "").strip()
    if not raw:
        return DEFAULT_AFAS_SB_ALLOWED_HOSTS
    patterns = tuple(part.strip().lower() for part in raw.split(",") if part.strip())
    for pattern in patterns:
        if not _HOST_PATTERN.match(pattern):
            raise SettingsError(
                name,
                f"{pattern!r} is not a host name or *.domain pattern (no scheme, port or path)",
            )
    if not patterns:
        raise SettingsError(name, "names no host")
    return patterns


def _sb_url_template(env: Mapping[str, str], name: str, default: str) -> str:
    """The API server of independent SB customers followed by ``/{environment}`` (concepts.md:
    ``https://afas-sb.afasfocus.nl/enyoi``)."""
    value = _url_template(env, name, default)
    if not value.endswith("/{environment}"):
        raise SettingsError(
            name, "must end in /{environment} (e.g. https://afas-sb.afasfocus.nl/{environment})"
        )
    return value


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"is not a whole number ({raw!r})") from None
    if not low <= value <= high:
        raise SettingsError(name, f"must be between {low} and {high}")
    return value


def _enum(env: Mapping[str, str], name: str, kind: type[E], default: E) -> E:
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        allowed = ", ".join(member.value for member in kind)
        raise SettingsError(name, f"must be one of {allowed}") from None


def _decode_key(name: str, raw: str) -> Secret:
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise SettingsError(name, "is not valid base64") from None
    if len(key) != 32:
        raise SettingsError(name, "must be the base64 of exactly 32 bytes")
    return Secret(raw)


def _encryption_keys(env: Mapping[str, str], dev: bool) -> tuple[Secret, ...]:
    primary = env.get("TOKEN_ENCRYPTION_KEY", "").strip()
    if not primary:
        if not dev:
            raise SettingsError("TOKEN_ENCRYPTION_KEY", "is missing (required outside development)")
        primary = DEV_ENCRYPTION_KEY
    keys = [_decode_key("TOKEN_ENCRYPTION_KEY", primary)]
    # Former keys stay readable during a rotation: comma-separated base64 keys.
    for raw in env.get("TOKEN_ENCRYPTION_KEYS_PREVIOUS", "").split(","):
        if raw.strip():
            keys.append(_decode_key("TOKEN_ENCRYPTION_KEYS_PREVIOUS", raw.strip()))
    return tuple(keys)


def _storage(env: Mapping[str, str]) -> StorageConfig:
    name = "AzureWebJobsStorage"
    conn = env.get(name, "").strip()
    if conn:
        if conn != "UseDevelopmentStorage=true":
            fields = dict(
                part.split("=", 1) for part in conn.split(";") if "=" in part and part.strip()
            )
            if not (
                {"AccountName", "AccountKey"} <= fields.keys() or "SharedAccessSignature" in fields
            ):
                raise SettingsError(name, "is not a storage connection string")
        return StorageConfig(connection_string=Secret(conn))
    account = env.get(f"{name}__accountName", "").strip()
    uris = {
        service: env.get(f"{name}__{service}ServiceUri", "").strip()
        or (f"https://{account}.{service}.core.windows.net" if account else "")
        for service in ("table", "queue", "blob")
    }
    if not uris["table"] or not uris["queue"]:
        raise SettingsError(
            name, "is missing (set a connection string, or __accountName for identity-based access)"
        )
    client_id = env.get(f"{name}__clientId", "").strip() or None
    return StorageConfig(
        table_service_uri=uris["table"],
        queue_service_uri=uris["queue"],
        blob_service_uri=uris["blob"] or None,
        managed_identity_client_id=client_id,
    )
