"""The weekly Aansluiting e-mail against real Azurite and the SMTP sandbox (issue 20): what is
new is mailed once, a difference that went away and came back is mailed again, a job that is
redelivered after it sent the e-mail but before it recorded that sends no second one, and a job
that failed for good leaves a status the office sees."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from devtools.sandbox.smtp import SmtpSandbox
from shared.bootstrap import Services
from shared.clients.model import ClientConfig, ProfitTarget
from shared.reconciliation.compare import AfasEntry, LoketRun, Totals, reconcile
from shared.reconciliation.weekly import (
    ClientYear,
    NewDifferences,
    OfficeJob,
    WeeklyOutcome,
    differences_mail,
    mail_event,
    process_office_message,
    process_poison_message,
    report_office,
)
from shared.settings import Settings
from shared.store.notifications import NotificationSettings
from shared.store.reconciliations import ReconciliationRepository, weekly_status

pytestmark = pytest.mark.azurite

MONDAY = datetime(2025, 3, 3, 5, 20, tzinfo=UTC)
JAN = Totals.of(
    [("4000", Decimal("1000.00"), Decimal("0")), ("1600", Decimal("0"), Decimal("1000.00"))]
)
BOOKED = LoketRun("jr-1", 1, "2024-1", 2024, 1, JAN, booked=True, reference="LB202401S1-AB")


@pytest.fixture
def mailing(env: dict[str, str], smtp: SmtpSandbox) -> Services:
    return Services(
        Settings.from_env({**env, **smtp.env(), "NOTIFY_SENDER": "loonbrug@kantoor.example.nl"})
    )


def setup(services: Services, office: str) -> ClientConfig:
    services.notifications.save_settings(
        office,
        NotificationSettings(recipients=("salaris@kantoor.example.nl",), journal_run_failed=True),
        now=MONDAY,
        user="u",
    )
    return ClientConfig(office, "4711", "adm-1", ProfitTarget("12345", 1, "80"), name="Bakkerij")


def week(
    services: Services, office: str, client: ClientConfig, *, gone: bool, at: datetime
) -> WeeklyOutcome:
    """One weekly job of the office: the booked entry is gone from AFAS, or back."""
    result = reconcile(2024, [BOOKED], [] if gone else [_ours()])
    outcome = WeeklyOutcome(offices=1)
    report_office(
        ReconciliationRepository(services.storage),
        services.notifier,
        office,
        [ClientYear(client, 2024, result.differences)],
        now=at,
        portal="https://portal.example/",
        outcome=outcome,
    )
    return outcome


def _ours() -> AfasEntry:
    return AfasEntry("1001", BOOKED.reference, "80", 2024, 1, JAN, by_loonbrug=True)


def mails(smtp: SmtpSandbox) -> list[str]:
    return [m.subject for m in smtp.received() if "tussen Loket en AFAS" in m.subject]


def test_weekly_mail_again_for_a_difference_that_went_away_and_came_back(
    mailing: Services, smtp: SmtpSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    client = setup(mailing, office)
    assert week(mailing, office, client, gone=True, at=MONDAY).mails == 1
    smtp.wait_for(1)
    # Same difference next week: nothing new, no e-mail.
    assert week(mailing, office, client, gone=True, at=MONDAY + timedelta(days=7)).mails == 0
    # Restored in AFAS: nothing to tell; the difference is forgotten.
    assert week(mailing, office, client, gone=False, at=MONDAY + timedelta(days=14)).mails == 0
    # Deleted again: a new e-mail about it.
    again = week(mailing, office, client, gone=True, at=MONDAY + timedelta(days=21))
    assert (again.new_differences, again.mails) == (1, 1)
    smtp.wait_for(2)
    assert len(mails(smtp)) == 2


def test_no_second_weekly_mail_after_a_crash_between_sending_and_recording(
    mailing: Services, smtp: SmtpSandbox, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    client = setup(mailing, office)
    reported = ReconciliationRepository(mailing.storage)
    # The crashed attempt: it sent this week's e-mail and stopped before it saved what it told.
    (difference,) = reconcile(2024, [BOOKED], []).differences
    found = [NewDifferences(client, 2024, (difference,))]
    told = {("4711", 2024): reported.reported(office, "4711", 2024)}
    event = mail_event(found, told)
    mail = differences_mail(found, "https://portal.example/")
    assert mailing.notifier.reconciliation_differences(office, event, mail)
    smtp.wait_for(1)
    # The queue redelivers the job: no second e-mail, and now it is recorded (with its mark).
    redelivered = week(mailing, office, client, gone=True, at=MONDAY)
    assert (redelivered.new_differences, redelivered.mails) == (1, 0)
    saved = reported.reported(office, "4711", 2024)
    assert saved.keys == {difference.key} and saved.reconciliation_sent == event
    # And the week after: still nothing new, still one e-mail.
    assert week(mailing, office, client, gone=True, at=MONDAY + timedelta(days=7)).mails == 0
    assert len(mails(smtp)) == 1


def test_a_poisoned_weekly_job_leaves_a_failed_status_the_office_sees(
    services: Services, unique: Callable[[str], str]
) -> None:
    office = unique("office")
    assert weekly_status(services.storage, office) is None
    # A job that failed on every attempt ends in the poison queue: the office sees it failed.
    process_poison_message(services, OfficeJob(office, (2025, 2024)).to_json())
    status = weekly_status(services.storage, office)
    assert status is not None and status.state == "failed"
    assert "na herhaalde pogingen mislukt" in status.text and status.at is not None
    # A malformed job that still names its office: also failed, said in Dutch.
    other = unique("office")
    malformed = json.dumps({"v": 1, "officeId": other, "years": ["٢٠٢٥"]})
    assert process_office_message(services, malformed) is None
    status = weekly_status(services.storage, other)
    assert status is not None and status.state == "failed"
    assert "kon niet starten" in status.text
    # One that names no office is only logged (there is no one to show it to).
    process_poison_message(services, b"not json")
    process_office_message(services, b'{"v": 1}')
