"""Loket.nl facts from its OpenAPI document (not in the project: /work/shared/specs/README.md lists
them, read from a client generated from it) are what the client sends and the sandbox checks:
``consolidate`` on ``/results`` and the ``JournalrunStatusPatch`` body."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from devtools.sandbox.loket import CONSOLIDATE, LoketSandbox
from shared.bootstrap import Services
from shared.loket.client import (
    CONSOLIDATE_VALUES,
    journal_application,
    patch_body,
    results_consolidation,
)
from shared.loket.errors import LoketRejected
from tests.support.loket_fixtures import connect_loket, fast_client

Unique = Callable[[str], str]
RESULTS = "/providers/employers/payrolladministrations/journalruns/{}/results"


def _ready(sandbox: LoketSandbox) -> str:
    return sandbox.scenario.employers[0].administrations[0].runs[1].id


def test_the_published_consolidate_values_are_the_ones_both_sides_know() -> None:
    assert (
        CONSOLIDATE_VALUES
        == CONSOLIDATE
        == ("BasedOnLedgerAccountConfiguration", "Always", "Never")
    )
    assert results_consolidation() in CONSOLIDATE_VALUES


def test_results_are_read_with_consolidate_sent_explicitly(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    run_id = _ready(loket_sandbox)
    loket_sandbox.reset_counters()
    lines = list(fast_client(loket_services, office).iter_journal_run_lines(run_id))
    assert lines
    [call] = [c for c in loket_sandbox.recorded if c.route == "journal_run_results"]
    # The journal profile's own setting, sent explicitly; no paging parameters (none published).
    assert call.query == {"consolidate": "BasedOnLedgerAccountConfiguration"}


def test_results_that_come_in_pages_are_walked_by_page_number(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    run_id = _ready(loket_sandbox)
    client = fast_client(loket_services, office)
    everything = list(client.iter_journal_run_lines(run_id))
    loket_sandbox.results_page_size = 3  # should Loket page the answer after all
    loket_sandbox.reset_counters()
    assert list(client.iter_journal_run_lines(run_id)) == everything
    calls = [c.query for c in loket_sandbox.recorded if c.route == "journal_run_results"]
    consolidate = {"consolidate": "BasedOnLedgerAccountConfiguration"}
    pages = (len(everything) + 2) // 3
    assert calls == [consolidate] + [
        {**consolidate, "pageNumber": str(n)} for n in range(2, pages + 1)
    ]


def test_the_sandbox_refuses_an_unpublished_consolidate_and_consolidates_always(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    client = fast_client(loket_services, office)
    path = RESULTS.format(_ready(loket_sandbox))
    with pytest.raises(LoketRejected) as refused:
        list(client.iter_pages(path, {"consolidate": "Sometimes"}))
    assert "consolidate must be one of" in refused.value.messages[0].description
    per_profile = [i for p in client.iter_pages(path, {"consolidate": "Never"}) for i in p.items]
    always = [i for p in client.iter_pages(path, {"consolidate": "Always"}) for i in p.items]
    keys = {
        (i["generalLedgerAccount"]["code"], str(i["costCenter"]), str(i["costUnit"]))
        for i in per_profile
    }
    assert len(always) == len(keys)

    def total(items: list[dict[str, object]]) -> Decimal:
        return sum((Decimal(str(i["debetAmount"])) for i in items), Decimal("0"))

    assert total(always) == total(per_profile)


def test_patch_bodies_carry_action_application_and_message() -> None:
    processed = patch_body("MarkAsProcessed", "Geboekt in AFAS, boekstuk LB-1")
    assert processed == {
        "action": "MarkAsProcessed",
        "application": {"value": "Loonbrug"},
        "message": "Geboekt in AFAS, boekstuk LB-1",
    }
    failed = patch_body("MarkAsProcessingFailed", "  ")
    assert failed["application"] == journal_application()
    assert failed["message"] == "Loonbrug kon deze journaalpost niet boeken in AFAS."


def test_both_patches_send_application_and_a_message_the_sandbox_records(
    loket_services: Services, loket_sandbox: LoketSandbox, unique: Unique
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    client = fast_client(loket_services, office)
    monthly, four_weekly = loket_sandbox.scenario.employers[0].administrations
    ready, other = monthly.runs[1].id, four_weekly.runs[0].id
    client.mark_processed(ready, "Geboekt in AFAS, boekstuk LB-1")
    client.mark_processing_failed(other, "")  # a failure always tells Loket something
    assert loket_sandbox.patch_bodies == [
        (ready, {"action": "MarkAsProcessed", "application": {"value": "Loonbrug"},
                 "message": "Geboekt in AFAS, boekstuk LB-1"}),
        (other, {"action": "MarkAsProcessingFailed", "application": {"value": "Loonbrug"},
                 "message": "Loonbrug kon deze journaalpost niet boeken in AFAS."}),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("body", "complaint"),
    [
        ({"action": "MarkAsProcessingFailed", "message": ""}, "message field"),
        ({"action": "MarkAsProcessed", "comment": "x"}, "Unknown field"),
        ({"action": "MarkAsProcessed", "application": "Loonbrug"}, "{key, value}"),
    ],
)
def test_the_sandbox_validates_the_patch_body(
    loket_services: Services,
    loket_sandbox: LoketSandbox,
    unique: Unique,
    body: dict[str, object],
    complaint: str,
) -> None:
    office = unique("office")
    connect_loket(loket_services, office)
    client = fast_client(loket_services, office)
    run_id = _ready(loket_sandbox)
    with pytest.raises(LoketRejected) as refused:
        client._request(  # the raw body, past patch_body
            "PATCH", f"/providers/employers/payrolladministrations/journalruns/{run_id}", body=body
        )
    assert complaint in refused.value.messages[0].description
    assert loket_sandbox.patch_bodies == []
