"""RFM segment maps: which (R score, F score) cell belongs to which named segment.

The default map is the classic 5 x 5 grid on the recency and frequency scores, with an English and a
French label and a recommended action for each segment. It never uses the monetary score, so it
applies unchanged when money is unknown. With another number of scores (`--bins` 2..10) the default
map is scaled: score s of b bins is read as the 5-bin score whose band holds the middle of s's band,

    s5 = 1 + floor(5 * (s - 0.5) / b) = 1 + (5 * (2s - 1)) // (2b)

(never on a band edge, since 5 * (2s - 1) is odd): bins = 5 is the map itself; from 3 bins on the
worst and best scores map to 1 and 5; the 2 halves map to 2 and 4 (bottom and top 50 % are not the
bottom and top 20 %). A map from the config (`[[rfm.segments]]`) replaces the default;
it must cover every cell of the bins x bins grid exactly once.
"""

from __future__ import annotations

import polars as pl

from fidelcli.config import Segment
from fidelcli.errors import ConfigError

DEFAULT_SEGMENTS: tuple[Segment, ...] = (
    Segment(
        name="Champions", label_fr="Champions", r=[5], f=[4, 5],
        action="Reward them: exclusive advantages, early access to new products, ask for reviews and referrals.",
        action_fr="Les récompenser : avantages exclusifs, accès en avant-première, demander avis et parrainages.",
    ),
    Segment(
        name="Loyal Customers", label_fr="Clients fidèles", r=[3, 4], f=[4, 5],
        action="Upsell higher-value products, invite them to the loyalty program's upper tiers.",
        action_fr="Proposer des produits de gamme supérieure, les inviter aux paliers supérieurs du programme.",
    ),
    Segment(
        name="Potential Loyalists", label_fr="Fidèles potentiels", r=[4, 5], f=[2, 3],
        action="Offer a membership or loyalty program, recommend related products.",
        action_fr="Proposer l'adhésion au programme de fidélité, recommander des produits associés.",
    ),
    Segment(
        name="New Customers", label_fr="Nouveaux clients", r=[5], f=[1],
        action="Onboard them: welcome series, second-purchase incentive.",
        action_fr="Les accueillir : parcours de bienvenue, incitation au deuxième achat.",
    ),
    Segment(
        name="Promising", label_fr="Prometteurs", r=[4], f=[1],
        action="Build the relationship: brand content, a limited-time offer on a second purchase.",
        action_fr="Créer la relation : contenus de marque, offre limitée sur un deuxième achat.",
    ),
    Segment(
        name="Need Attention", label_fr="À surveiller", r=[3], f=[3],
        action="Reactivate with personalised recommendations and a time-limited offer.",
        action_fr="Réactiver avec des recommandations personnalisées et une offre limitée dans le temps.",
    ),
    Segment(
        name="About to Sleep", label_fr="En voie d'endormissement", r=[3], f=[1, 2],
        action="Share popular products and a discount before they lapse.",
        action_fr="Présenter les produits populaires et une remise avant qu'ils ne décrochent.",
    ),
    Segment(
        name="At Risk", label_fr="À risque", r=[1, 2], f=[3, 4],
        action="Send a personalised reactivation offer; ask what went wrong.",
        action_fr="Envoyer une offre de réactivation personnalisée ; demander ce qui n'a pas convenu.",
    ),
    Segment(
        name="Can't Lose Them", label_fr="À ne pas perdre", r=[1, 2], f=[5],
        action="Win them back personally: call or write, strong offer, new products they would like.",
        action_fr="Les reconquérir personnellement : appel ou message, offre forte, nouveautés adaptées.",
    ),
    Segment(
        name="Hibernating", label_fr="En hibernation", r=[1, 2], f=[1, 2],
        action="Low-cost reactivation only (newsletter, seasonal offer); exclude from costly campaigns.",
        action_fr="Réactivation à faible coût seulement (newsletter, offre saisonnière) ; exclure des campagnes coûteuses.",
    ),
)


def validate_segments(segments: list[Segment] | tuple[Segment, ...], bins: int) -> None:
    """Check that a segment map covers the `bins` x `bins` grid of (R, F) scores exactly once.

    Raises ConfigError naming the uncovered, doubly covered or out-of-range cells.
    """
    cells: dict[tuple[int, int], str] = {}
    doubles: list[str] = []
    for seg in segments:
        bad = [s for s in [*seg.r, *seg.f] if not 1 <= s <= bins]
        if bad:
            raise ConfigError(
                f"segment {seg.name!r} uses score {bad[0]}, outside 1..{bins}",
                hint=f"scores go from 1 to {bins} (--bins)",
            )
        for r in seg.r:
            for f in seg.f:
                if (r, f) in cells:
                    doubles.append(f"R{r}F{f} ({cells[(r, f)]!r} and {seg.name!r})")
                cells[(r, f)] = seg.name
    if doubles:
        raise ConfigError(
            f"the segment map covers {len(doubles)} cell(s) twice: {', '.join(doubles[:5])}",
            hint="give every (R, F) cell to exactly one segment in [[rfm.segments]]",
        )
    missing = [f"R{r}F{f}" for r in range(1, bins + 1) for f in range(1, bins + 1) if (r, f) not in cells]
    if missing:
        raise ConfigError(
            f"the segment map does not cover {len(missing)} of the {bins * bins} (R, F) cells: {', '.join(missing[:10])}"
            + (" ..." if len(missing) > 10 else ""),
            hint="add the missing cells to a segment in [[rfm.segments]]",
        )


def segment_grid(segments: list[Segment] | tuple[Segment, ...], bins: int, *, lang: str = "en") -> pl.DataFrame:
    """One row per (R, F) cell: r_score, f_score, segment, action, order (position in the map).

    Labels are in `lang` ("en" or "fr"; French falls back to English where the map has none).
    Raises ConfigError when the map is not a full partition of the grid.
    """
    validate_segments(segments, bins)
    rows: dict[str, list[int | str]] = {"r_score": [], "f_score": [], "segment": [], "action": [], "order": []}
    for i, seg in enumerate(segments):
        name = (seg.label_fr or seg.name) if lang == "fr" else seg.name
        action = (seg.action_fr or seg.action) if lang == "fr" else seg.action
        for r in seg.r:
            for f in seg.f:
                rows["r_score"].append(r)
                rows["f_score"].append(f)
                rows["segment"].append(name)
                rows["action"].append(action)
                rows["order"].append(i)
    return pl.DataFrame(
        rows, schema={"r_score": pl.Int8, "f_score": pl.Int8, "segment": pl.String, "action": pl.String, "order": pl.Int32}
    )


def scale_score(score: int, bins: int) -> int:
    """The 5-bin score of score `score` (1..bins) of `bins` scores: the 5-bin band holding the middle
    of its band, 1 + floor(5 (s - 1/2) / bins). bins = 5 gives the score itself.

    Example: with 4 bins, 1 -> 1, 2 -> 2, 3 -> 4, 4 -> 5.
    """
    return 1 + (5 * (2 * score - 1)) // (2 * bins)


def default_segment_grid(bins: int = 5, *, lang: str = "en") -> pl.DataFrame:
    """The default map on the `bins` x `bins` grid: cell (r, f) takes the segment of the 5 x 5 cell
    (scale_score(r), scale_score(f)). Columns as `segment_grid`; bins = 5 is `segment_grid(DEFAULT_SEGMENTS, 5)`."""
    five = segment_grid(DEFAULT_SEGMENTS, 5, lang=lang)
    cells = pl.DataFrame(
        [(r, f, scale_score(r, bins), scale_score(f, bins)) for r in range(1, bins + 1) for f in range(1, bins + 1)],
        schema={"r_score": pl.Int8, "f_score": pl.Int8, "r5": pl.Int8, "f5": pl.Int8},
        orient="row",
    )
    grid = cells.join(five.rename({"r_score": "r5", "f_score": "f5"}), on=["r5", "f5"], how="left", maintain_order="left")
    return grid.select("r_score", "f_score", "segment", "action", "order")
