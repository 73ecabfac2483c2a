"""What a user types for AFAS Profit: the environment (number or name) and the token.

Both parsers raise :class:`InputError` whose message is Dutch and safe to show: it never repeats
the token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final
from urllib.parse import urlsplit, urlunsplit

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


_NUMBER: Final = re.compile(r"^\d{5}$")
_FREE_NAME: Final = re.compile(r"^[A-Za-z0-9]{2,16}$")
# ASSUMPTION [I] (afas-api.md §1.2): an environment name is a type letter (O production, T test,
# A accept) + the 5-digit participant number + two letters, e.g. O12345AA. The manual's example
# "OB5480AW" does not fit; such names are accepted only next to an explicit number.
_NAME: Final = re.compile(r"^(?P<kind>[OTA])(?P<number>\d{5})(?P<suffix>[A-Z]{2})$", re.IGNORECASE)
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


_AFAS_HOST: Final = re.compile(r"^\{environment\}\.rest(test|accept|cursus)?\.afas\.online$", re.I)
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
    r"^<token>\s*<version>\s*(?P<version>\d+)\s*</version>\s*<data>(?P<data>[^<]*)</data>\s*</token>$",
    re.IGNORECASE | re.DOTALL,
)
# ASSUMPTION [I]: the data part is hexadecimal; AFAS documents 64 characters, we allow 32-256 so a
# longer token format does not lock users out (the check call against AFAS is the real test).
_TOKEN_DATA: Final = re.compile(r"^[0-9A-Fa-f]{32,256}$")
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


_SB_ENVIRONMENT: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def parse_sb_environment(value: str) -> str:
    """An AFAS SB customer environment as it appears in the URL (``…afasfocus.nl/{environment}``).

    ASSUMPTION [I]: SB environment paths are case-insensitive; we keep them lower-case, as
    :func:`shared.journal.identifiers.sb_tracking_identifier` does.
    """
    text = (value or "").strip().lower()
    if not _SB_ENVIRONMENT.match(text):
        raise InputError(
            "Vul de omgevingsnaam van AFAS SB in zoals die in het webadres staat "
            "(letters, cijfers en streepjes, bijv. mijnbedrijf)."
        )
    return text
