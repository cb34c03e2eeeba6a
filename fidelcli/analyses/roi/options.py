"""Settings of the A/B analysis (`roi abtest`), shared by its modules."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AbtestOptions"]


@dataclass(frozen=True)
class AbtestOptions:
    """Settings of `abtest()` (the CLI merges flags, `[abtest]` of the config and these defaults)."""

    control: str = "control"
    confidence: float = 0.95
    mde: float = 0.1
    power: float = 0.8
    bootstrap: int = 2000
    seed: int = 0
    margin: float = 1.0
    cost_per_recipient: dict[str, float] = field(default_factory=dict)
    split: dict[str, float] = field(default_factory=dict)
    uplift: bool = False
    folds: int = 5
