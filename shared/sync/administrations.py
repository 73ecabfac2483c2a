"""Which booking adapter a client's AFAS side is (Profit or SB), built from its connection.

Beside :mod:`shared.sync.targets` (the adapters themselves); ``shared/bootstrap.py`` only wires
it. (A new module, so the sync rename round can fold it into targets.py.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from shared.afas.profit import ProfitClient
from shared.afas.sb import SbClient
from shared.clients.model import ClientConfig, ProfitTarget
from shared.store.connections import Connection, ConnectionKey
from shared.sync.targets import ChartCache, ProfitTargetLedger, SbTargetLedger, Target


class ConnectionLookup(Protocol):
    def get(self, key: ConnectionKey) -> Connection | None: ...


def ledger_target_of(
    config: ClientConfig,
    *,
    connections: ConnectionLookup,
    profit_client: Callable[[str, str], ProfitClient],
    sb_client: Callable[[str, str], SbClient],
    charts: ChartCache,
) -> Target:
    """The AFAS side of a client: its administration behind one booking interface."""
    target = config.target
    if isinstance(target, ProfitTarget):
        connection = connections.get(target.connection(config.office_id))
        name = connection.details.get("environmentName", "") if connection else ""
        return ProfitTargetLedger(
            profit_client(config.office_id, target.environment), target, name, charts
        )
    return SbTargetLedger(sb_client(config.office_id, target.environment), target)
