"""Stored secrets are ciphertext: the raw rows of ``Connections`` and ``OAuthStates`` in Azurite
hold no token, code, state or verifier that the sandboxes issued or saw, only ``v1.<key id>.<…>``
AES-GCM values bound to their row."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from azure.data.tables import TableServiceClient

from devtools.azurite import Azurite
from shared.api.handlers import connections
from shared.secret import Secret
from shared.store.connections import ConnectionKey, ConnectionKind
from shared.store.crypto import DecryptionError, SecretBox
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers
from tests.support.leakscan import find_leaks
from tests.support.security_world import SecurityWorld, security_world


@pytest.fixture(scope="module")
def world(azurite: Azurite) -> Iterator[SecurityWorld]:
    with security_world(azurite) as w:
        yield w


def raw_rows(azurite: Azurite, table: str, query: str, **params: str) -> list[dict[str, Any]]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return [
        dict(e) for e in service.get_table_client(table).query_entities(query, parameters=params)
    ]


def test_connections_hold_only_ciphertext(world: SecurityWorld, azurite: Azurite) -> None:
    office = world.new_office("rest")
    rows = raw_rows(azurite, "Connections", "PartitionKey eq @o", o=office.id)
    assert {r["RowKey"] for r in rows} == {"loket", "afas-sb|enyoi", "afas-profit|12345"}
    secrets = world.loket.leak_scan_values() | world.afas.leak_scan_values()
    assert not find_leaks(secrets, {f"row {r['RowKey']}": repr(r) for r in rows})
    fields = {r["RowKey"]: {k for k in r if k.startswith("enc_")} for r in rows}
    assert fields["loket"] == {"enc_access_token", "enc_refresh_token"}
    assert fields["afas-sb|enyoi"] == {"enc_access_token", "enc_refresh_token"}
    assert fields["afas-profit|12345"] == {"enc_afas_token"}
    box = world.services.secret_box
    for row in rows:
        for name in fields[row["RowKey"]]:
            value = row[name]
            assert value.startswith(f"v1.{box.primary_key_id}.")
            assert len(base64.b64decode(value.split(".", 2)[2])) >= 12 + 16 + 8  # nonce+tag+data
    # The one door: the repository decrypts what it stored, for this row only.
    key = ConnectionKey(office.id, ConnectionKind.LOKET)
    stored = world.services.connections.read_secrets(key)
    assert stored is not None and stored.access_token is not None
    assert stored.access_token.reveal() in world.loket.issued_secrets()
    loket_row = next(r for r in rows if r["RowKey"] == "loket")
    with pytest.raises(DecryptionError):  # another key (e.g. a copied database) reads nothing
        SecretBox([Secret(base64.b64encode(b"x" * 32).decode())]).decrypt(
            loket_row["enc_access_token"], context=f"Connections|{office.id}|loket|access_token"
        )
    with pytest.raises(DecryptionError):  # the right key, but copied into another office's row
        box.decrypt(loket_row["enc_access_token"], context="Connections|other|loket|access_token")


def test_oauth_states_hold_a_hash_and_an_encrypted_verifier(
    world: SecurityWorld, azurite: Azurite, unique: Any
) -> None:
    office = unique("rest-")
    started = call(world.services, connections.CONNECT_LOKET, headers=admin_headers(office))
    url = started.json()["authorizeUrl"]
    state = dict(p.split("=", 1) for p in url.split("?", 1)[1].split("&"))["state"]
    rows = raw_rows(azurite, "OAuthStates", "office_id eq @o", o=office)
    assert len(rows) == 1
    row = rows[0]
    assert row["RowKey"] == hashlib.sha256(state.encode()).hexdigest()
    assert not find_leaks({state}, {"state row": repr(row)})
    assert row["enc_code_verifier"].startswith("v1.")
    assert "code_verifier" not in row and "state" not in row
