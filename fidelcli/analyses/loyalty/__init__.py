"""Points-and-tiers loyalty programs: the rules language (`rules`), the month-by-month simulation
(`simulation`) and the program's KPIs (`kpis`).

The rules are loaded with the package (`fidelcli.config` reads them, and every command reads the
config); the simulation and its KPIs, which need NumPy, on first use of their names, so that a
command without a loyalty program never loads them (docs/performance.md, start-up).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from fidelcli.analyses.loyalty.rules import Bonus, LoyaltyRules, PaidTier, Tier

if TYPE_CHECKING:
    from fidelcli.analyses.loyalty.kpis import LoyaltyResult
    from fidelcli.analyses.loyalty.simulation import simulate, simulate_loyalty

__all__ = ["Bonus", "LoyaltyResult", "LoyaltyRules", "PaidTier", "Tier", "simulate", "simulate_loyalty"]
_LAZY = {"LoyaltyResult": "kpis", "simulate": "simulation", "simulate_loyalty": "simulation"}  # name: its module


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
