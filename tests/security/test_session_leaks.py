"""The leak scan of the whole test session (runs after every other test: marker ``session_end``).

Every token, code, state, PKCE verifier, AFAS token and OAuth client secret that any sandbox of
this session issued or saw is searched for in

* every log record of the test process (tests/support/leakscan.py installs the handler),
* every log file a local host of this session wrote (devtools.host subprocesses),
* all telemetry exported to the ``otel`` fixture's exporters or an Application Insights sandbox,
* the raw ``Connections`` and ``OAuthStates`` tables of the session Azurite.

Zero hits. (A run of a subset of the suite scans what that subset produced.)
"""

from __future__ import annotations

import pytest
from azure.data.tables import TableServiceClient

from devtools.azurite import Azurite
from tests.support.leakscan import EVIDENCE, find_leaks


@pytest.mark.session_end
def test_no_secret_of_the_session_reaches_a_log_telemetry_or_storage(azurite: Azurite) -> None:
    if not EVIDENCE.sandboxes:
        pytest.skip("no sandbox ran in this session: nothing was issued, nothing to look for")
    secrets = EVIDENCE.secrets()
    texts: dict[str, str] = {"test-process log": "\n".join(EVIDENCE.handler.lines)}
    for path in EVIDENCE.host_logs():
        texts[f"host log {path.name} ({path.parent.name})"] = path.read_text(errors="replace")
    for index, text in enumerate(EVIDENCE.telemetry()):
        texts[f"telemetry #{index}"] = text
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    for table in ("Connections", "OAuthStates"):
        rows = list(service.get_table_client(table).list_entities())
        texts[f"Azurite table {table}"] = "\n".join(repr(dict(r)) for r in rows)

    hits = find_leaks(secrets, texts)

    scanned = sum(len(t) for t in texts.values())
    print(
        f"\nleak scan: {len(secrets)} secrets from {len(EVIDENCE.sandboxes)} sandboxes, "
        f"{len(EVIDENCE.handler.lines)} log records, {len(EVIDENCE.host_logs())} host logs, "
        f"{len(EVIDENCE.telemetry())} telemetry exports, {scanned:,} characters: {len(hits)} hits"
    )
    assert secrets, "the sandboxes issued nothing: the scan would prove nothing"
    assert EVIDENCE.handler.lines, "the session handler captured no log record"
    assert not hits, hits
