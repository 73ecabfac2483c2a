"""The storage layer on real Azurite: tables, Base64 queues, conditional writes."""

import base64
from collections.abc import Callable

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError
from azure.data.tables import UpdateMode
from azure.storage.queue import QueueClient

from devtools.azurite import Azurite
from shared.bootstrap import Services


def test_tables_are_created_on_first_use(services: Services, unique: Callable[[str], str]) -> None:
    name = unique("T")
    table = services.storage.table(name)
    table.create_entity({"PartitionKey": "p", "RowKey": "r", "value": 1})
    assert table.get_entity("p", "r")["value"] == 1
    assert services.storage.table(name) is table  # cached


def test_queue_messages_are_base64_on_the_wire(
    services: Services, azurite: Azurite, unique: Callable[[str], str]
) -> None:
    name = unique("q")
    services.storage.queue(name).send_message('{"hello":"wereld"}')
    raw = QueueClient.from_connection_string(azurite.connection_string, name)  # no decode policy
    message = next(iter(raw.receive_messages()))
    assert base64.b64decode(message.content) == b'{"hello":"wereld"}'


def test_insert_is_a_claim_and_etag_guards_updates(
    services: Services, unique: Callable[[str], str]
) -> None:
    table = services.storage.table(unique("T"))
    table.create_entity({"PartitionKey": "p", "RowKey": "claim", "state": "claimed"})
    with pytest.raises(ResourceExistsError):
        table.create_entity({"PartitionKey": "p", "RowKey": "claim", "state": "claimed"})
    first = table.get_entity("p", "claim")
    second = table.get_entity("p", "claim")
    table.update_entity(
        {**first, "state": "posted"},
        mode=UpdateMode.MERGE,
        etag=first.metadata["etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    with pytest.raises(ResourceModifiedError):
        table.update_entity(
            {**second, "state": "other"},
            mode=UpdateMode.MERGE,
            etag=second.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    assert table.get_entity("p", "claim")["state"] == "posted"


def test_ping_answers_and_fails_when_storage_is_gone(services: Services) -> None:
    services.storage.ping()
    from shared.settings import Settings

    env = {
        "AzureWebJobsStorage": "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
        "TableEndpoint=http://127.0.0.1:9/devstoreaccount1;QueueEndpoint=http://127.0.0.1:9/devstoreaccount1;",
        "LOONBRUG_ENVIRONMENT": "development",
    }
    with pytest.raises(Exception):  # noqa: B017 - any transport error
        Services(Settings.from_env(env)).storage.ping()


def test_every_storage_request_reaches_the_counting_hook_by_table_and_operation(
    services: Services, azurite: Azurite, unique: Callable[[str], str]
) -> None:
    """The bench counts storage round trips through ``Storage(on_request=...)``: every table,
    blob and queue request passes the hook, and bench.round_trips names each one."""
    from bench.round_trips import storage_operation
    from shared.store.storage import Storage

    ports = {azurite.table_port: "table", azurite.blob_port: "blob", azurite.queue_port: "queue"}
    seen: list[str] = []
    storage = Storage(
        services.settings.storage,
        on_request=lambda r: seen.append(
            storage_operation(r.http_request.method, r.http_request.url, ports)
        ),
    )
    name = unique("T")
    table = storage.table(name)
    table.upsert_entity({"PartitionKey": "p", "RowKey": "r"})
    table.get_entity("p", "r")
    list(table.query_entities("PartitionKey eq 'p'"))
    table.submit_transaction([("upsert", {"PartitionKey": "p", "RowKey": "s"})])
    storage.queue(unique("q")).send_message("x")
    assert seen[0] == "Tables create"
    assert seen[1:5] == [f"{name} patch", f"{name} get", f"{name} query", "table $batch"]
    assert seen[-1].startswith("queue ") and seen[-1].endswith(" post")
