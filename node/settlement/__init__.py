"""Settlement (standard 6.4 b–c, 6.5): policy, ledger, local and remote."""

from node.settlement.core import Settlements, route_reverse, route_settle, settlements_of

__all__ = ["Settlements", "settlements_of", "route_settle", "route_reverse"]
