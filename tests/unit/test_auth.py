import base64
import json

import pytest

from shared.api.auth import ADMIN_ROLE, encode_principal, principal_from_headers
from shared.api.http import Headers, Problem


def test_principal_round_trip() -> None:
    header = encode_principal(office_id="Tenant-1", user_id="u1", name="Anna", roles=(ADMIN_ROLE,))
    principal = principal_from_headers(Headers({"X-MS-CLIENT-PRINCIPAL": header}))
    assert principal.office_id == "tenant-1"
    assert principal.user_id == "u1"
    assert principal.name == "Anna"
    assert principal.is_admin


def test_reader_is_not_admin() -> None:
    header = encode_principal(office_id="t", user_id="u", roles=("Other",))
    assert not principal_from_headers(Headers({"x-ms-client-principal": header})).is_admin


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "%%%not-base64",
        base64.b64encode(b"not json").decode(),
        base64.b64encode(json.dumps({"claims": "x"}).encode()).decode(),
        base64.b64encode(json.dumps({"claims": [{"typ": "oid", "val": "u"}]}).encode()).decode(),
        base64.b64encode(
            json.dumps(
                {"claims": [{"typ": "tid", "val": "bad/office"}, {"typ": "oid", "val": "u"}]}
            ).encode()
        ).decode(),
    ],
)
def test_unusable_principal_is_401(value: str | None) -> None:
    headers = Headers({} if value is None else {"X-MS-CLIENT-PRINCIPAL": value})
    with pytest.raises(Problem) as caught:
        principal_from_headers(headers)
    assert caught.value.status == 401
