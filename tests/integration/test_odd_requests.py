"""attack2: odd values in a route or query string answer as odd values, never 500."""

from __future__ import annotations

import re
from collections.abc import Callable

from devtools.sandbox.loket import LoketSandbox
from shared.api.catalog import OPERATIONS
from shared.bootstrap import Services
from shared.settings import Settings
from tests.support.afas_fixtures import call
from tests.support.api import admin_headers

HALF_A_CHARACTER = "\ud800"  # a lone surrogate: what a sloppy decoder makes of %ED%A0%80


def test_a_half_character_in_any_route_or_query_value_is_no_500(
    afas_env: dict[str, str], loket_sandbox: LoketSandbox, unique: Callable[[str], str]
) -> None:
    """Was: the runs list (``clientId``), every document and export route, the Aansluiting
    (route and ``year``, whose Dutch answer even failed to encode) and both OAuth callbacks
    answered 500."""
    services = Services(Settings.from_env({**afas_env, **loket_sandbox.env()}))
    headers = admin_headers(unique("office"))
    failed = []
    for operation in OPERATIONS:
        if operation.method != "GET":
            continue
        route = {n: HALF_A_CHARACTER for n in re.findall(r"{\*?(\w+)}", operation.route or "")}
        queries: list[dict[str, str]] = [{}, *({q.name: HALF_A_CHARACTER} for q in operation.query)]
        for query in queries:
            if not route and not query:
                continue
            done = call(services, operation, headers=headers, route=route, query=query)
            if done.status >= 500 and done.status not in (502, 503):
                failed.append((operation.route, sorted(query), done.status))
    assert failed == []
