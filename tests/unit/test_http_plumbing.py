"""The request pipeline every route shares: auth, roles, JSON parsing, problem+json."""

import json

import pytest
from pydantic import BaseModel, ConfigDict

from shared.api.http import (
    MAX_BODY_BYTES,
    ApiRequest,
    ApiResponse,
    Headers,
    json_response,
    read_model,
)
from shared.api.operations import Access, Operation, RequestContext, handle
from shared.bootstrap import Services
from shared.settings import Settings
from tests.support.api import admin_headers, reader_headers

CONN = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=abc=="


class Thing(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    name: str
    count: int


def write_handler(ctx: RequestContext) -> ApiResponse:
    thing = read_model(ctx.request, Thing)
    return json_response(200, {"office": ctx.office_id, "name": thing.name})


WRITE = Operation(
    "put_thing", "PUT", "things/{id}", Access.ADMIN, "Put", "test", write_handler, body=Thing
)
READ = Operation(
    "get_thing",
    "GET",
    "things/{id}",
    Access.READER,
    "Get",
    "test",
    lambda ctx: json_response(200, {"office": ctx.office_id}),
)


def boom(ctx: RequestContext) -> ApiResponse:
    raise RuntimeError("secret internals")


BROKEN = Operation("broken", "GET", "broken", Access.PUBLIC, "Broken", "test", boom)


@pytest.fixture
def services() -> Services:
    return Services(
        Settings.from_env({"AzureWebJobsStorage": CONN, "LOONBRUG_ENVIRONMENT": "development"})
    )


def call(
    services: Services, op: Operation, headers: dict[str, str], body: bytes = b""
) -> ApiResponse:
    return handle(
        op,
        ApiRequest(op.method, "http://x/api/things/1", Headers(headers), {"id": "1"}, {}, body),
        services,
    )


def assert_problem(response: ApiResponse, status: int) -> dict[str, object]:
    assert response.status == status
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://loonbrug.nl/problems/")
    assert body["title"] and body["detail"]
    return dict(body)


def test_no_principal_is_401(services: Services) -> None:
    body = assert_problem(call(services, READ, {}), 401)
    assert "aangemeld" in str(body["detail"])


def test_reader_may_read_but_not_write(services: Services) -> None:
    assert call(services, READ, reader_headers("office1")).json() == {"office": "office1"}
    body = assert_problem(
        call(services, WRITE, reader_headers("office1"), b'{"name":"a","count":1}'), 403
    )
    assert "Loonbrug.Admin" in str(body["detail"])


def test_admin_writes_in_own_office(services: Services) -> None:
    response = call(services, WRITE, admin_headers("office1"), b'{"name":"a","count":1}')
    assert response.status == 200
    assert response.json() == {"office": "office1", "name": "a"}


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (b"{not json", 400, "geen geldige JSON"),
        (b"", 400, "geen inhoud"),
        (b"[1,2]", 400, "JSON-object"),
        (b"x" * (MAX_BODY_BYTES + 1), 413, "te groot"),
    ],
)
def test_unreadable_bodies_are_clear_problems(
    services: Services, body: bytes, status: int, fragment: str
) -> None:
    problem = assert_problem(call(services, WRITE, admin_headers("o"), body), status)
    assert fragment in str(problem["detail"])


def test_schema_violations_are_422_naming_each_field(services: Services) -> None:
    response = call(
        services, WRITE, admin_headers("o"), json.dumps({"count": "3", "extra": 1}).encode()
    )
    problem = assert_problem(response, 422)
    errors = {e["field"]: e["detail"] for e in problem["errors"]}  # type: ignore[attr-defined]
    assert errors == {
        "name": "is verplicht",
        "count": "moet een geheel getal zijn",
        "extra": "is geen bekend veld",
    }


def test_wrong_content_type_is_415(services: Services) -> None:
    request = ApiRequest(
        "PUT",
        "http://x",
        Headers({**admin_headers("o"), "Content-Type": "text/plain"}),
        {},
        {},
        b"{}",
    )
    assert_problem(handle(WRITE, request, services), 415)


def test_unexpected_errors_are_500_problems_without_internals(services: Services) -> None:
    body = assert_problem(call(services, BROKEN, {}), 500)
    assert "secret internals" not in json.dumps(body)
    assert body["incident"]


def test_principal_header_refused_when_easy_auth_is_off() -> None:
    in_azure = Services(
        Settings.from_env(
            {
                "AzureWebJobsStorage": CONN,
                "LOONBRUG_ENVIRONMENT": "development",
                "WEBSITE_SITE_NAME": "loonbrug",
                "WEBSITE_AUTH_ENABLED": "False",
            }
        )
    )
    body = assert_problem(call(in_azure, READ, admin_headers("office1")), 503)
    assert "App Service Authentication" in str(body["hint"])
