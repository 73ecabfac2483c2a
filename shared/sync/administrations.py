"""Which booking adapter a client's AFAS side is (Profit or SB), built from its connection.

Beside :mod:`shared.sync.bookers` (the adapters themselves); ``shared/bootstrap.py`` only wires
it. (A new module, so the sync rename round can fold it into targets.py.)
"""

from __future__ import annotations

from collections.abc import Callable

from shared.afas.profit import ProfitClient
from shared.afas.sb import SbClient
from shared.clients.model import ClientConfig, ProfitTarget
from shared.sync.bookers import AfasBooker, ChartCache, ProfitBooker, SbBooker


def booker_of(
    config: ClientConfig,
    *,
    profit_connection: Callable[[str, str], tuple[ProfitClient, str]],
    sb_client: Callable[[str, str], SbClient],
    charts: ChartCache,
) -> AfasBooker:
    """The AFAS side of a client: its administration behind one booking interface."""
    target = config.target
    if isinstance(target, ProfitTarget):
        client, name = profit_connection(config.office_id, target.environment)
        return ProfitBooker(client, target, name, charts)
    return SbBooker(sb_client(config.office_id, target.environment), target)
