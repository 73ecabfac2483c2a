"""The audit store, the approval items and the notification claims on Azurite."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.bootstrap import Services
from shared.store import audit_copies
from shared.store.approvals import ApprovalState, Prepared, approval_id
from shared.store.tables import ConcurrencyConflict

NOW = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)


def test_audit_documents_are_immutable_and_idempotent(
    services: Services, unique: Callable[[str], str]
) -> None:
    office, run, journal = unique("office"), unique("run"), unique("jr")
    store = services.audit

    def write(name: str, value: object) -> audit_copies.AuditDocument:
        return store.write_json(
            office_id=office,
            run_id=run,
            loket_journal_run_id=journal,
            client_id="4711",
            name=name,
            value=value,
            now=NOW,
        )

    first = write(audit_copies.AFAS_RESPONSE, {"outcome": "booked", "entryNumber": "17"})
    again = write(
        audit_copies.AFAS_RESPONSE, {"entryNumber": "17", "outcome": "booked"}
    )  # same content
    assert again.blob == first.blob and again.sha256 == first.sha256
    other = write(audit_copies.AFAS_RESPONSE, {"outcome": "booked", "entryNumber": "18"})
    assert other.name != audit_copies.AFAS_RESPONSE and other.name.startswith("afas-response-")
    write(audit_copies.LOKET_LINES, {"count": 0, "lines": []})

    listed = store.list(office, run, journal)
    assert [d.name for d in listed] == [
        audit_copies.LOKET_LINES,
        audit_copies.AFAS_RESPONSE,
        other.name,
    ]
    assert json.loads(store.read(listed[1]))["entryNumber"] == "17"  # the first stays
    assert json.loads(store.read(listed[2]))["entryNumber"] == "18"
    assert listed[1].retain_until is not None
    assert listed[1].retain_until - NOW >= timedelta(days=7 * 365)
    # The blob itself refuses to be overwritten.
    from azure.core.exceptions import ResourceExistsError

    blob = services.storage.blob_service().get_blob_client("audit", first.blob)
    with pytest.raises(ResourceExistsError):
        blob.upload_blob(b"{}", overwrite=False)
    assert store.list(office, run, unique("other")) == []
    assert store.read_named(office, run, journal, "missing.json") is None


def _prepared(office: str, fingerprint: str, run: str = "nightly-2024-03-01") -> Prepared:
    return Prepared(
        office_id=office,
        client_id="4711",
        target_key="profit|12345|1",
        target_label="administratie 1 (O12345AA)",
        environment="O12345AA",
        loket_journal_run_id="jr-1",
        payroll_run_id="pr-1",
        payroll_period="2024-2",
        sequence_number=2,
        run_id=run,
        reference="LB-1",
        fingerprint=fingerprint,
        total_debit=Decimal("100.00"),
        total_credit=Decimal("100.00"),
        line_count=4,
        description="Loonjournaal",
    )


def test_one_approval_item_per_journal_run_and_one_decision(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    repo = services.approvals
    item = repo.prepare(_prepared(office, "a" * 64), now=NOW)
    assert item.approval_id == approval_id("profit|12345|1", "jr-1")
    assert item.state is ApprovalState.PENDING
    # A redelivery / the next nightly: the same item; changed lines refresh it.
    same = repo.prepare(_prepared(office, "a" * 64, run="nightly-2024-03-02"), now=NOW)
    assert same.etag == item.etag and same.prepared.run_id == "nightly-2024-03-01"
    refreshed = repo.prepare(_prepared(office, "b" * 64, run="nightly-2024-03-02"), now=NOW)
    assert refreshed.prepared.fingerprint == "b" * 64 and refreshed.etag != item.etag
    assert [i.approval_id for i in repo.pending(office)] == [item.approval_id]

    # Approve and reject race on the same ETag: exactly one wins.
    approving = repo.move(refreshed, ApprovalState.APPROVING, decided_by="a")
    with pytest.raises(ConcurrencyConflict):
        repo.move(refreshed, ApprovalState.REJECTED, decided_by="b")
    assert approving.state is ApprovalState.APPROVING and repo.pending(office) == []
    # An item an admin decided on is not re-prepared.
    kept = repo.prepare(_prepared(office, "c" * 64), now=NOW)
    assert kept.state is ApprovalState.APPROVING and kept.prepared.fingerprint == "b" * 64
    assert repo.get(unique("office"), item.approval_id) is None


def test_a_notification_event_is_claimed_once(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    repo = services.notifications
    claim = repo.claim(office, "summary|nightly-2024-03-01", now=NOW)
    assert claim is not None
    assert repo.claim(office, "summary|nightly-2024-03-01", now=NOW) is None  # live lease
    # The sender died: after the lease another attempt may take it over, once.
    later = NOW + timedelta(minutes=6)
    taken = repo.claim(office, "summary|nightly-2024-03-01", now=later)
    assert taken is not None
    assert repo.claim(office, "summary|nightly-2024-03-01", now=later) is None
    repo.sent(taken, now=later, recipients=("a@b.nl",), subject="s", message_id="<x@b.nl>")
    assert repo.claim(office, "summary|nightly-2024-03-01", now=later + timedelta(days=1)) is None
    event = repo.event(office, "summary|nightly-2024-03-01")
    assert event is not None and event.state == "sent" and event.attempts == 2


def test_exports_read_the_newest_version_of_a_document(
    services: Services, unique: Callable[[str], str]
) -> None:
    office, run, journal = unique("office"), unique("run"), unique("jr")
    store = services.audit
    for minutes, centre in ((0, "100"), (1, "200"), (2, "300")):
        store.write_json(
            office_id=office,
            run_id=run,
            loket_journal_run_id=journal,
            client_id="4711",
            name=audit_copies.ENTRY,
            value={"lines": [{"account": "4000", "dimensions": {"1": centre}}]},
            now=NOW + timedelta(minutes=minutes),
        )
    store.write_json(  # another document whose name starts alike is not a version of entry.json
        office_id=office,
        run_id=run,
        loket_journal_run_id=journal,
        client_id="4711",
        name="entry-notes.json",
        value={"note": "x"},
        now=NOW + timedelta(minutes=5),
    )
    names = [d.name for d in store.list(office, run, journal)]
    assert names[0] == audit_copies.ENTRY and len(names) == 4
    latest = store.read_latest(office, run, journal, audit_copies.ENTRY)
    assert latest is not None
    assert json.loads(latest)["lines"][0]["dimensions"]["1"] == "300"
    assert (
        json.loads(store.read_named(office, run, journal, audit_copies.ENTRY) or b"")["lines"][0][
            "dimensions"
        ]["1"]
        == "100"
    )  # the first stays as it was
    assert store.read_latest(office, run, journal, audit_copies.AFAS_REQUEST) is None


def test_a_prepared_journal_run_is_one_bundle_blob_and_nothing_else(
    services: Services, unique: Callable[[str], str]
) -> None:
    """The prepared documents of a journal run cost one round trip (one upload), no read first; each reads back as its own document; a redelivery with the
    same bytes adds nothing, with other bytes keeps the first and a variant next to it."""
    from shared.store.storage import Storage

    office, run, journal = unique("office"), unique("run"), unique("jr")
    requests: list[str] = []
    storage = Storage(
        services.settings.storage,
        on_request=lambda r: requests.append(r.http_request.method),
    )
    store = audit_copies.AuditStore(storage, retention_years=7)
    store.list(office, unique("warm"), journal)  # table created, outside the count
    store._container()
    documents = [
        (audit_copies.LOKET_LINES, b'{"count": 1}', audit_copies.JSON_TYPE),
        (audit_copies.ENTRY, b'{"lines": []}', audit_copies.JSON_TYPE),
        (audit_copies.AFAS_REQUEST, b'{"FiEntries": 1}', audit_copies.JSON_TYPE),
    ]

    def write(
        items: list[tuple[str, bytes, str]], now: datetime = NOW
    ) -> list[audit_copies.AuditDocument]:
        return store.write_many(
            office_id=office,
            run_id=run,
            loket_journal_run_id=journal,
            client_id="4711",
            documents=items,
            now=now,
        )

    requests.clear()
    first = write(documents)
    assert requests == ["PUT"]  # one bundle upload; the blob is its own index (issue 18)
    assert len({d.blob for d in first}) == 1
    assert [store.read_named(office, run, journal, n) for n, _, _ in documents] == [
        data for _, data, _ in documents
    ]
    again = write(documents)
    assert [(d.name, d.sha256) for d in again] == [(d.name, d.sha256) for d in first]
    changed = write(
        [(audit_copies.ENTRY, b'{"lines": [1]}', audit_copies.JSON_TYPE)],
        NOW + timedelta(minutes=1),
    )
    assert changed[0].name.startswith("entry-")
    assert store.read_named(office, run, journal, audit_copies.ENTRY) == b'{"lines": []}'
    assert store.read_latest(office, run, journal, audit_copies.ENTRY) == b'{"lines": [1]}'
    names = [d.name for d in store.list(office, run, journal)]
    assert (
        names[:3] == [audit_copies.LOKET_LINES, audit_copies.ENTRY, audit_copies.AFAS_REQUEST]
        and len(names) == 4
    )


def test_an_audit_copy_kept_in_the_old_layout_reads_with_the_new_one(
    services: Services, unique: Callable[[str], str]
) -> None:
    """Issue 18: the blobs are their own index now; documents kept before (a blob plus an
    ``AuditDocuments`` row) still list and read, without a migration, beside new ones, and a
    name kept again with other bytes is still listed as its variant."""
    office, run, journal = unique("office"), unique("run"), unique("jr")
    store = services.audit
    folder = f"{office}/{run}/{journal}"
    old_entry = b'{"lines": ["old"]}'
    services.storage.blob_service().get_blob_client("audit", f"{folder}/entry.json").upload_blob(
        old_entry
    )
    services.storage.table(
        audit_copies.TABLE
    ).create_entity(  # the row the old layout wrote with it
        {
            "PartitionKey": f"{office}|{run}",
            "RowKey": f"{journal}|entry.json",
            "name": audit_copies.ENTRY,
            "loket_journal_run_id": journal,
            "client_id": "4711",
            "blob": f"{folder}/entry.json",
            "size": len(old_entry),
            "sha256": hashlib.sha256(old_entry).hexdigest(),
            "content_type": audit_copies.JSON_TYPE,
            "created_at": NOW,
            "retain_until": NOW + timedelta(days=7 * 365),
        }
    )
    store.write_many(
        office_id=office,
        run_id=run,
        loket_journal_run_id=journal,
        client_id="klant-ë 4711",
        documents=[
            (audit_copies.LOKET_LINES, b'{"count": 0}', audit_copies.JSON_TYPE),
            (audit_copies.ENTRY, b'{"lines": ["new"]}', audit_copies.JSON_TYPE),
        ],
        now=NOW + timedelta(minutes=1),
    )
    listed = store.list(office, run, journal)
    assert [d.name for d in listed][:2] == [audit_copies.LOKET_LINES, audit_copies.ENTRY] and len(
        listed
    ) == 3
    assert listed[2].name.startswith("entry-") and listed[2].client_id == "klant-ë 4711"
    assert (
        store.read_named(office, run, journal, audit_copies.ENTRY) == old_entry
    )  # the first stays
    assert store.read_latest(office, run, journal, audit_copies.ENTRY) == b'{"lines": ["new"]}'
    kept_at = NOW + timedelta(minutes=1)
    assert listed[0].created_at == kept_at and listed[0].retain_until is not None
    assert listed[0].retain_until - kept_at >= timedelta(days=7 * 365)


def test_bundles_kept_within_one_second_list_in_the_order_they_were_kept(
    services: Services, unique: Callable[[str], str]
) -> None:
    """attack2: Blob Storage lists a blob's creation time to the second, and bundles are named
    by their hash. A journal run prepared again with other content within the same second
    (a redelivery, an approval's refresh) listed by hash order: the later entry could take the
    plain name ``entry.json`` and the first became its variant. Each blob's own ``created``
    (to the microsecond) decides."""
    office, run, journal = unique("office"), unique("run"), unique("jr")
    store = services.audit
    kept = []
    for n in range(6):
        entry = json.dumps({"lines": [n]}).encode()
        documents = [
            (audit_copies.ENTRY, entry, audit_copies.JSON_TYPE),
            (audit_copies.AFAS_REQUEST, b'{"FiEntries": %d}' % n, audit_copies.JSON_TYPE),
        ]
        store.write_many(
            office_id=office,
            run_id=run,
            loket_journal_run_id=journal,
            client_id="4711",
            documents=documents,
            now=NOW + timedelta(milliseconds=n),
        )
        kept.append(hashlib.sha256(entry).hexdigest())
    listed = {d.name: d.sha256 for d in store.list(office, run, journal)}
    assert listed[audit_copies.ENTRY] == kept[0]  # the first stays the plain name
    assert store.read_named(office, run, journal, audit_copies.ENTRY) == b'{"lines": [0]}'
    assert store.read_latest(office, run, journal, audit_copies.ENTRY) == b'{"lines": [5]}'
