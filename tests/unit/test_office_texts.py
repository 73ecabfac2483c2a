"""Pure parts of the office workflow: the CSV export, the e-mail texts, the link builder."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from shared.notify.service import message_id
from shared.notify.texts import ClientCounts, nightly_summary, portal_url, run_link
from shared.settings import Settings, SettingsError
from shared.sync.exports import dutch_amount, entry_csv


def test_csv_is_dutch_semicolon_decimal_comma_with_bom() -> None:
    entry = {
        "target": "afas-profit",
        "costCenterAxis": 1,
        "lines": [
            {
                "account": "4000",
                "description": 'Loon; "maart"',
                "debit": "1234.5",
                "credit": "0",
                "dimensions": {"1": "100", "2": "P7"},
            },
            {"account": "1710", "description": "Te betalen", "debit": "0", "credit": "1234.50"},
        ],
    }
    data = entry_csv(entry)
    assert data.startswith(b"\xef\xbb\xbf")
    lines = data.decode("utf-8-sig").split("\r\n")
    assert lines[0] == "Rekening;Omschrijving;Kostenplaats;Debet;Credit"
    assert lines[1] == '4000;"Loon; ""maart""";100;1234,50;0,00'
    assert lines[2] == "1710;Te betalen;;0,00;1234,50"
    assert dutch_amount(Decimal("1000000")) == "1000000,00"


def test_morning_summary_text() -> None:
    mail = nightly_summary(
        business_date=date(2024, 3, 1),
        status_text="Uitgevoerd met fouten (2/2)",
        run_id="nightly-2024-03-01",
        clients=[
            ClientCounts("4711", "Korenschoof", imported=1),
            ClientCounts("5120", "Van Dijk <BV>", failed=2, awaiting=1),
        ],
        portal="https://loonbrug.example.nl/api/portal/",
    )
    assert mail.subject == (
        "Loonbrug: nachtelijke run van 01-03-2024 — 1 geïmporteerd, 2 mislukt, "
        "1 wacht op goedkeuring"
    )
    assert "- 5120 Van Dijk <BV>: 0 geïmporteerd, 2 mislukt, 1 wacht op goedkeuring" in mail.text
    assert "https://loonbrug.example.nl/api/portal/#/runs/nightly-2024-03-01" in mail.text
    assert "Van Dijk &lt;BV&gt;" in mail.html and "<BV>" not in mail.html


def test_links_and_message_ids() -> None:
    portal = "https://x.nl/api/portal/"
    assert portal_url(portal, "approvals") == "https://x.nl/api/portal/#/approvals"
    assert run_link(portal, "rerun-1/2") == "https://x.nl/api/portal/#/runs/rerun-1%2F2"
    assert portal_url("https://loonbrug.kantoor.nl", "runs") == "https://loonbrug.kantoor.nl/#/runs"
    one = message_id("office", "summary|nightly-2024-03-01", "loonbrug@kantoor.nl")
    assert one == message_id("office", "summary|nightly-2024-03-01", "loonbrug@kantoor.nl")
    assert one.startswith("<") and one.endswith("@kantoor.nl>")
    assert one != message_id("office", "summary|nightly-2024-03-02", "loonbrug@kantoor.nl")


def test_office_settings() -> None:
    base = {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "LOONBRUG_ENVIRONMENT": "development",
    }
    settings = Settings.from_env(base)
    assert settings.audit_retention_years == 7 and not settings.email_configured
    assert (
        Settings.from_env({**base, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": "1025"}).smtp_port == 1025
    )
    for name, value in (
        ("AUDIT_RETENTION_YEARS", "0"),
        ("NOTIFY_SENDER", "geen adres"),
        ("ACS_EMAIL_ENDPOINT", "ftp://x"),
        ("SMTP_PORT", "70000"),
    ):
        try:
            Settings.from_env({**base, name: value})
        except SettingsError as exc:
            assert name in str(exc)
        else:
            raise AssertionError(f"{name}={value} accepted")


def test_acs_mailer_sends_plain_html_and_the_message_id() -> None:
    from shared.notify.mailer import AcsMailer, Email, SendFailed

    sent: list[dict[str, object]] = []

    class Poller:
        def __init__(self, status: str) -> None:
            self.status = status

        def result(self, timeout: float) -> dict[str, str]:
            assert 0 < timeout <= 60
            return {"status": self.status}

    class Client:
        status = "Succeeded"

        def begin_send(self, message: dict[str, object]) -> Poller:
            sent.append(message)
            return Poller(self.status)

    mailer = AcsMailer("https://acs.example.communication.azure.com", "noreply@x.nl", None)
    client = Client()
    mailer._client = client
    email = Email(("a@x.nl", "b@x.nl"), "Onderwerp", "tekst", "<p>html</p>", "<id@x.nl>")
    mailer.send(email)
    message = sent[0]
    assert message["senderAddress"] == "noreply@x.nl"
    assert message["recipients"] == {"to": [{"address": "a@x.nl"}, {"address": "b@x.nl"}]}
    assert message["content"] == {
        "subject": "Onderwerp",
        "plainText": "tekst",
        "html": "<p>html</p>",
    }
    assert message["headers"] == {"Message-ID": "<id@x.nl>"}
    client.status = "Failed"
    try:
        mailer.send(email)
    except SendFailed as exc:
        assert "Failed".lower() in str(exc).lower()
    else:
        raise AssertionError("a failed ACS send was not reported")
