"""The audit copy of every booked, failed or prepared journal run: immutable documents in Blob
Storage, their index in a table.

Blob container ``audit``, one folder per (office, run, Loket journal run)::

    {officeId}/{runId}/{loketJournalRunId}/loket-journal-run.json   the run as Loket listed it
    {officeId}/{runId}/{loketJournalRunId}/loket-lines.json         the lines as read from Loket
    {officeId}/{runId}/{loketJournalRunId}/entry.json               the entry Loonbrug built
    {officeId}/{runId}/{loketJournalRunId}/afas-request.json        the wire JSON sent to AFAS
    {officeId}/{runId}/{loketJournalRunId}/findings.json            the pre-check findings
    {officeId}/{runId}/{loketJournalRunId}/afas-response.json       AFAS's answer (number / error)

Several documents written together (the prepared journal run: Loket run, lines, entry, request,
findings) go into ONE blob ``{folder}/bundle-{sha256[:24]}`` (one after another, a line break
between two; its metadata lists ``name:offset:size:sha256:content type`` of each member): one
round trip and no read before. Readers see the same documents either way
(:meth:`AuditStore.read` reads the member's range).

Since issue 18 the blobs are their own index: a blob's metadata carries the client and the
moment it was kept (``client``, ``created``), and :meth:`AuditStore.list` lists the journal
run's folder. Rows of table ``AuditDocuments`` (below) are the layout written before; they are
still read, first, so an audit copy kept before needs no migration (old and new documents of
one journal run list together, a name kept twice with other bytes as its variant, as before).

Every blob is uploaded with ``overwrite=False``: a second write of the same bytes is a no-op
(the SHA-256 in the index matches); a write of different bytes under a name that exists keeps the
first and stores the new one as ``{stem}-{sha256[:12]}{ext}`` next to it, so nothing is ever
replaced. In Azure the container also has a time-based immutability policy and a lifecycle rule
that deletes blobs after ``AUDIT_RETENTION_YEARS`` (infra/app/storage.bicep).

Table ``AuditDocuments`` (the old layout, read only): PartitionKey = ``{office}|{runId}``,
RowKey = ``{loketJournalRunId}|{name}``: blob path, size, SHA-256, content type, client,
retain-until.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote, unquote

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.data.tables import TableClient, TableEntity

from shared.store.storage import Storage
from shared.store.tables import check_key, key_part, when

TABLE: Final = "AuditDocuments"
CONTAINER: Final = "audit"
JSON_TYPE: Final = "application/json"
BUNDLE_TYPE: Final = "application/x-loonbrug-audit-bundle"
BUNDLE_PREFIX: Final = "bundle-"

# The document names, in the order a journal run produces them.
LOKET_RUN: Final = "loket-journal-run.json"
LOKET_LINES: Final = "loket-lines.json"
ENTRY: Final = "entry.json"
AFAS_REQUEST: Final = "afas-request.json"
FINDINGS: Final = "findings.json"
AFAS_RESPONSE: Final = "afas-response.json"


@dataclass(frozen=True)
class AuditDocument:
    office_id: str
    run_id: str
    loket_journal_run_id: str
    name: str
    client_id: str
    blob: str
    size: int
    sha256: str
    content_type: str
    created_at: datetime | None
    retain_until: datetime | None
    offset: int | None = None  # where it starts in a bundle blob; None: the blob is the document


CANONICAL_JSON: Final[dict[str, Any]] = {
    "ensure_ascii": False,
    "sort_keys": True,
    "indent": 1,
    "default": str,
}


def canonical_json(value: Any) -> bytes:
    """Stable bytes for a JSON document (sorted keys), so identical content hashes the same."""
    return json.dumps(value, **CANONICAL_JSON).encode()


class AuditStore:
    def __init__(self, storage: Storage, *, retention_years: int) -> None:
        self._storage = storage
        self._retention = timedelta(days=365 * retention_years + retention_years // 4)
        self._container_ready = False

    @property
    def _table(self) -> TableClient:
        return self._storage.table(TABLE)

    def _container(self) -> Any:
        container = self._storage.blob_service().get_container_client(CONTAINER)
        if not self._container_ready:
            try:
                container.create_container()
            except ResourceExistsError:
                pass
            self._container_ready = True
        return container

    def write(
        self,
        *,
        office_id: str,
        run_id: str,
        loket_journal_run_id: str,
        client_id: str,
        name: str,
        data: bytes,
        now: datetime,
        content_type: str = JSON_TYPE,
    ) -> AuditDocument:
        """Keep ``data`` as document ``name``; idempotent for identical bytes, never overwrites."""
        return self.write_many(
            office_id=office_id,
            run_id=run_id,
            loket_journal_run_id=loket_journal_run_id,
            client_id=client_id,
            documents=[(name, data, content_type)],
            now=now,
        )[0]

    def write_many(
        self,
        *,
        office_id: str,
        run_id: str,
        loket_journal_run_id: str,
        client_id: str,
        documents: list[tuple[str, bytes, str]],
        now: datetime,
        first_stands: bool = False,
    ) -> list[AuditDocument]:
        """Keep several documents of one journal run in ONE round trip, without reading first:
        one blob upload (several documents go into one bundle blob; its metadata lists each
        member's byte range and SHA-256, the client and the moment), no index row (the blobs
        are the index: :meth:`list`). Same rules as :meth:`write` for each (name, bytes,
        content type); with ``first_stands`` a name already kept with other bytes keeps only
        the first (no variant). The documents answered carry the names as given; a bundle
        member whose name a journal run already has with other bytes is listed as a variant
        (:meth:`list` is the truth)."""
        folder = _folder(office_id, run_id, loket_journal_run_id)
        digests = [hashlib.sha256(data).hexdigest() for _, data, _ in documents]
        # Blob metadata travels as HTTP headers (ASCII): the client id is percent-encoded.
        meta = {"client": quote(client_id, safe=""), "created": now.isoformat()}
        if len(documents) == 1:
            name, data, content_type = documents[0]
            kept = self._upload(
                folder, name, data, content_type, digests[0], first_stands, metadata=meta
            )
            if kept is None or not first_stands:
                # Kept before with other bytes (first stands), or a variant may be due: the
                # name as the journal run's listing gives it (a read, never on the sync path).
                listed = self.list(office_id, run_id, loket_journal_run_id)
                if kept is None:
                    return [d for d in listed if d.name == name][:1]
                same = [d for d in listed if d.blob == f"{folder}/{kept}"] or [
                    d for d in listed if d.sha256 == digests[0] and _same_name(d.name, name)
                ]
                if same:
                    return same[:1]
            members: list[tuple[str, int | None, int]] = [(kept, None, len(data))]
            blob_of = [f"{folder}/{kept}"]
        else:
            bundle, offsets = _bundle(documents)
            path = f"{folder}/{BUNDLE_PREFIX}{hashlib.sha256(bundle).hexdigest()[:24]}"
            self._upload_bundle(path, bundle, documents, offsets, digests, meta)
            members = [
                (name, offset, len(data))
                for (name, data, _), offset in zip(documents, offsets, strict=True)
            ]
            blob_of = [path] * len(documents)
        return [
            AuditDocument(
                office_id=office_id,
                run_id=run_id,
                loket_journal_run_id=loket_journal_run_id,
                name=name,
                client_id=client_id,
                blob=blob,
                size=size,
                sha256=digest,
                content_type=content_type,
                created_at=now,
                retain_until=now + self._retention,
                offset=offset,
            )
            for (name, offset, size), blob, digest, (_, _, content_type) in zip(
                members, blob_of, digests, documents, strict=True
            )
        ]

    def _upload_bundle(
        self,
        path: str,
        bundle: bytes,
        documents: list[tuple[str, bytes, str]],
        offsets: list[int],
        digests: list[str],
        meta: dict[str, str],
    ) -> None:
        """One blob for several documents (named by its SHA-256: the same bundle again is the
        same blob); its metadata lists the members (name:offset:size:sha256:content type)."""
        members = ";".join(
            f"{name}:{offset}:{len(data)}:{digest}:{content_type}"
            for (name, data, content_type), offset, digest in zip(
                documents, offsets, digests, strict=True
            )
        )
        try:
            self._container().get_blob_client(path).upload_blob(
                bundle,
                overwrite=False,
                content_settings=_content_settings(BUNDLE_TYPE),
                metadata={"members": members, **meta},
            )
        except ResourceExistsError:
            pass  # named by its hash: the same bytes are there

    def _upload(
        self,
        folder: str,
        name: str,
        data: bytes,
        content_type: str,
        digest: str,
        first_stands: bool = False,
        *,
        metadata: dict[str, str] | None = None,
    ) -> str | None:
        """Upload once (``overwrite=False``); answers the name the bytes are kept under (None:
        ``first_stands`` and other bytes are kept under ``name``)."""
        client = self._container().get_blob_client(f"{folder}/{name}")
        meta = {"sha256": digest, **(metadata or {})}
        try:
            client.upload_blob(
                data,
                overwrite=False,
                content_settings=_content_settings(content_type),
                metadata=meta,
            )
            return name
        except ResourceExistsError:
            # Uploaded before (a redelivery, or a crash after the upload): keep the first bytes.
            props = client.get_blob_properties()
            if (props.metadata or {}).get("sha256", "") == digest:
                return name
            if first_stands:
                return None
        variant = _variant(name, digest)
        try:
            self._container().get_blob_client(f"{folder}/{variant}").upload_blob(
                data,
                overwrite=False,
                content_settings=_content_settings(content_type),
                metadata=meta,
            )
        except ResourceExistsError:
            pass  # the variant is named by its hash: the same bytes are there
        return variant

    def write_json(
        self,
        *,
        office_id: str,
        run_id: str,
        loket_journal_run_id: str,
        client_id: str,
        name: str,
        value: Any,
        now: datetime,
    ) -> AuditDocument:
        return self.write(
            office_id=office_id,
            run_id=run_id,
            loket_journal_run_id=loket_journal_run_id,
            client_id=client_id,
            name=name,
            data=value if isinstance(value, bytes) else canonical_json(value),
            now=now,
        )

    def get(
        self, office_id: str, run_id: str, loket_journal_run_id: str, name: str
    ) -> AuditDocument | None:
        return next(
            (d for d in self.list(office_id, run_id, loket_journal_run_id) if d.name == name),
            None,
        )

    def list(self, office_id: str, run_id: str, loket_journal_run_id: str) -> list[AuditDocument]:
        """The journal run's documents: the index rows of the old layout (``AuditDocuments``,
        written until issue 18), then every blob of the journal run's folder that no row
        indexes (the layout since: the blobs and their metadata are the index). Read in the
        order they were kept: a name a journal run already has, with other bytes, is listed as
        its variant ``{stem}-{sha256[:12]}{ext}`` (as the old index named it); the same bytes
        again are not listed twice."""
        prefix = f"{_key(loket_journal_run_id)}|"
        entities = self._table.query_entities(
            "PartitionKey eq @pk and RowKey gt @start and RowKey lt @end",
            parameters={
                "pk": _partition(office_id, run_id),
                "start": prefix,
                "end": prefix[:-1] + "}",
            },
        )
        found = [_document(office_id, run_id, e) for e in entities]
        indexed = {(d.blob, d.offset) for d in found}
        seen = {d.name: {d.sha256} for d in found}
        folder = _folder(office_id, run_id, loket_journal_run_id)
        blobs = sorted(
            self._container().list_blobs(name_starts_with=f"{folder}/", include=["metadata"]),
            key=_kept_at,
        )
        for blob in blobs:
            for d in _members(office_id, run_id, loket_journal_run_id, blob, self._retention):
                if (d.blob, d.offset) in indexed:
                    continue
                if d.name in seen and d.sha256 not in seen[d.name]:
                    d = replace(d, name=_variant(d.name, d.sha256))
                if d.sha256 in seen.get(d.name, set()):
                    continue  # the same bytes under this name already
                seen.setdefault(d.name, set()).add(d.sha256)
                found.append(d)
        order = {n: i for i, n in enumerate(DOCUMENT_ORDER)}
        return sorted(found, key=lambda d: (order.get(d.name, len(order)), d.name))

    def read(self, document: AuditDocument) -> bytes:
        """The document's bytes; raises LookupError when the blob is gone (retention)."""
        client = self._container().get_blob_client(document.blob)
        try:
            if document.offset is not None:  # a member of a bundle: its byte range
                data: bytes = client.download_blob(
                    offset=document.offset, length=document.size
                ).readall()
            else:
                data = client.download_blob().readall()
        except ResourceNotFoundError:
            raise LookupError(document.blob) from None
        return data

    def read_named(
        self, office_id: str, run_id: str, loket_journal_run_id: str, name: str
    ) -> bytes | None:
        document = self.get(office_id, run_id, loket_journal_run_id, name)
        if document is None:
            return None
        try:
            return self.read(document)
        except LookupError:
            return None

    def read_latest(
        self, office_id: str, run_id: str, loket_journal_run_id: str, name: str
    ) -> bytes | None:
        """The newest version of document ``name``: when an entry was prepared again with other
        content in the same run (Loket changed before an approval), the later preparation is
        stored as ``{stem}-{sha256[:12]}{ext}`` next to the first, and it is the one that was
        booked (or is waiting now), so exports read it, not the first.

        Caveat: a version identical to an earlier one is not written again (no new index row),
        so content that changes and then changes back still reads as the middle version.
        """
        stem, dot, ext = name.rpartition(".")
        versions = [
            d
            for d in self.list(office_id, run_id, loket_journal_run_id)
            if d.name == name
            or (
                d.name.startswith(f"{stem}-")
                and d.name.endswith(f"{dot}{ext}")
                and _is_variant_of(d.name, name)
            )
        ]
        if not versions:
            return None
        newest = max(
            versions, key=lambda d: (d.created_at is not None, d.created_at, d.name == name)
        )
        try:
            return self.read(newest)
        except LookupError:
            return None


def _kept_at(blob: Any) -> tuple[datetime, str]:
    """When a blob was kept: its own ``created`` (to the microsecond; Blob Storage lists the
    creation time to the second only, and bundles are named by hash, so two kept within one
    second would list in hash order), else the creation time."""
    created = when((blob.metadata or {}).get("created"))
    return (created or blob.creation_time or blob.last_modified or _EPOCH, blob.name)


def _is_variant_of(candidate: str, name: str) -> bool:
    stem, dot, ext = name.rpartition(".")
    middle = candidate[len(stem) + 1 : len(candidate) - len(dot + ext)]
    return len(middle) == 12 and all(c in "0123456789abcdef" for c in middle)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
DOCUMENT_ORDER: Final = (LOKET_RUN, LOKET_LINES, ENTRY, AFAS_REQUEST, FINDINGS, AFAS_RESPONSE)


def _variant(name: str, digest: str) -> str:
    """Where different bytes for an existing name go: ``afas-response-1a2b3c4d5e6f.json``."""
    stem, dot, ext = name.rpartition(".")
    return f"{stem}-{digest[:12]}{dot}{ext}" if dot else f"{name}-{digest[:12]}"


def _bundle(documents: list[tuple[str, bytes, str]]) -> tuple[bytes, list[int]]:
    """The documents one after another (a line break between two), and where each starts."""
    offsets: list[int] = []
    position = 0
    for _, data, _ in documents:
        offsets.append(position)
        position += len(data) + 1
    return b"\n".join(data for _, data, _ in documents), offsets


def _content_settings(content_type: str) -> Any:
    from azure.storage.blob import ContentSettings

    return ContentSettings(content_type=content_type)


def _key(loket_journal_run_id: str) -> str:
    """A Loket journal run id in a key or blob folder (escaped: it comes from outside)."""
    return check_key(key_part(loket_journal_run_id))


def _members(
    office_id: str, run_id: str, loket_journal_run_id: str, blob: Any, retention: timedelta
) -> list[AuditDocument]:
    """The documents one blob holds, from its metadata."""
    meta = blob.metadata or {}
    created = when(meta.get("created")) or blob.creation_time or blob.last_modified
    retain = created + retention if created is not None else None
    base = blob.name.rsplit("/", 1)[-1]
    common = {
        "office_id": office_id,
        "run_id": run_id,
        "loket_journal_run_id": loket_journal_run_id,
        "client_id": unquote(meta.get("client", "")),
        "blob": blob.name,
        "created_at": created,
        "retain_until": retain,
    }
    if not base.startswith(BUNDLE_PREFIX):
        content_type = blob.content_settings.content_type or JSON_TYPE
        return [
            AuditDocument(
                name=base,
                size=int(blob.size),
                sha256=meta.get("sha256", ""),
                content_type=content_type,
                **common,
            )
        ]
    members: list[AuditDocument] = []
    for member in filter(None, meta.get("members", "").split(";")):
        name, offset, size, *rest = member.split(":", 4)
        members.append(
            AuditDocument(
                name=name,
                size=int(size),
                sha256=rest[0] if rest else "",
                content_type=rest[1] if len(rest) > 1 else JSON_TYPE,
                offset=int(offset),
                **common,
            )
        )
    return members


def _same_name(listed: str, name: str) -> bool:
    return listed == name or (
        listed.startswith(name.rpartition(".")[0] + "-") and _is_variant_of(listed, name)
    )


def _folder(office_id: str, run_id: str, loket_journal_run_id: str) -> str:
    return f"{check_key(office_id)}/{check_key(run_id)}/{_key(loket_journal_run_id)}"


def _partition(office_id: str, run_id: str) -> str:
    return f"{check_key(office_id)}|{check_key(run_id)}"


def _document(office_id: str, run_id: str, e: TableEntity) -> AuditDocument:
    return AuditDocument(
        office_id=office_id,
        run_id=run_id,
        loket_journal_run_id=e.get("loket_journal_run_id", ""),
        name=e.get("name", ""),
        client_id=e.get("client_id", ""),
        blob=e.get("blob", ""),
        size=int(e.get("size", 0)),
        sha256=e.get("sha256", ""),
        content_type=e.get("content_type", JSON_TYPE),
        created_at=when(e.get("created_at")),
        retain_until=when(e.get("retain_until")),
        offset=int(e["offset"]) if e.get("offset") is not None else None,
    )
