"""The Dutch e-mails Loonbrug sends, as plain text and HTML. Pure: no I/O.

Every link into the portal is made by :func:`portal_url` from the portal page's address,
``Settings.portal_page_url`` (``PORTAL_URL``, else ``{PUBLIC_BASE_URL}/api/portal/``), with hash
routes such as ``#/runs/{runId}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from html import escape
from urllib.parse import quote

from shared.journal.models import shown_period

FOOTER = "U ontvangt dit bericht omdat uw kantoor dit heeft ingesteld onder Meldingen in Loonbrug."


@dataclass(frozen=True)
class Mail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class ClientCounts:
    client_id: str
    name: str
    imported: int = 0
    failed: int = 0
    awaiting: int = 0
    skipped: int = 0


def portal_url(portal: str, route: str = "") -> str:
    """The one link builder: ``{portal page}#/{route}`` (``Settings.portal_page_url``)."""
    page = portal.split("#", 1)[0]
    if not page.endswith("/") and not page.endswith(".html"):
        page += "/"
    return f"{page}#/{route.lstrip('/')}"


def run_link(portal: str, run_id: str) -> str:
    return portal_url(portal, f"runs/{quote(run_id, safe='')}")


def approvals_link(portal: str) -> str:
    return portal_url(portal, "approvals")


def connections_link(portal: str) -> str:
    return portal_url(portal, "connections")


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def _dutch_date(day: date | None) -> str:
    return f"{day:%d-%m-%Y}" if day else "onbekende datum"


def mail_html(title: str, paragraphs: list[str], link: str, link_text: str, extra: str = "") -> str:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        '<!DOCTYPE html><html lang="nl"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family:Segoe UI,Arial,sans-serif;color:#1b1b1b">'
        f"<h2>{escape(title)}</h2>{body}{extra}"
        f'<p><a href="{escape(link, quote=True)}">{escape(link_text)}</a></p>'
        f'<p style="color:#666;font-size:12px">{escape(FOOTER)}</p></body></html>'
    )


def nightly_summary(
    *,
    business_date: date | None,
    status_text: str,
    run_id: str,
    clients: list[ClientCounts],
    portal: str,
) -> Mail:
    imported = sum(c.imported for c in clients)
    failed = sum(c.failed for c in clients)
    awaiting = sum(c.awaiting for c in clients)
    day = _dutch_date(business_date)
    subject = (
        f"Loonbrug: nachtelijke run van {day} — {imported} geïmporteerd, {failed} mislukt, "
        f"{awaiting} wacht op goedkeuring"
    )
    link = run_link(portal, run_id)
    totals = (
        f"Totaal: {_plural(imported, 'journaalpost', 'journaalposten')} geïmporteerd, "
        f"{failed} mislukt, {awaiting} wacht op goedkeuring."
    )
    rows = [
        f"- {c.client_id} {c.name}: {c.imported} geïmporteerd, {c.failed} mislukt, "
        f"{c.awaiting} wacht op goedkeuring"
        for c in clients
    ]
    text_lines = [
        "Goedemorgen,",
        "",
        f"De nachtelijke synchronisatie van {day} is klaar: {status_text}.",
        "",
        "Per client:",
        *(rows or ["- Er zijn geen clients gesynchroniseerd."]),
        "",
        totals,
    ]
    if failed:
        text_lines += ["Bekijk de mislukte journaalruns en de meldingen in de run."]
    if awaiting:
        text_lines += [f"Journaalposten die op goedkeuring wachten: {approvals_link(portal)}"]
    text_lines += [
        "",
        f"Bekijk de run: {link}",
        "",
        "Met vriendelijke groet,",
        "Loonbrug",
        "",
        FOOTER,
    ]

    table = (
        '<table style="border-collapse:collapse" cellpadding="4">'
        "<tr><th align=left>Client</th><th align=right>Geïmporteerd</th>"
        "<th align=right>Mislukt</th><th align=right>Wacht op goedkeuring</th></tr>"
        + "".join(
            f"<tr><td>{escape(c.client_id)} {escape(c.name)}</td><td align=right>{c.imported}</td>"
            f"<td align=right>{c.failed}</td><td align=right>{c.awaiting}</td></tr>"
            for c in clients
        )
        + "</table>"
    )
    paragraphs = [
        "Goedemorgen,",
        f"De nachtelijke synchronisatie van {escape(day)} is klaar: {escape(status_text)}.",
    ]
    after = f"<p>{escape(totals)}</p>"
    if awaiting:
        after += (
            f'<p><a href="{escape(approvals_link(portal), quote=True)}">'
            "Journaalposten die op goedkeuring wachten</a></p>"
        )
    html = mail_html(subject, paragraphs, link, "Bekijk de run", table + after)
    return Mail(subject, "\n".join(text_lines) + "\n", html)


def reauthorization(*, system: str, environment: str, reason: str, portal: str) -> Mail:
    where = f"{system} ({environment})" if environment else system
    subject = f"Loonbrug: de koppeling met {where} moet opnieuw worden verbonden"
    link = connections_link(portal)
    first = (
        f"De koppeling met {where} werkt niet meer: {reason} Zolang de koppeling niet opnieuw "
        "is verbonden, boekt Loonbrug geen journaalposten voor de clients die deze koppeling "
        "gebruiken."
    )
    todo = (
        "Ga in Loonbrug naar Koppelingen en kies Opnieuw verbinden. Daarna kunt u een rerun "
        "starten; wat al geboekt is, wordt niet nog eens geboekt."
    )
    text = "\n".join(
        [
            "Goedendag,",
            "",
            first,
            "",
            todo,
            "",
            f"Koppelingen: {link}",
            "",
            "Met vriendelijke groet,",
            "Loonbrug",
            "",
            FOOTER,
        ]
    )
    html = mail_html(subject, ["Goedendag,", escape(first), escape(todo)], link, "Naar Koppelingen")
    return Mail(subject, text + "\n", html)


def journal_run_failed(
    *,
    client_id: str,
    client_name: str,
    period: str,
    sequence_number: int,
    reason: str,
    run_id: str,
    portal: str,
) -> Mail:
    who = f"{client_id} {client_name}".strip()
    subject = (
        f"Loonbrug: journaalpost van client {who} (periode {shown_period(period)}) is niet geboekt"
    )
    link = run_link(portal, run_id)
    first = (
        f"De journaalrun van periode {shown_period(period)} (volgnr. {sequence_number}) van client {who} is "
        f"niet in AFAS geboekt. Reden: {reason}"
    )
    todo = (
        "In de run staan de meldingen met een hint wat u kunt doen. Na het oplossen boekt de "
        "volgende nachtelijke run (of een rerun) de journaalpost alsnog, één keer."
    )
    text = "\n".join(
        [
            "Goedendag,",
            "",
            first,
            "",
            todo,
            "",
            f"Bekijk de run: {link}",
            "",
            "Met vriendelijke groet,",
            "Loonbrug",
            "",
            FOOTER,
        ]
    )
    html = mail_html(subject, ["Goedendag,", escape(first), escape(todo)], link, "Bekijk de run")
    return Mail(subject, text + "\n", html)
