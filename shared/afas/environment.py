"""What a user types for AFAS Profit: the environment (number or name) and the token.

Both parsers raise :class:`InputError` whose message is Dutch and safe to show: it never repeats
the token.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import unquote, urlsplit, urlunsplit

from shared.secret import Secret


class InputError(ValueError):
    """User input that cannot be an AFAS environment or token. ``str()`` is Dutch."""


class EnvironmentKind(StrEnum):
    PRODUCTION = "production"
    TEST = "test"
    ACCEPT = "accept"


@dataclass(frozen=True)
class ProfitEnvironment:
    number: str  # the 5-digit participant number used in the URL, e.g. "12345"
    name: str | None = None  # as AFAS shows it, e.g. "O12345AA"
    kind: EnvironmentKind = EnvironmentKind.PRODUCTION


# re.ASCII: \d alone also matches "١٢٣٤٥" (Arabic-Indic) and "１２３４５" (full width).
_NUMBER: Final = re.compile(r"^\d{5}\Z", re.ASCII)
_FREE_NAME: Final = re.compile(r"^[A-Za-z0-9]{2,16}\Z")
# ASSUMPTION [I] (afas-api.md §1.2): an environment name is a type letter (O production, T test,
# A accept) + the 5-digit participant number + two letters, e.g. O12345AA. The manual's example
# "OB5480AW" does not fit; such names are accepted only next to an explicit number.
_NAME: Final = re.compile(
    r"^(?P<kind>[OTA])(?P<number>\d{5})(?P<suffix>[A-Z]{2})\Z", re.IGNORECASE | re.ASCII
)
_KINDS: Final = {
    "O": EnvironmentKind.PRODUCTION,
    "T": EnvironmentKind.TEST,
    "A": EnvironmentKind.ACCEPT,
}


def _kind_of_name(name: str) -> EnvironmentKind:
    """ASSUMPTION [I]: the first letter of the environment name tells its type (O/T/A)."""
    return _KINDS.get(name[:1].upper(), EnvironmentKind.PRODUCTION)


def parse_profit_environment(value: str, name: str | None = None) -> ProfitEnvironment:
    """The environment from a number (``12345``) or a name (``O12345AA``), plus an optional name.

    Raises :class:`InputError` when neither fits or the two disagree.
    """
    value = (value or "").strip()
    name = (name or "").strip() or None
    if name is not None and not _FREE_NAME.match(name):
        raise InputError(
            "De omgevingsnaam mag alleen letters en cijfers bevatten (bijv. O12345AA)."
        )
    parsed = _NAME.match(value)
    if parsed:
        from_path = value.upper()
        if name is not None and name.upper() != from_path:
            raise InputError(
                f"De omgevingsnaam {name} past niet bij omgeving {from_path}; laat een van beide weg."
            )
        return ProfitEnvironment(parsed["number"], from_path, _KINDS[parsed["kind"].upper()])
    if _NUMBER.match(value):
        if name is None:
            return ProfitEnvironment(value)
        strict = _NAME.match(name)
        if strict and strict["number"] != value:
            raise InputError(
                f"De omgevingsnaam {name.upper()} hoort bij omgevingsnummer {strict['number']}, "
                f"niet bij {value}."
            )
        return ProfitEnvironment(value, name.upper(), _kind_of_name(name))
    raise InputError(
        "Vul het omgevingsnummer van AFAS Profit in (5 cijfers, bijv. 12345) of de "
        "omgevingsnaam (bijv. O12345AA)."
    )


_AFAS_HOST: Final = re.compile(r"^\{environment\}\.rest(test|accept|cursus)?\.afas\.online\Z", re.I)
_REST_BY_KIND: Final = {
    EnvironmentKind.PRODUCTION: "rest",
    EnvironmentKind.TEST: "resttest",
    EnvironmentKind.ACCEPT: "restaccept",
}


def profit_base_url(template: str, environment: ProfitEnvironment) -> str:
    """The Profit REST root for ``environment`` from the ``AFAS_PROFIT_URL`` template.

    ASSUMPTION [I] (afas-api.md §1.1/§1.2): when the template points at AFAS Online
    (``{environment}.rest….afas.online``) and the environment name is known, its type letter picks
    the host: O → ``rest``, T → ``resttest``, A → ``restaccept``. Any other template (a sandbox, a
    proxy) is used as configured.
    """
    parts = urlsplit(template)
    host = parts.netloc
    if environment.name and _AFAS_HOST.match(host):
        host = f"{{environment}}.{_REST_BY_KIND[environment.kind]}.afas.online"
    url = urlunsplit((parts.scheme, host, parts.path, "", ""))
    return url.replace("{environment}", environment.number).rstrip("/")


_TOKEN_XML: Final = re.compile(
    r"^<token>\s*<version>\s*(?P<version>[0-9]+)\s*</version>\s*<data>(?P<data>[^<]*)</data>\s*</token>\Z",
    re.IGNORECASE | re.DOTALL,
)
# ASSUMPTION [I]: the data part is hexadecimal; AFAS documents 64 characters, we allow 32-256 so a
# longer token format does not lock users out (the check call against AFAS is the real test).
_TOKEN_DATA: Final = re.compile(r"^[0-9A-Fa-f]{32,256}\Z")
PASTE_HINT: Final = (
    "Plak de token zoals AFAS die toont: <token><version>1</version><data>…</data></token>, "
    "of alleen de lange code tussen <data> en </data>."
)


def profit_token(raw: str) -> Secret:
    """The canonical token XML from what the user pasted (XML with any whitespace, or bare data).

    Raises :class:`InputError` (Dutch, without the token) when it cannot be an AFAS token.
    """
    text = (raw or "").strip()
    match = _TOKEN_XML.match(text)
    if match:
        version, data = match["version"], re.sub(r"\s+", "", match["data"])
    else:
        version, data = "1", re.sub(r"\s+", "", text)
    if not _TOKEN_DATA.match(data):
        raise InputError("Dit is geen geldige AFAS-token. " + PASTE_HINT)
    return Secret(f"<token><version>{version}</version><data>{data}</data></token>")


_SB_ENVIRONMENT: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}\Z")
# concepts.md (AFAS SB docs), "Complete URL": the path part ``admin`` is the Admin Center of a
# subdomain, every other first path part is a customer environment ("scope").
ADMIN_CENTER: Final = "admin"
_SB_HINT: Final = (
    "Vul de omgevingsnaam van AFAS SB in zoals die in het webadres staat "
    "(letters, cijfers en streepjes, bijv. mijnbedrijf)."
)


def parse_sb_path(value: str) -> str:
    """The first path part after the API server: a customer environment or ``admin``.

    ASSUMPTION [I]: SB environment paths are case-insensitive; we keep them lower-case, as
    :func:`shared.journal.identifiers.sb_tracking_identifier` does.
    """
    text = (value or "").strip().lower()
    if not _SB_ENVIRONMENT.match(text):
        raise InputError(_SB_HINT)
    return text


def parse_sb_environment(value: str) -> str:
    """An AFAS SB customer environment as it appears in the URL (``…afasfocus.nl/{environment}``).
    ``admin`` is the Admin Center, not a customer environment: refused with a Dutch hint."""
    text = parse_sb_path(value)
    if text == ADMIN_CENTER:
        raise InputError(
            "'admin' is het Admin Center van AFAS SB, geen klantomgeving. Kies de klantomgeving "
            "(bijv. mijnbedrijf) waarin de administratie staat."
        )
    return text


# -- the SB API server (concepts.md: https://<subdomain>.afasfocus.nl/<environment>) -------------


@dataclass(frozen=True)
class SbLocation:
    """Where one SB environment lives: the API server and the first path part after it."""

    api_server: str  # scheme://host[:port][/prefix], no trailing slash
    environment: str  # a customer environment, or ADMIN_CENTER

    @property
    def url(self) -> str:
        """``{API server}/{environment}``: the root every endpoint path is appended to."""
        return f"{self.api_server}/{self.environment}"

    @property
    def is_admin_center(self) -> bool:
        return self.environment == ADMIN_CENTER

    def scope(self, environment: str) -> SbLocation:
        """A customer environment on the same API server (an Admin Center's scope)."""
        return SbLocation(self.api_server, parse_sb_environment(environment))


_LOOPBACK_NAMES: Final = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_allowed(host: str, patterns: tuple[str, ...]) -> bool:
    """``host`` matches one of ``patterns``: an exact name, or ``*.domain`` where ``*`` stands
    for exactly one DNS label (``*.afasfocus.nl`` takes ``beers.afasfocus.nl``, not
    ``afasfocus.nl`` nor ``a.b.afasfocus.nl``)."""
    host = host.lower().rstrip(".")
    for pattern in patterns:
        if pattern.startswith("*."):
            label, _, rest = host.partition(".")
            if label and rest == pattern[2:] and re.fullmatch(r"[a-z0-9-]{1,63}", label):
                return True
        elif host == pattern:
            return True
    return False


SB_ADDRESS_HINT: Final = (
    "Vul het adres in zoals AFAS SB het toont (de pagina 'Complete URL' van AFAS), bijv. "
    "https://kantoor.afasfocus.nl/klant/ of, voor het Admin Center, "
    "https://kantoor.afasfocus.nl/admin/."
)


class SbAddressError(InputError):
    """An SB address that cannot be used. ``str()`` is the Dutch reason; :data:`hint` says what
    to type instead."""

    hint = SB_ADDRESS_HINT


def _server_problem(text: str) -> InputError:
    return SbAddressError(text)


def parse_sb_url(
    raw: str,
    *,
    allowed_hosts: tuple[str, ...],
    development: bool,
    environment: str | None = None,
) -> SbLocation:
    """The SB API server and environment from a URL a user typed or the App Center passed
    (``afasBaseUrl``), e.g. ``https://beers.afasfocus.nl/enyoi/`` or ``…/admin/``.

    ``environment`` (from the route) may be given: the URL may then be the API server alone
    (``https://beers.afasfocus.nl``), or end in that same environment. Raises :class:`InputError`
    (Dutch) for anything else: not https (``http`` only for a loopback host in development), a
    host outside ``allowed_hosts``, user info, a query, or a path that is not one environment.

    Only in development, on a loopback host, may the API server carry a path prefix
    (``http://127.0.0.1:8080/~beers``): that is how the sandbox serves several API servers on one
    port. AFAS's own servers have none (concepts.md).
    """
    text = (raw or "").strip()
    if not text:
        raise _server_problem("Het adres van AFAS SB ontbreekt.")
    if len(text) > 2048 or any(c.isspace() for c in text):
        raise _server_problem("Dit is geen geldig webadres.")
    try:
        parts = urlsplit(text)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        raise _server_problem("Dit is geen geldig webadres.") from None
    if parts.scheme.lower() not in ("https", "http") or not host:
        raise _server_problem("Dit is geen geldig webadres (het begint met https://).")
    loopback = _is_loopback(host)
    if parts.scheme.lower() == "http" and not (development and loopback):
        raise _server_problem("AFAS SB is alleen bereikbaar via https://.")
    if parts.username is not None or parts.password is not None:
        raise _server_problem("Het adres mag geen gebruikersnaam of wachtwoord bevatten.")
    if parts.query:
        raise _server_problem("Het adres mag geen ?-deel bevatten.")
    if not host_allowed(host, allowed_hosts):
        raise _server_problem(
            f"{host} is geen server van AFAS SB (toegestaan: {', '.join(allowed_hosts)})."
        )
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if environment is not None and (not segments or segments[-1].lower() != environment.lower()):
        prefix, last = segments, None
    elif segments:
        prefix, last = segments[:-1], segments[-1]
    else:
        raise _server_problem("Het adres mist de omgeving na de servernaam.")
    if prefix and not (development and loopback):
        if environment is not None and len(segments) == 1:
            raise _server_problem(
                f"Het adres hoort bij omgeving {segments[0].lower()}, niet bij {environment}."
            )
        raise _server_problem("Het adres heeft te veel delen na de servernaam.")
    if any(not re.fullmatch(r"[~A-Za-z0-9_.-]{1,64}", p) for p in prefix):
        raise _server_problem("Dit is geen geldig webadres.")
    try:
        name = parse_sb_path(last if last is not None else environment or "")
    except InputError as exc:
        raise InputError(str(exc)) from None
    netloc = host if port is None else f"{host}:{port}"
    server = urlunsplit((parts.scheme.lower(), netloc, "/".join(["", *prefix]), "", ""))
    return SbLocation(server.rstrip("/"), name)


def sb_default_location(template: str, environment: str) -> SbLocation:
    """An environment on the ``AFAS_SB_URL`` server (independent customers, no Admin Center).
    The settings check that the template ends in ``/{environment}``."""
    return SbLocation(template.rstrip("/").removesuffix("/{environment}"), environment)
