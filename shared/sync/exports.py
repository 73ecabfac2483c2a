"""Exports of one journal run, made from its audit copy (so they work for failed runs and after
Loket removed its data).

* CSV for spreadsheets set to Dutch: ``;`` between fields, decimal comma (``1234,56``, no
  thousands separator), UTF-8 with a byte-order mark (so Excel reads the accents), CRLF line ends.
  Columns: Rekening; Omschrijving; Kostenplaats; Debet; Credit. The cost centre is the code on
  the client's cost-centre axis (Profit); SB takes none.
* JSON: the AFAS wire body exactly as it was (or would have been) posted: Profit ``FiEntries``
  or the SB payroll journal entry.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any, Final

CSV_HEADER: Final = ("Rekening", "Omschrijving", "Kostenplaats", "Debet", "Credit")


def dutch_amount(value: str | Decimal) -> str:
    """``1234.5`` -> ``1234,50``: two decimals, decimal comma, no thousands separator."""
    return f"{Decimal(value).quantize(Decimal('0.01')):f}".replace(".", ",")


def entry_csv(entry: dict[str, Any]) -> bytes:
    """The CSV of an ``entry.json`` audit document."""
    axis = str(entry.get("costCenterAxis", 1))
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(CSV_HEADER)
    for line in entry.get("lines", []):
        writer.writerow(
            (
                line.get("account", ""),
                line.get("description", ""),
                (line.get("dimensions") or {}).get(axis, ""),
                dutch_amount(line.get("debit", "0")),
                dutch_amount(line.get("credit", "0")),
            )
        )
    return "\ufeff".encode() + out.getvalue().encode("utf-8")
