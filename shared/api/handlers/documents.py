"""The audit copy of a journal run in the run detail: list, download, and the two exports."""

from __future__ import annotations

import json
import re
from datetime import datetime

from pydantic import Field

from shared.api.http import ApiResponse, Problem, json_response, not_found
from shared.api.operations import Access, Operation, Reply, RequestContext
from shared.api.schemas import ResponseModel
from shared.store import audit_copies
from shared.store.audit_copies import AuditDocument
from shared.store.tables import check_key
from shared.sync.exports import entry_csv

_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]{0,80}\.json$")


class DocumentOut(ResponseModel):
    name: str
    size: int
    sha256: str
    content_type: str
    created_at: datetime | None
    retain_until: datetime | None
    href: str = Field(description="Download path")


class DocumentListOut(ResponseModel):
    run_id: str
    loket_journal_run_id: str
    client_id: str
    documents: list[DocumentOut]
    exports: dict[str, str] = Field(description="csv / json: download paths of the exports")


def _scope(ctx: RequestContext) -> tuple[str, str]:
    params = ctx.request.route_params
    run_id, journal = params.get("runId", ""), params.get("loketJournalRunId", "")
    try:
        check_key(run_id)
        check_key(journal)
    except ValueError:
        raise not_found("Deze journaalrun bestaat niet (of hoort niet bij uw kantoor).") from None
    if ctx.services.runs.get(ctx.office_id, run_id) is None:
        raise not_found("Deze run bestaat niet (of hoort niet bij uw kantoor).")
    return run_id, journal


def _base(run_id: str, journal: str) -> str:
    return f"/api/runs/{run_id}/journal-runs/{journal}"


def _documents(ctx: RequestContext) -> tuple[str, str, list[AuditDocument]]:
    run_id, journal = _scope(ctx)
    found = ctx.services.audit.list(ctx.office_id, run_id, journal)
    if not found:
        raise not_found(
            "Van deze journaalrun is in deze run geen auditkopie bewaard (alleen geboekte, "
            "mislukte en voorbereide journaalruns hebben er een)."
        )
    return run_id, journal, found


def list_documents(ctx: RequestContext) -> ApiResponse:
    run_id, journal, found = _documents(ctx)
    base = _base(run_id, journal)
    body = DocumentListOut(
        run_id=run_id,
        loket_journal_run_id=journal,
        client_id=found[0].client_id,
        documents=[
            DocumentOut(
                name=d.name,
                size=d.size,
                sha256=d.sha256,
                content_type=d.content_type,
                created_at=d.created_at,
                retain_until=d.retain_until,
                href=f"{base}/documents/{d.name}",
            )
            for d in found
        ],
        exports={"csv": f"{base}/export.csv", "json": f"{base}/export.json"},
    )
    return json_response(200, body)


def _read(ctx: RequestContext, run_id: str, journal: str, name: str) -> bytes:
    data = ctx.services.audit.read_named(ctx.office_id, run_id, journal, name)
    if data is None:
        raise not_found(f"Het document {name} bestaat niet voor deze journaalrun.")
    return data


def _download(data: bytes, content_type: str, filename: str) -> ApiResponse:
    return ApiResponse(
        200,
        data,
        {
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


def _stem(ctx: RequestContext, run_id: str, journal: str) -> str:
    """Download names a person recognises: the client and the payroll period, as in
    ``loonjournaal-4711-2024-06`` (the Loket id only when the run has no row for it)."""
    found = ctx.services.audit.list(ctx.office_id, run_id, journal)
    client = found[0].client_id if found else ""
    if client:
        for record in ctx.services.run_details.records_for_client(ctx.office_id, run_id, client):
            if record.loket_journal_run_id == journal:
                return f"loonjournaal-{client}-{_period(record.payroll_period)}"
    return f"loonjournaal-{journal}"


def _period(label: str) -> str:
    """ "2024-6" -> "2024-06" (sorts as it reads); anything else as it is."""
    year, _, number = label.partition("-")
    return f"{year}-{int(number):02d}" if number.isdigit() else label


def get_document(ctx: RequestContext) -> ApiResponse:
    run_id, journal = _scope(ctx)
    name = ctx.request.route_params.get("name", "")
    if not _NAME.match(name):
        raise not_found(f"Het document {name[:80]} bestaat niet voor deze journaalrun.")
    data = _read(ctx, run_id, journal, name)
    return _download(data, "application/json", f"{_stem(ctx, run_id, journal)}-{name}")


def _entry(ctx: RequestContext) -> tuple[str, str, bytes]:
    run_id, journal = _scope(ctx)
    data = ctx.services.audit.read_latest(ctx.office_id, run_id, journal, audit_copies.ENTRY)
    if data is None:
        raise Problem(
            404,
            "not-found",
            "Not found",
            "Voor deze journaalrun is in deze run geen journaalpost opgebouwd; er valt niets te "
            "exporteren.",
            hint="Alleen geboekte, mislukte en voorbereide journaalruns hebben een export.",
        )
    return run_id, journal, data


def export_csv(ctx: RequestContext) -> ApiResponse:
    run_id, journal, data = _entry(ctx)
    return _download(
        entry_csv(json.loads(data)),
        "text/csv; charset=utf-8",
        f"{_stem(ctx, run_id, journal)}.csv",
    )


def export_json(ctx: RequestContext) -> ApiResponse:
    run_id, journal, _ = _entry(ctx)
    data = ctx.services.audit.read_latest(ctx.office_id, run_id, journal, audit_copies.AFAS_REQUEST)
    if data is None:
        raise not_found(
            f"Het document {audit_copies.AFAS_REQUEST} bestaat niet voor deze journaalrun."
        )
    return _download(data, "application/json", f"{_stem(ctx, run_id, journal)}-afas.json")


_ROUTE = "runs/{runId}/journal-runs/{loketJournalRunId}"

LIST_DOCUMENTS = Operation(
    name="list_journal_run_documents",
    method="GET",
    route=f"{_ROUTE}/documents",
    access=Access.READER,
    summary="The audit copy of one journal run in one run: what Loket gave, what AFAS got and said",
    tag="runs",
    handler=list_documents,
    replies={200: Reply("The documents.", DocumentListOut)},
)

GET_DOCUMENT = Operation(
    name="get_journal_run_document",
    method="GET",
    route=f"{_ROUTE}/documents/{{name}}",
    access=Access.READER,
    summary="Download one audit document",
    tag="runs",
    handler=get_document,
    replies={200: Reply("The document.", schema={"type": "object"})},
)

EXPORT_CSV = Operation(
    name="export_journal_run_csv",
    method="GET",
    route=f"{_ROUTE}/export.csv",
    access=Access.READER,
    summary="The journal entry as CSV (; separated, decimal comma, UTF-8 with BOM)",
    tag="runs",
    handler=export_csv,
    replies={200: Reply("CSV.", content_type="text/csv", schema={"type": "string"})},
)

EXPORT_JSON = Operation(
    name="export_journal_run_json",
    method="GET",
    route=f"{_ROUTE}/export.json",
    access=Access.READER,
    summary="The journal entry as AFAS wire JSON (Profit FiEntries or SB payroll entry)",
    tag="runs",
    handler=export_json,
    replies={200: Reply("The AFAS request body.", schema={"type": "object"})},
)

OPERATIONS = (LIST_DOCUMENTS, GET_DOCUMENT, EXPORT_CSV, EXPORT_JSON)
