"""Malformed and oversized queue messages never loop and never crash the worker or the poison
handler (a fresh Azurite and a local host of their own, so every count below is exact).

* Base64 messages that are no sync job (random bytes, huge or deeply nested JSON, a wrong or
  disguised version, wrong fields): ``sync_worker`` runs once for each, logs why it rejects
  it, and completes it. Nothing is retried, nothing reaches the poison queue.
* Messages that are not Base64 (plain text, a plain-text job, 60 KB of text): the host cannot
  bind them and moves each to ``sync-jobs-poison`` as it is, exactly once; the poison listener
  cannot bind it either and moves it on to ``sync-jobs-poison-poison``. Our code never runs
  on them, so it cannot crash on them.
* The same malformed bodies put straight on the poison queue: ``sync_worker_poison`` rejects
  each once with a logged reason and never fails.
"""

from __future__ import annotations

import base64
import json
import random
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from azure.storage.queue import QueueClient

from devtools.azurite import ROOT, Azurite, start_azurite
from shared.sync.messages import MAX_MESSAGE_BYTES, SYNC_POISON_QUEUE, SYNC_QUEUE
from tests.conftest import base_env
from tests.support.localhost import LocalHostProcess, start_local_host, wait_until
from tests.support.sync_world import FAST_QUEUES

SEED = 20260102
QUEUE_LEASE = 3  # seconds: a message that is not settled comes back quickly, and is counted


def malformed_bodies(seed: int = SEED) -> list[bytes]:
    """Bodies that decode from Base64 but are no sync job (deterministic for a seed)."""
    rng = random.Random(seed)
    bodies = [rng.randbytes(rng.choice([1, 7, 100, 4096, 30_000])) for _ in range(12)]
    valid = {"v": 1, "officeId": "office-x", "runId": "run-x", "clientId": "client-x"}
    filler = "x" * (MAX_MESSAGE_BYTES - 200)
    bodies += [
        b"",  # empty
        b"null",
        b"[1, 2, 3]",
        b'"just a string"',
        json.dumps({**valid, "v": 2}).encode(),  # a future version
        json.dumps({**valid, "v": True}).encode(),  # true == 1 in Python
        json.dumps({**valid, "v": 1.0}).encode(),
        json.dumps({**valid, "v": "1"}).encode(),
        json.dumps({k: v for k, v in valid.items() if k != "runId"}).encode(),
        json.dumps({**valid, "clientId": 42}).encode(),
        json.dumps({**valid, "clientId": "../../etc/passwd"}).encode(),
        json.dumps({**valid, "extra": filler}).encode(),  # huge, just under the limit
        json.dumps({**valid, "officeId": "o" * 200}).encode(),
        b"[" * 40_000,  # deeper than the JSON parser recurses
        b'{"v":1,"officeId":' * 2_000,
        '{"v": 1, "officeId": "kantoor\u00e9"}'.encode(),
        b"\xef\xbb\xbf" + json.dumps(valid).encode()[:-1],  # BOM, truncated
    ]
    return bodies


NOT_BASE64 = [
    json.dumps({"v": 1, "officeId": "o", "runId": "r", "clientId": "c"}),  # a job, plain text
    "dit is geen base64 €",
    "{" + "y" * 60_000,  # 60 KB of text: as Base64 it would not fit in a queue message
]


@pytest.fixture
def host(tmp_path: Path) -> Iterator[tuple[LocalHostProcess, Azurite]]:
    azurite = start_azurite(log_path=str(tmp_path / "azurite.log"))
    host_json = json.loads((ROOT / "host.json").read_text())
    host_json["extensions"]["queues"] = FAST_QUEUES
    (tmp_path / "host.json").write_text(json.dumps(host_json))
    process = None
    try:
        process = start_local_host(
            base_env(azurite.connection_string),
            tmp_path,
            args=(
                "--no-timers",
                "--host-json",
                str(tmp_path / "host.json"),
                "--queue-lease",
                str(QUEUE_LEASE),
            ),
        )
        yield process, azurite
    finally:
        if process is not None:
            process.stop()
        azurite.stop()


def raw_queue(azurite: Azurite, name: str) -> QueueClient:
    client = QueueClient.from_connection_string(azurite.connection_string, name)
    try:
        client.create_queue()
    except Exception:  # noqa: S110 - it exists
        pass
    return client


def count(host: LocalHostProcess, pattern: str) -> int:
    return len(re.findall(pattern, host.log_text()))


def depth(queue: QueueClient) -> int:
    """Messages in the queue, visible or not (a message being retried still counts)."""
    return int(queue.get_queue_properties().approximate_message_count or 0)


def test_malformed_messages_complete_once_with_a_reason(
    host: tuple[LocalHostProcess, Azurite],
) -> None:
    process, azurite = host
    bodies = malformed_bodies()
    jobs = raw_queue(azurite, SYNC_QUEUE)
    for body in bodies:
        jobs.send_message(base64.b64encode(body).decode())

    wait_until(
        lambda: count(process, r"rejected malformed sync message") >= len(bodies),
        timeout=60,
        what="every malformed message rejected",
    )
    wait_until(lambda: depth(jobs) == 0, timeout=20, what="the sync queue to be empty")
    assert count(process, r"Executing 'Functions.sync_worker'") == len(bodies)
    assert count(process, r"Executed 'Functions.sync_worker' \(Succeeded") == len(bodies)
    assert count(process, r"\(Failed") == 0
    assert count(process, r"Traceback") == 0
    assert depth(raw_queue(azurite, SYNC_POISON_QUEUE)) == 0
    reasons = set(re.findall(r"rejected malformed sync message: (.+)", process.log_text()))
    assert "message is nested too deeply" in reasons
    assert "unsupported message version True" in reasons
    print(f"\nqueue fuzz: {len(bodies)} malformed messages, each rejected once: {sorted(reasons)}")


def test_messages_that_are_not_base64_go_to_poison_once_and_never_reach_our_code(
    host: tuple[LocalHostProcess, Azurite],
) -> None:
    process, azurite = host
    jobs = raw_queue(azurite, SYNC_QUEUE)
    for text in NOT_BASE64:
        jobs.send_message(text)
    final = raw_queue(azurite, f"{SYNC_POISON_QUEUE}-poison")

    wait_until(lambda: depth(final) == len(NOT_BASE64), timeout=60, what="messages dead-lettered")
    wait_until(
        lambda: depth(jobs) == 0 and depth(raw_queue(azurite, SYNC_POISON_QUEUE)) == 0,
        timeout=20,
        what="both queues empty",
    )
    moved = sorted(m.content for m in final.peek_messages(max_messages=32))
    assert moved == sorted(NOT_BASE64)  # each exactly once, as it was sent
    assert count(process, r"is not Base64; moving it to poison") == 2 * len(NOT_BASE64)
    assert count(process, r"Executing 'Functions.sync_worker") == 0
    assert count(process, r"\(Failed") == 0


def test_the_poison_handler_rejects_malformed_messages_without_failing(
    host: tuple[LocalHostProcess, Azurite],
) -> None:
    process, azurite = host
    bodies = malformed_bodies(SEED + 1)
    poison = raw_queue(azurite, SYNC_POISON_QUEUE)
    for body in bodies:
        poison.send_message(base64.b64encode(body).decode())

    wait_until(
        lambda: count(process, r"rejected malformed poison message") >= len(bodies),
        timeout=60,
        what="every poison message rejected",
    )
    wait_until(lambda: depth(poison) == 0, timeout=20, what="the poison queue to be empty")
    assert count(process, r"Executed 'Functions.sync_worker_poison' \(Succeeded") == len(bodies)
    assert count(process, r"\(Failed") == 0
    assert depth(raw_queue(azurite, f"{SYNC_POISON_QUEUE}-poison")) == 0
