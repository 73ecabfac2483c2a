"""Who may do what (contract §2), for EVERY operation of the catalog × four callers:

* nobody signed in             -> 401 (public operations answer as for anyone)
* a reader of the office       -> reads succeed, writes 403
* an admin of ANOTHER office   -> 404 for the office's ids, never 403, never its data
* the office's admin           -> succeeds; only this caller's writes change the office's rows

After every call by someone other than the office's admin, the office's rows in every table are
exactly as before (compared by ETag), so "changes nothing" is checked, not assumed. In-process
through ``shared.api.operations.handle`` on the session Azurite; a slice over HTTP on the local
host is in test_http_slice.py.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from devtools.azurite import Azurite
from shared.api.operations import Access, Operation
from tests.support.api import admin_headers, reader_headers
from tests.support.security_world import (
    OPERATIONS,
    Office,
    SecurityWorld,
    request_for,
    run,
    security_world,
)

WHO = ("nobody", "reader", "other-admin", "admin")
_OWNED_IDS = re.compile(r"\{(clientId|runId|approvalId)\}")


@dataclass
class Matrix:
    world: SecurityWorld
    owner: Office  # shared by every caller except the owner's admin (they change nothing)
    other: Office  # the other office, fully set up too


@pytest.fixture(scope="module")
def matrix(azurite: Azurite) -> Iterator[Matrix]:
    with security_world(azurite) as world:
        yield Matrix(world, world.new_office("own"), world.new_office("oth"))


def _headers(who: str, matrix: Matrix, office: Office) -> dict[str, str]:
    return {
        "nobody": {},
        "reader": reader_headers(office.id),
        "other-admin": admin_headers(matrix.other.id),
        "admin": admin_headers(office.id),
    }[who]


def _success(op: Operation) -> set[int]:
    return {s for s in op.replies if 200 <= s < 400 and s != 304} or {200}


CASES = [pytest.param(op, who, id=f"{op.name}-{who}") for op in OPERATIONS for who in WHO]


@pytest.mark.parametrize(("op", "who"), CASES)
def test_only_the_owner_office_admin_changes_anything(
    matrix: Matrix, op: Operation, who: str
) -> None:
    world = matrix.world
    # The owner's admin changes things: each of their cases gets an office of its own.
    office = world.new_office("adm") if who == "admin" else matrix.owner
    spec = request_for(op, world, office)
    before = world.snapshot(office.id)
    other_before = world.snapshot(matrix.other.id)

    answer = run(world, op, spec, _headers(who, matrix, office))
    status = answer.status
    text = answer.body.decode("utf-8", "replace")
    after = world.snapshot(office.id)

    assert status < 500, f"{op.name} as {who}: {status} {text}"
    callback = op.access is Access.PUBLIC and any(q.name == "state" for q in op.query or ())
    if status >= 400 and callback:
        # A browser lands on the OAuth callbacks: a refused state is a Dutch page, not JSON.
        assert answer.headers["Content-Type"].startswith("text/html"), answer.headers
        assert "<html" in text.lower() and "koppeling" in text.lower(), text
    elif status >= 400:
        problem = answer.json()
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert problem["status"] == status and problem["detail"]

    if op.access is Access.PUBLIC:
        # Health, the document and the portal's static files answer everyone; the callbacks
        # refuse a state nobody issued.
        if callback:
            assert status == 400, text
        else:
            assert status in _success(op), text
        assert after == before, f"{op.name} as {who} changed the office's rows"
        return

    if who == "nobody":
        assert status == 401, text
        assert after == before
    elif who == "reader":
        if op.access is Access.ADMIN:
            assert status == 403, text
        else:
            assert status in _success(op), text
        assert after == before, f"{op.name} as a reader changed the office's rows"
    elif who == "other-admin":
        assert status != 403, "another office's admin is told 404, never 403"
        if _OWNED_IDS.search(op.route) and op.method != "PUT":
            # GET/DELETE/POST on an id of the office: as if it does not exist.
            assert status == 404, text
        assert after == before, f"{op.name} by another office's admin changed the office's rows"
        shown = office.ids
        if op.method == "PUT" and "{clientId}" in op.route:
            # Client numbers are the office's own choice: another office's PUT of the same number
            # creates a client in ITS office, and its answer names the number it was given.
            assert status in (200, 201), text
            assert world.services.clients.get(matrix.other.id, office.client_id) is not None
            world.services.clients.delete(matrix.other.id, office.client_id)  # as it was
            shown = tuple(v for v in office.ids if v != office.client_id)
        for value in shown:
            assert value not in text, f"{op.name} showed another office's {value!r}"
    else:
        assert status in _success(op), f"{op.name} as the office's admin: {status} {text}"
        if op.access is Access.ADMIN:
            assert after != before, f"{op.name} reported success but changed nothing"
        else:
            assert after == before, f"{op.name} is a read but changed the office's rows"
        if (
            status < 300
            and answer.body
            and answer.headers.get("Content-Type", "").startswith("application/json")
        ):
            json.loads(answer.body)
    # Nobody's call, whoever made it, touched the other office's rows unless they are its admin.
    if who != "other-admin":
        assert world.snapshot(matrix.other.id) == other_before


def test_every_operation_is_in_the_matrix() -> None:
    """The matrix is driven by the catalog: a new operation is in it without editing this file."""
    names = {c.values[0].name for c in CASES}  # type: ignore[union-attr]
    assert names == {op.name for op in OPERATIONS}
    assert len(CASES) == 4 * len(OPERATIONS)


def test_lists_of_another_office_show_only_its_own(matrix: Matrix) -> None:
    world = matrix.world
    for op in OPERATIONS:
        if op.method != "GET" or "{" in op.route or op.access is Access.PUBLIC:
            continue
        spec = request_for(op, world, matrix.owner)
        mine = run(world, op, spec, admin_headers(matrix.owner.id)).body.decode()
        theirs = run(world, op, spec, admin_headers(matrix.other.id)).body.decode()
        if op.name in ("list_runs", "list_clients"):
            assert matrix.owner.client_id in mine or matrix.owner.run_id in mine, op.name
            assert matrix.other.client_id in theirs or matrix.other.run_id in theirs, op.name
        for value in matrix.owner.ids:
            assert value not in theirs, f"{op.name}: {value}"
        for value in matrix.other.ids:
            assert value not in mine, f"{op.name}: {value}"
