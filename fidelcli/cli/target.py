"""`fidelcli target`: retention target lists for an emailing tool, with their count funnel."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import polars as pl
import typer

from fidelcli.analyses.target import SCENARIOS, suppressed_ids, target_analysis, write_target_lists
from fidelcli.cli import options, render
from fidelcli.config import Target, default
from fidelcli.errors import InputError
from fidelcli.io.read import scan_table
from fidelcli.io.write import check_not_input, check_writable


def _list_output(param: typer.CallbackParam, path: Path | None) -> Path | None:
    """Callback of -o and --control-output: a path without the .csv extension is a directory
    (--per-scenario), checked as one before any work is done."""
    if path is not None:
        directory = path.suffix.lower() != ".csv"
        check_writable(path, directory=directory)
        flag = "/".join(param.opts)
        check_not_input(path, what=flag)
        options.context.outputs.append((flag, path))
    return path


ScenarioOpt = Annotated[
    list[str] | None,
    typer.Option("--scenario", "-s", help=f"Scenario to run (repeatable), or all: {', '.join(SCENARIOS)} (default \\[target] scenarios: all).",
                 show_default=False),
]
TouchpointsOpt = Annotated[str | None, typer.Option("--touchpoints", help="Touchpoints table (abandoned carts).", show_default=False)]
CampaignsOpt = Annotated[
    str | None, typer.Option("--campaigns", help="Campaigns history (frequency capping on its sent_at dates).", show_default=False)]
SuppressOpt = Annotated[
    list[str] | None,
    typer.Option("--suppress", help="Suppression list (repeatable): ids, emails or phones never to contact (plus \\[target] suppress).",
                 show_default=False),
]
SuppressIdOpt = Annotated[
    str | None, typer.Option("--suppress-id", help="Column of the suppression lists holding customer ids, when not recognised.",
                             show_default=False)]
ChurnModelOpt = Annotated[
    Path | None, typer.Option("--churn-model", help="Churn model file (churn train): churn risk of at_risk.", show_default=False,
                              callback=options.input_file)]
ClvModelOpt = Annotated[
    Path | None, typer.Option("--clv-model", help="CLV model file (clv --save-model): CLV and P(alive) of at_risk and vip.",
                              show_default=False, callback=options.input_file)]
SeedOpt = Annotated[int | None, typer.Option("--seed", help=f"Seed of the control groups (default {default(Target, 'seed')}).", show_default=False)]
ControlShareOpt = Annotated[
    float | None, typer.Option("--control-share", min=0, max=0.99, help=f"Share held out per scenario (default {default(Target, 'control_share')}).",
                               show_default=False)]
MaxMessagesOpt = Annotated[
    int | None, typer.Option("--max-messages", min=1, help=f"Frequency cap: messages per --cap-days (default {default(Target, 'max_messages')}).",
                             show_default=False)]
CapDaysOpt = Annotated[
    int | None, typer.Option("--cap-days", min=1, help=f"Frequency cap window in days (default {default(Target, 'cap_days')}).", show_default=False)]
TargetOutputOpt = Annotated[
    Path | None,
    typer.Option("-o", "--output", help="Target list: a CSV file, or a directory of one CSV per scenario with --per-scenario.",
                 show_default=False, callback=_list_output),
]
ControlOutputOpt = Annotated[
    Path | None,
    typer.Option("--control-output", help="Control group (default beside -o: NAME_control.csv, or DIR_control).", show_default=False,
                 callback=_list_output),
]
PerScenarioOpt = Annotated[bool, typer.Option("--per-scenario", help="One CSV per scenario in the -o directory (default \\[target.output]).")]


def suppression_lists(sources: list[str], *, id_column: str | None) -> list[pl.DataFrame]:
    """Each suppression list as customer_id / email / phone columns (recognised by name, or
    `id_column`; a file of one column is a list of customer ids). The config's `[columns]` maps do
    not apply: these are not the customers table."""
    lists = []
    read = options.context.read
    for source in sources:
        options.record_input(source)
        tbl = scan_table(source, "customers", columns={"customer_id": id_column} if id_column else None,
                         show_values=render.settings.show_values, ragged=read.ragged, sheet=read.sheet, encoding=read.encoding,
                         delimiter=read.delimiter, header=read.header, optional=frozenset({"customer_id"}))
        options.context.tables.append(tbl)
        fields = [f for f in ("customer_id", "email", "phone") if f in tbl.mapping]
        if fields:
            render.info(f"{tbl.file}: suppression by {', '.join(fields)}")
            lists.append(tbl.lf.select(fields).collect())
            continue
        names = tbl.raw.collect_schema().names()
        if len(names) != 1:
            raise InputError("the suppression list has no customer id, email or phone column", file=tbl.file,
                             hint="name its id column with --suppress-id COLUMN")
        render.info(f"{tbl.file}: suppression by customer_id (its only column)")
        lists.append(tbl.raw.select(pl.col(names[0]).cast(pl.String).str.strip_chars().alias("customer_id")).collect())
    return lists


@options.read_options
@options.tx_options(inputs=("customers", "touchpoints", "campaigns"))
def target_cmd(
    tx: options.TxOptions,
    customers: options.CustomersOpt = None,
    touchpoints: TouchpointsOpt = None,
    campaigns: CampaignsOpt = None,
    scenario: ScenarioOpt = None,
    suppress: SuppressOpt = None,
    suppress_id: SuppressIdOpt = None,
    churn_model: ChurnModelOpt = None,
    clv_model: ClvModelOpt = None,
    seed: SeedOpt = None,
    control_share: ControlShareOpt = None,
    max_messages: MaxMessagesOpt = None,
    cap_days: CapDaysOpt = None,
    output: TargetOutputOpt = None,
    control_output: ControlOutputOpt = None,
    per_scenario: PerScenarioOpt = False,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Target lists for retention scenarios, ready for an emailing tool, with the count funnel.

    Scenarios: welcome, second_purchase, reactivation (lapsed relative to the customer's own rhythm),
    at_risk (high value and high churn risk: --churn-model or --clv-model), vip, birthday,
    anniversary, abandoned_cart (--touchpoints), cross_sell. Rules, in order: consent per channel
    (an unknown consent is no consent), suppression lists, frequency capping against --campaigns,
    one message per customer (highest priority wins), and a seeded control group per scenario,
    written separately. The terminal shows the funnel only; contact fields (email, phone, name) go to
    the -o file alone. Without -o nothing is written (a dry run). Settings: \\[target] in
    fidelcli.toml (docs/target.md).

    Example: fidelcli target -t sales.csv -c customers.csv --touchpoints touchpoints.csv --campaigns campaigns.csv --suppress optouts.csv -o targets.csv
    """
    options.set_lang(lang)
    config = options.config()
    cfg = config.target.model_copy(deep=True)
    cfg.control_share = cfg.control_share if control_share is None else control_share
    cfg.max_messages = max_messages or cfg.max_messages
    cfg.cap_days = cap_days or cfg.cap_days
    cfg.output.per_scenario = per_scenario or cfg.output.per_scenario
    if output is not None and not cfg.output.per_scenario and output.suffix.lower() != ".csv":
        raise typer.BadParameter("the target list is a CSV file (or a directory with --per-scenario)", param_hint="-o/--output")
    fitted_churn = fit = None
    unit = config.clv.time_unit
    if churn_model is not None:
        from fidelcli.churn import ChurnModel

        fitted_churn = ChurnModel.load(churn_model)
    if clv_model is not None:
        from fidelcli.analyses.clv.modelfile import load_model_file

        fit, unit, _ = load_model_file(clv_model)
    transactions = tx.load()
    cust = options.customers(customers, by=None, required=True, date_format=tx.date_format)
    assert cust.frame is not None
    tp = options.table("touchpoints", touchpoints, date_format=tx.date_format, required=False)
    camp = options.table("campaigns", campaigns, date_format=tx.date_format, required=False)
    for tbl in (tp, camp):
        if tbl is not None:
            tbl.check()
    lists = suppression_lists([*cfg.suppress, *(suppress or [])], id_column=suppress_id)
    clv_options = None
    if fit is not None:
        from fidelcli.analyses.clv.predict import ClvOptions
        from fidelcli.analyses.timeunits import parse_horizon
        from fidelcli.cli.clv import margin_rate

        clv_options = ClvOptions(horizon=parse_horizon(config.clv.horizon), discount_rate=config.clv.discount_rate,
                                 margin=margin_rate(None, config.clv, config.analysis), lifetime_years=config.clv.lifetime)
    with render.progress("building target lists"):
        result = target_analysis(
            transactions, engine=options.engine(), customers=cust.frame, scenarios=scenario or cfg.scenarios, strict=bool(scenario),
            settings=cfg, seed=seed,
            touchpoints=tp.lf if tp is not None else None, campaigns=camp.lf if camp is not None else None,
            suppressed=suppressed_ids(lists, cust.frame) if lists else None, churn_model=fitted_churn, clv_fit=fit, clv_time_unit=unit,
            clv_options=clv_options, rfm_settings=config.rfm,
        )
    render.warnings(result.warnings)
    head = result.headline()
    render.info(f"as of {result.as_of}, seed {result.seed}: {head['targeted']:,} customers to contact, {head['control']:,} held out as control")
    if output is not None:
        written = write_target_lists(result, output, customers=cust.frame, settings=cfg.output, control_output=control_output)
        render.warnings(written.warnings)
        render.info(f"wrote {written.targets:,} rows to {written.files[0]} and the control group ({written.control:,}) to {written.files[1]}")
    render.frame(result.funnel, fmt=fmt, title=f"target funnel as of {result.as_of}")
