"""Helpers for calling the management API as a given user."""

from __future__ import annotations

from shared.api.auth import ADMIN_ROLE, encode_principal


def admin_headers(office_id: str, user_id: str = "admin-user") -> dict[str, str]:
    return {
        "X-MS-CLIENT-PRINCIPAL": encode_principal(
            office_id=office_id, user_id=user_id, roles=(ADMIN_ROLE,)
        )
    }


def reader_headers(office_id: str, user_id: str = "reader-user") -> dict[str, str]:
    return {"X-MS-CLIENT-PRINCIPAL": encode_principal(office_id=office_id, user_id=user_id)}
