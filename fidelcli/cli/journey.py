"""`fidelcli journey`: the customer journey from touchpoints, and its moments of truth."""

from __future__ import annotations

import dataclasses
import sys
from typing import Annotated, Literal

import typer

from fidelcli.analyses.journey import journey
from fidelcli.analyses.timeunits import parse_horizon
from fidelcli.cli import options, render
from fidelcli.config import Journey, default

View = Literal["matrix", "conversion", "paths", "moments"]

TouchpointsOpt = Annotated[
    str | None, typer.Option("--touchpoints", help="Touchpoints table (customer, timestamp, stage, channel, satisfaction).", show_default=False)
]
StagesOpt = Annotated[
    str | None,
    typer.Option("--stages", help="The stages in journey order, comma-separated (default: \\[journey] stages, else inferred from the data).",
                 show_default=False),
]
NegativeOpt = Annotated[
    float | None,
    typer.Option("--negative-max", min=1, max=4.99, help=f"A satisfaction (1-5) at or below it is a negative experience, an irritant "
                 f"(default {default(Journey, 'negative_max')}).", show_default=False),
]
OutcomeOpt = Annotated[
    Literal["retention", "repurchase"] | None,
    typer.Option("--outcome", help="Moments of truth measured on retention (a purchase more than --window after the touchpoint) or "
                 f"repurchase (a purchase within --window) (default {default(Journey, 'outcome')}).", show_default=False),
]
WindowOpt = Annotated[
    str | None, typer.Option("--window", help=f"Window after a touchpoint: 90d, 26w, 6m (default {default(Journey, 'window')}).",
                             show_default=False),
]
TopOpt = Annotated[int | None, typer.Option("--top", min=1, help=f"Most common paths shown (default {default(Journey, 'top')}).",
                                            show_default=False)]
ShowOpt = Annotated[
    View | None,
    typer.Option("--show", help="Print one table: matrix, conversion, paths or moments (default: all, the moments of truth in words last).",
                  show_default=False),
]

TITLES = {"matrix": "touchpoints: stages x channels", "conversion": "conversion between stages (days from one to the next)",
          "paths": "most common paths", "moments": "moments of truth (effect: adjusted difference, negative experience vs other)"}


@options.read_options
@options.tx_options(inputs=("touchpoints",), fields=("transactions", "maps", "date_format", "as_of", "start", "end", "returns", "occasion"))
def journey_cmd(
    tx: options.TxOptions,
    touchpoints: TouchpointsOpt = None,
    stages: StagesOpt = None,
    negative_max: NegativeOpt = None,
    outcome: OutcomeOpt = None,
    window: WindowOpt = None,
    top: TopOpt = None,
    show: ShowOpt = None,
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """The customer journey: stages x channels, conversion, paths, and the moments of truth.

    From the touchpoints table: per stage and channel the touchpoints, customers, mean satisfaction
    and irritants (negative experiences, satisfaction <= --negative-max); conversion and days between
    consecutive stages; the most common paths. With transactions (-t, or \\[inputs] transactions),
    the moments of truth: for each stage and channel, how much less likely customers with a negative
    experience are to be retained (or to buy again) than comparable customers with the same
    purchases and spend before, with a 95 % interval, ranked and put in words (docs/journey.md).
    -o, csv and jsonl give the moments of truth (the matrix without transactions; --show chooses
    the table); --format json the whole result.
    --map touchpoints.FIELD=COLUMN maps a column of the touchpoints.

    Example: fidelcli journey --touchpoints touchpoints.csv -t sales.csv --window 180d
    """
    options.set_lang(lang)
    cfg = options.config()
    jcfg = cfg.journey
    has_tx = (tx.transactions or cfg.inputs.transactions) is not None
    # --map touchpoints.stage=Etape maps a touchpoints column; a bare field=Column maps the
    # transactions (the touchpoints when there are none).
    prefix = "touchpoints."
    own = [m.removeprefix(prefix) for m in tx.maps or [] if m.startswith(prefix) or not has_tx]
    tx = dataclasses.replace(tx, maps=[m for m in tx.maps or [] if not m.startswith(prefix)] if has_tx else None)
    tbl = options.table("touchpoints", touchpoints, maps=own, date_format=tx.date_format)
    assert tbl is not None
    tbl.check()
    transactions = tx.load() if has_tx else None
    if not has_tx:
        render.info("no transactions (-t): the moments of truth need them; showing the journey only")
    horizon = parse_horizon(window or jcfg.window)
    stage_list = [s.strip() for s in stages.split(",") if s.strip()] if stages else jcfg.stages
    with render.progress("analysing the journey"):
        result = journey(
            tbl.lf, transactions, engine=options.engine() if transactions is not None else None, stages=stage_list,
            negative_max=negative_max if negative_max is not None else jcfg.negative_max, outcome=outcome or jcfg.outcome,
            window_days=max(1, round(horizon.length("day"))), top=top or jcfg.top, file=tbl.file,
        )
    render.warnings(result.warnings)
    tables = result.tables()
    if show is not None and show not in tables:
        raise typer.BadParameter("the moments of truth need transactions (-t)", param_hint="--show")
    main = show or ("moments" if "moments" in tables else "matrix")
    if output is not None:
        render.save(tables[main], output)
        if fmt is None:
            return
    shown = render.default_format(fmt)
    if shown == "json" and show is None:
        sys.stdout.write(result.to_json() + "\n")  # the whole result, as the library returns it
        return
    # Machine formats print one table; the terminal and Markdown show them all.
    views = [main] if show is not None or shown in ("csv", "jsonl") else [v for v in TITLES if v in tables]
    for view in views:
        render.frame(tables[view], fmt=fmt, title=TITLES[view], max_rows=200)
    if "moments" in views:
        for text in result.summary.get_column("moment_of_truth"):
            render.info(text)
