"""Who is calling: the Easy Auth principal, their office (tenant) and role (contract §2)."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from shared import untrusted_json
from shared.api.http import Problem

PRINCIPAL_HEADER: Final = "x-ms-client-principal"
TENANT_CLAIM: Final = "http://schemas.microsoft.com/identity/claims/tenantid"
OBJECT_ID_CLAIMS: Final = ("http://schemas.microsoft.com/identity/claims/objectidentifier", "oid")
NAME_CLAIMS: Final = (
    "name",
    "preferred_username",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
)
ADMIN_ROLE: Final = "Loonbrug.Admin"
_OFFICE_ID = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")


@dataclass(frozen=True)
class Principal:
    user_id: str
    name: str
    office_id: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


def unauthenticated(detail: str = "U bent niet aangemeld. Meld u opnieuw aan.") -> Problem:
    return Problem(401, "unauthenticated", "Unauthenticated", detail)


def forbidden() -> Problem:
    return Problem(
        403,
        "forbidden",
        "Forbidden",
        "U mag dit niet wijzigen: daarvoor is de rol Loonbrug-beheerder (Loonbrug.Admin) nodig.",
        hint="Vraag de beheerder van uw kantoor om u de rol Loonbrug.Admin te geven.",
    )


def principal_from_headers(headers: Mapping[str, str]) -> Principal:
    """Decode ``X-MS-CLIENT-PRINCIPAL`` (base64 JSON with ``claims[{typ,val}]``) or raise 401."""
    raw = headers.get(PRINCIPAL_HEADER)
    if not raw:
        raise unauthenticated()
    try:
        padded = raw.strip() + "=" * (-len(raw.strip()) % 4)
        document: Any = untrusted_json.parse(base64.b64decode(padded, validate=False))
    except (binascii.Error, ValueError):  # UntrustedJson is a ValueError
        raise unauthenticated("De aanmeldgegevens zijn onleesbaar. Meld u opnieuw aan.") from None
    if not isinstance(document, dict) or not isinstance(document.get("claims"), list):
        raise unauthenticated("De aanmeldgegevens zijn onvolledig. Meld u opnieuw aan.")
    role_type = document.get("role_typ") if isinstance(document.get("role_typ"), str) else "roles"
    claims: list[tuple[str, str]] = [
        (c["typ"], c["val"])
        for c in document["claims"]
        if isinstance(c, dict) and isinstance(c.get("typ"), str) and isinstance(c.get("val"), str)
    ]
    office = _first(claims, (TENANT_CLAIM, "tid"))
    user = _first(claims, OBJECT_ID_CLAIMS)
    if not office or not _OFFICE_ID.match(office):
        raise unauthenticated(
            "Uw account hoort niet bij een kantoor (geen tenant). Meld u opnieuw aan."
        )
    if not user:
        raise unauthenticated("Uw account heeft geen gebruikers-id. Meld u opnieuw aan.")
    roles = frozenset(val for typ, val in claims if typ in (role_type, "roles"))
    name = _first(claims, NAME_CLAIMS) or user
    return Principal(user_id=user, name=name, office_id=office.lower(), roles=roles)


def encode_principal(
    *, office_id: str, user_id: str, name: str = "Test Gebruiker", roles: tuple[str, ...] = ()
) -> str:
    """Build an ``X-MS-CLIENT-PRINCIPAL`` value as Easy Auth does (used by dev sign-in and tests)."""
    claims = [
        {"typ": TENANT_CLAIM, "val": office_id},
        {"typ": OBJECT_ID_CLAIMS[0], "val": user_id},
        {"typ": "name", "val": name},
        *({"typ": "roles", "val": role} for role in roles),
    ]
    document = {"auth_typ": "aad", "name_typ": "name", "role_typ": "roles", "claims": claims}
    return base64.b64encode(json.dumps(document).encode()).decode()


def _first(claims: list[tuple[str, str]], types: tuple[str, ...]) -> str | None:
    for wanted in types:
        for typ, val in claims:
            if typ == wanted and val.strip():
                return val.strip()
    return None
