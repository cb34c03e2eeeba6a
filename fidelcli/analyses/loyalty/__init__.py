"""Points-and-tiers loyalty programs: the rules language (`rules`), the month-by-month simulation
(`simulate`) and the program's KPIs (`kpis`)."""

from __future__ import annotations

from fidelcli.analyses.loyalty.kpis import LoyaltyResult
from fidelcli.analyses.loyalty.rules import Bonus, LoyaltyRules, PaidTier, Tier
from fidelcli.analyses.loyalty.simulate import simulate, simulate_loyalty

__all__ = ["Bonus", "LoyaltyResult", "LoyaltyRules", "PaidTier", "Tier", "simulate", "simulate_loyalty"]
