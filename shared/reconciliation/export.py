"""The Aansluiting of one client-year as CSV (``;`` separated, decimal comma, UTF-8 with BOM,
like the journal run exports in shared/sync/exports.py)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Final

from shared.reconciliation.compare import YearResult

HEADER: Final = (
    "Client",
    "Jaar",
    "Periode",
    "Status",
    "Loket debet",
    "Loket credit",
    "AFAS debet",
    "AFAS credit",
    "Soort verschil",
    "Loket journaalrun",
    "Boekstuknummer",
    "AFAS boeking(en)",
    "Toelichting",
    "Wat te doen",
)
STATUS: Final = {"green": "Sluit aan", "red": "Verschil", "empty": "Leeg"}


def amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value.quantize(Decimal('0.01')):f}".replace(".", ",")


def year_csv(client_id: str, result: YearResult) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(HEADER)
    for period in result.periods:
        base = (
            client_id,
            str(result.year),
            str(period.period),
            STATUS[period.status.value],
            amount(period.loket.debit),
            amount(period.loket.credit),
            amount(period.afas.debit),
            amount(period.afas.credit),
        )
        if not period.differences:
            writer.writerow((*base, "", "", "", "", period.text, ""))
        for d in period.differences:
            writer.writerow(
                (
                    *base,
                    d.title,
                    d.loket_journal_run_id,
                    d.reference,
                    " ".join(d.entry_numbers),
                    d.text,
                    d.todo,
                )
            )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
