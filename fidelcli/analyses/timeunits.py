"""Time units of the CLV models: declared once, carried through summaries, horizons and discounting.

A model's time unit is `day`, `week` (7 days) or `month` (365.25/12 days, never 30): summaries are
computed from whole days as fractional values of that unit. A horizon carries its own unit
(`12m`, `52w`, `365d`, `1y`) and is converted to the model's unit; an annual discount rate is
converted to a rate per period by compounding, (1 + annual) ** (period in years) - 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fidelcli.engine.periods import TimeUnit
from fidelcli.errors import ConfigError
from fidelcli.stats import compound_rate

HorizonUnit = TimeUnit  # a horizon is counted in the same units: 12m, 52w, 365d, 1y
DAYS_PER_YEAR = 365.25
DAYS: dict[TimeUnit, float] = {"day": 1.0, "week": 7.0, "month": DAYS_PER_YEAR / 12, "year": DAYS_PER_YEAR}
_SUFFIX: dict[str, HorizonUnit] = {"d": "day", "w": "week", "m": "month", "y": "year"}
_HORIZON = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([dwmy])\s*$", re.IGNORECASE)


def days_per(unit: TimeUnit) -> float:
    """Length of one `unit` in days (a month is 365.25/12 days)."""
    if unit not in DAYS:
        raise ConfigError(f"unknown time unit {unit!r}", hint="use day, week, month or year")
    return DAYS[unit]


def convert(value: float, source: TimeUnit, target: TimeUnit) -> float:
    """Convert a duration from one unit to another (e.g. 12 months -> 52.18 weeks)."""
    return value * days_per(source) / days_per(target)


@dataclass(frozen=True)
class Horizon:
    """A prediction horizon: `count` steps of one `unit` (12 months, 52 weeks, 365 days).

    Discounted sums step through the horizon in its own unit: `12m` is 12 monthly steps.
    """

    count: int
    unit: HorizonUnit

    def __str__(self) -> str:
        return f"{self.count}{self.unit[0]}"

    def length(self, time_unit: TimeUnit) -> float:
        """The horizon in the model's time unit (`12m` in weeks is 52.18)."""
        return convert(self.count, self.unit, time_unit)

    def step(self, time_unit: TimeUnit) -> float:
        """One step of the horizon (one of its units) in the model's time unit."""
        return convert(1.0, self.unit, time_unit)

    def years(self) -> float:
        """The horizon in years."""
        return convert(self.count, self.unit, "year")


def parse_horizon(text: str | Horizon) -> Horizon:
    """Parse a horizon such as `12m`, `52w`, `365d` or `1y` (a whole number and a unit letter).

    Raises
    ------
    ConfigError
        The text is not a whole number followed by d, w, m or y, or the number is 0.

    Example
    -------
    >>> parse_horizon("52w")
    Horizon(count=52, unit='week')
    """
    if isinstance(text, Horizon):
        return text
    match = _HORIZON.match(str(text))
    if not match or float(match.group(1)) != int(float(match.group(1))) or int(float(match.group(1))) <= 0:
        raise ConfigError(f"horizon {text!r} is not a whole number of days, weeks, months or years",
                          hint="write it like 12m, 52w, 365d or 1y")
    return Horizon(int(float(match.group(1))), _SUFFIX[match.group(2).lower()])


def rate_per_period(annual_rate: float, unit: TimeUnit) -> float:
    """Discount rate of one period of `unit` equivalent to an annual rate, by compounding
    (`fidelcli.stats.compound_rate`).

    (1 + annual) ** (days in the unit / 365.25) - 1: 10 % a year is 0.797 % a month and 0.183 %
    a week.

    Raises
    ------
    ConfigError
        The annual rate is not >= 0 and < 1 (`fidelcli.stats.check_discount_rate`).
    """
    return compound_rate(annual_rate, days_per(unit) / DAYS_PER_YEAR)
