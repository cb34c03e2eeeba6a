"""The journey's moments of truth in French words, for `report --lang fr`.

The journey analysis puts its top moments in English sentences (its `summary` table: `rank` and
`moment_of_truth`, kept in English in the tables and the CLI). The report rebuilds each sentence
from the structured fields instead: the `moments` row of the same rank and the settings of the
run (its headline: `negative_max`, `outcome`, `window_days`), with a French template.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from fidelcli.analyses.journey.moments import sentence_points
from fidelcli.report.warnings_fr import NNBSP, french_number


def _n(value: float, spec: str) -> str:
    return french_number(format(value, spec))


def moment_sentence(row: Mapping[str, object], settings: Mapping[str, object]) -> str:
    """One moment of truth (a `moments` row with an effect) in French; see `journey.moments.sentence`."""
    effect, low, high, raw_neg, raw_other = sentence_points(row)
    w = settings.get("window_days")
    goal = (f"d'acheter encore plus de {w} jours après" if settings.get("outcome") == "retention" else f"de racheter dans les {w} jours")
    direction = "moins" if effect < 0 else "plus"
    neg_max = float(settings.get("negative_max") or 2)  # type: ignore[arg-type]
    threshold = str(int(neg_max)) if neg_max.is_integer() else french_number(str(neg_max))
    sure = "" if low > 0 or high < 0 else f" (indiscernable d'une absence d'effet à 95{NNBSP}%)"
    return (
        f"{row['stage']} via {row['channel']} : les clients ayant eu une expérience négative (satisfaction 1-{threshold}) étaient "
        f"{_n(abs(effect), '.1f')} points {direction} susceptibles {goal} que des clients comparables (mêmes achats et dépenses "
        f"avant), intervalle à 95{NNBSP}% de {_n(low, '+.1f')} à {_n(high, '+.1f')} points{sure} ; brut {_n(raw_neg, '.0f')}{NNBSP}% "
        f"contre {_n(raw_other, '.0f')}{NNBSP}%, {row['negative']} clients sur {row['customers']}."
    )


def no_moment_sentence(settings: Mapping[str, object]) -> str:
    goal = "à la rétention" if settings.get("outcome") == "retention" else "au réachat"
    return (f"aucune expérience négative à un point de contact n'est liée {goal} au-delà du hasard "
            f"(les intervalles à 95{NNBSP}% couvrent tous 0)")


def moment_sentences(summary: pl.DataFrame, moments: pl.DataFrame | None, settings: Mapping[str, object]) -> list[str]:
    """The French text of each row of the journey's `summary` (a null rank: no moment beyond chance)."""
    by_rank = {r["rank"]: r for r in moments.iter_rows(named=True)} if moments is not None and "rank" in moments.columns else {}
    out = []
    for rank, english in zip(summary.get_column("rank").to_list(), summary.get_column("moment_of_truth").to_list(), strict=True):
        if rank is None:
            out.append(no_moment_sentence(settings))
        elif rank in by_rank:
            out.append(moment_sentence(by_rank[rank], settings))
        else:
            out.append(str(english))
    return out
