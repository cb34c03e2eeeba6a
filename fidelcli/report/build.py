"""The report's one library call: every section whose inputs exist, in registry order, each timed.

`build_report` takes the validation report (computed first by the caller: errors stop the run
before this) and the loaded inputs, runs each section's library call (`fidelcli.report.sections`),
and returns a `ReportResult`: the results by section, their timings and row counts, the warnings.
A section whose analysis fails on the data (a `FidelError`: a model that cannot be fitted, too
little history) is left out with a warning; the others still run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from fidelcli.errors import FidelError
from fidelcli.report.kpis import flatten
from fidelcli.report.sections import SECTIONS, ReportInputs, Section
from fidelcli.result import Figure, JsonResult, Result


@dataclass
class ReportResult(JsonResult):
    """The results of a report run.

    results: by section key, `validation` first (its `Report`).
    titles: each section's title in the report's language.
    timings: seconds per step; rows: per section, the row count of each of its tables.
    skipped: sections left out, with the reason (missing input, analysis failure).
    keys: per section, the headline figures always in kpis.json (`Section.keys`).
    notes: per section, sentences shown above its charts; writers: per section, a function writing
    its own files into a run directory (returns their relative paths).
    """

    results: dict[str, Result]
    titles: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    keys: dict[str, tuple[str, ...]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    writers: dict[str, Callable[[Path], list[str]]] = field(default_factory=dict)

    def tables(self) -> dict[str, pl.DataFrame]:
        """Every section's tables, named `<section>.<table>`."""
        return {f"{key}.{name}": df for key, result in self.results.items() for name, df in result.tables().items()}

    def headline(self) -> dict[str, Figure]:
        """Every headline figure, `<section>.<name>` (kpis.json)."""
        return flatten(self.results, self.keys)


def build_report(
    inputs: ReportInputs,
    *,
    validation: Result,
    sections: list[Section] | None = None,
    only: list[str] | None = None,
    log: Callable[[str], None] = lambda line: None,
    validation_seconds: float = 0.0,
) -> ReportResult:
    """Run every section of `sections` (default the registry) whose inputs exist.

    Parameters
    ----------
    validation: the validation report of the inputs (already checked to have no error).
    only: section keys to run (default: all that apply).
    log: called with one line per step (the CLI prints it with a timestamp).
    """
    lang = inputs.lang
    out = ReportResult(results={"validation": validation}, titles={"validation": "Data quality" if lang == "en" else "Qualité des données"})
    out.timings["validation"] = round(validation_seconds, 3)
    out.rows["validation"] = _rows(validation.tables())
    for s in sections if sections is not None else SECTIONS:
        if only is not None and s.key not in only:
            continue
        if not s.applies(inputs):
            missing = [k for k in s.needs if not inputs.has(k)]
            out.skipped[s.key] = f"no {', '.join(missing)} input" if missing else "not needed"
            continue
        start = time.monotonic()
        log(f"{s.key}: computing")
        try:
            result = s.compute(inputs)
        except FidelError as exc:
            reason = f"{exc}" + (f" ({exc.hint})" if exc.hint else "")
            out.skipped[s.key] = reason
            out.warnings.append(f"{s.key}: left out: {reason}")
            log(f"{s.key}: left out: {reason}")
            continue
        seconds = time.monotonic() - start
        out.timings[s.key] = round(seconds, 3)
        if result is None:
            out.skipped[s.key] = "nothing to compute"
            continue
        out.results[s.key] = result
        out.titles[s.key] = s.title(lang)
        out.rows[s.key] = _rows(result.tables())
        if s.keys:
            out.keys[s.key] = s.keys
        if s.key in inputs.notes:
            out.notes[s.key] = inputs.notes[s.key]
        if s.files is not None:
            out.writers[s.key] = _writer(s, result, inputs)
        out.warnings.extend(f"{s.key}: {w}" for w in result.warnings)
        counts = ", ".join(f"{name} {n:,}" for name, n in out.rows[s.key].items())
        log(f"{s.key}: done in {seconds:.1f}s ({counts} rows)")
    return out


def _writer(s: Section, result: Result, inputs: ReportInputs) -> Callable[[Path], list[str]]:
    files = s.files
    assert files is not None
    return lambda directory: files(result, inputs, directory)


def _rows(tables: Mapping[str, pl.DataFrame]) -> dict[str, int]:
    return {name: df.height for name, df in tables.items()}
