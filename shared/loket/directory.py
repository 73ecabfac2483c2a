"""What the office's Loket consent can see: employers and their payroll administrations."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

from shared.journal.models import Employer, PayrollAdministration
from shared.loket.client import LoketClient

# ASSUMPTION [I]: Loket documents no rate limit; a few concurrent reads per connection keep the
# listing of an office with thousands of employers within an HTTP request's time (the client
# still backs off on 429).
LISTING_CONCURRENCY: Final = 4


@dataclass(frozen=True)
class EmployerAdministrations:
    employer: Employer
    administrations: tuple[PayrollAdministration, ...]


def visible_administrations(
    client: LoketClient, *, concurrency: int = LISTING_CONCURRENCY
) -> list[EmployerAdministrations]:
    """Every employer of the consenting user with its payroll administrations, sorted by name.

    Calls: 1 page of employers per 250, then 1 call per employer (``concurrency`` at a time).
    """
    employers = sorted(client.list_employers(), key=lambda e: (e.name.lower(), e.id))
    if not employers:
        return []

    def administrations(employer: Employer) -> tuple[PayrollAdministration, ...]:
        found = client.list_payroll_administrations(employer.id)
        return tuple(sorted(found, key=lambda a: (a.name.lower(), a.id)))

    with ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, len(employers))), thread_name_prefix="loket-list"
    ) as pool:
        lists = list(pool.map(administrations, employers))
    return [EmployerAdministrations(e, a) for e, a in zip(employers, lists, strict=True)]
