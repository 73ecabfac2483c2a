"""The nightly and rerun planner on real Azurite (queue messages included)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from shared.bootstrap import Services
from shared.clients.model import ClientConfig, ProfitTarget, SbTarget
from shared.runs.model import RunStatus
from shared.secret import Secret
from shared.store.connections import ConnectionKey, ConnectionKind, NewSecrets
from shared.sync.planner import Planner, nightly_business_date

# 23 Nov 2026 03:05 in Amsterdam (CET, UTC+1)
TICK = datetime(2026, 11, 23, 2, 5, tzinfo=UTC)


class Sent(list[str]):
    def __call__(self, body: str) -> None:
        self.append(body)


def planner_for(services: Services, sent: Sent, now: datetime = TICK) -> Planner:
    return Planner(
        runs=services.runs,
        details=services.run_details,
        clients=services.clients,
        connections=services.connections,
        send=sent,
        clock=lambda: now,
    )


def office_with_clients(services: Services, office: str, n: int, *, loket: bool = True) -> None:
    if loket:
        services.connections.save(
            ConnectionKey(office, ConnectionKind.LOKET),
            NewSecrets(Secret("a"), Secret("r"), TICK),
            by_user="u",
            now=TICK,
        )
    services.connections.save(
        ConnectionKey(office, ConnectionKind.AFAS_PROFIT, "12345"),
        NewSecrets(afas_token=Secret("t")),
        by_user="u",
        now=TICK,
    )
    for i in range(n):
        services.clients.save(
            ClientConfig(
                office,
                f"c{i:03d}",
                "3fa85f64-5717-4562-b3fc-2c963f66afa6",
                ProfitTarget("12345", 1, "80"),
            ),
            by_user="u",
            now=TICK,
        )


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2026, 11, 23, 0, 30, tzinfo=UTC), date(2026, 11, 22)),  # 01:30 CET: not yet
        (datetime(2026, 11, 23, 1, 0, tzinfo=UTC), date(2026, 11, 23)),  # 02:00 CET: starts
        (datetime(2026, 7, 1, 0, 0, tzinfo=UTC), date(2026, 7, 1)),  # 02:00 CEST
        (datetime(2026, 6, 30, 23, 59, tzinfo=UTC), date(2026, 6, 30)),  # 01:59 CEST: yesterday's
        (datetime(2026, 3, 29, 1, 0, tzinfo=UTC), date(2026, 3, 29)),  # DST switch day, 03:00 CEST
    ],
)
def test_business_date_follows_amsterdam_time(utc: datetime, expected: date) -> None:
    assert nightly_business_date(utc, 2) == expected


def test_nightly_plans_one_job_per_included_client_once(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    office_with_clients(services, office, 3)
    excluded = services.clients.get(office, "c002")
    assert excluded is not None
    services.clients.save(
        ClientConfig(
            office, "c002", excluded.loket_administration_id, excluded.target, include_in_sync=False
        ),
        by_user="u",
        now=TICK,
    )
    sent = Sent()
    planner = planner_for(services, sent)
    run = planner.nightly_for_office(office, date(2026, 11, 23), TICK)
    assert run is not None and run.run_id == "nightly-2026-11-23" and run.planned
    assert (run.jobs_total, run.status) == (2, RunStatus.RUNNING)
    assert sorted(json.loads(b)["clientId"] for b in sent) == ["c000", "c001"]
    again = planner.nightly_for_office(office, date(2026, 11, 23), TICK)
    assert again is not None and again.run_id == run.run_id
    assert len(sent) == 2  # the second tick of the same date does nothing


def test_a_crash_halfway_is_finished_by_the_next_tick(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    office_with_clients(services, office, 150)  # more than one transaction of job rows
    failing = Sent()

    def crash_after_40(body: str) -> None:
        if len(failing) >= 40:
            raise ConnectionError("host died")
        failing.append(body)

    crashing = Planner(
        runs=services.runs,
        details=services.run_details,
        clients=services.clients,
        connections=services.connections,
        send=crash_after_40,
        clock=lambda: TICK,
    )
    with pytest.raises(ConnectionError):
        crashing.nightly_for_office(office, date(2026, 11, 23), TICK)
    half = services.runs.get(office, "nightly-2026-11-23")
    assert half is not None and not half.planned and half.jobs_total == 150

    sent = Sent()
    run = planner_for(services, sent).nightly_for_office(office, date(2026, 11, 23), TICK)
    assert run is not None and run.planned and run.jobs_total == 150
    # Every client got a message; re-sent are only those of the chunk the crash interrupted.
    first = {json.loads(b)["clientId"] for b in failing}
    second = {json.loads(b)["clientId"] for b in sent}
    assert first | second == {f"c{i:03d}" for i in range(150)}
    assert len(second) == len(sent) == 150 - 0 - len([c for c in first if c not in second])
    assert len(first & second) <= 100
    assert all(j.enqueued for j in services.runs.jobs(office, run.run_id))


def test_an_office_without_loket_consent_gets_a_failed_run_with_a_message(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    office_with_clients(services, office, 2, loket=False)
    sent = Sent()
    run = planner_for(services, sent).nightly_for_office(office, date(2026, 11, 23), TICK)
    assert run is not None and run.status is RunStatus.FAILED and run.jobs_total == 0
    assert sent == []
    messages = services.run_details.messages(office, run.run_id)
    assert [m.level.value for m in messages] == ["error"]
    assert "geen Loket-koppeling" in messages[0].text and "Koppel Loket" in messages[0].hint


def test_clients_with_inactive_targets_are_skipped_with_a_message(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    office_with_clients(services, office, 1)
    services.clients.save(
        ClientConfig(
            office,
            "sb1",
            "3fa85f64-5717-4562-b3fc-2c963f66afa6",
            SbTarget("sbenv", "701b747b-eea2-5ed1-8518-973e5c670252"),
        ),
        by_user="u",
        now=TICK,
    )
    profit = services.connections.get(ConnectionKey(office, ConnectionKind.AFAS_PROFIT, "12345"))
    assert profit is not None
    services.connections.update(profit, active=False)
    sent = Sent()
    run = planner_for(services, sent).nightly_for_office(office, date(2026, 11, 23), TICK)
    assert run is not None and run.jobs_total == 0
    texts = " ".join(m.text for m in services.run_details.messages(office, run.run_id))
    assert "c000 is overgeslagen" in texts and "inactief" in texts
    assert "sb1 is overgeslagen" in texts and "geen AFAS SB-koppeling" in texts


def test_offices_without_clients_get_no_run(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    office_with_clients(services, office, 0)
    assert (
        planner_for(services, Sent()).nightly_for_office(office, date(2026, 11, 23), TICK) is None
    )


def test_rerun_plans_one_client(services: Services, unique: Callable[[str], str]) -> None:
    office = unique("office")
    office_with_clients(services, office, 3)
    sent = Sent()
    client = services.clients.get(office, "c001")
    run = planner_for(services, sent).rerun(
        office,
        approved_from=date(2026, 1, 1),
        approved_to=date(2026, 3, 31),
        client=client,
        user="Anna",
    )
    assert run.run_id.startswith("rerun-20261123T020500") and run.client_id == "c001"
    assert (run.approved_from, run.approved_to, run.created_by) == (
        date(2026, 1, 1),
        date(2026, 3, 31),
        "Anna",
    )
    assert [json.loads(b)["clientId"] for b in sent] == ["c001"]
