"""`fidelcli roi program`: does the loyalty program pay? Members vs comparable non-members."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import typer

from fidelcli.cli import options, render
from fidelcli.config import Program, default

ProgramTable = Literal["summary", "balance", "naive", "monthly"]


def _money(flag: str, text: str) -> Any:
    return typer.Option(flag, min=0, help=text, show_default=False)


@options.read_options
@options.tx_options(inputs=("customers",), fields=("transactions", "maps", "date_format", "as_of", "start", "end", "returns"))
def program_cmd(
    tx: options.TxOptions,
    customers: options.CustomersOpt = None,
    window: Annotated[int | None, typer.Option(
        "--window", min=1, max=24, show_default=False,
        help=f"Months compared before and after the enrollment month (default {default(Program, 'window')}).")] = None,
    margin: Annotated[float | None, typer.Option(
        "--margin", min=0, max=1, show_default=False,
        help="Gross margin rate of revenue (default: the transactions' margin or cost column, else \\[program] or \\[analysis] margin).")] = None,
    fixed_cost: Annotated[float | None, _money("--fixed-cost", "One-off program cost (default \\[program] fixed_cost, 0).")] = None,
    cost_per_member: Annotated[float | None, _money("--cost-per-member", "Running cost per member and year (default 0).")] = None,
    rewards_cost: Annotated[float | None, _money(
        "--rewards-cost", "Cost of the rewards redeemed (default: simulated with the \\[loyalty] rules, as `fidelcli loyalty`).")] = None,
    fees: Annotated[float | None, _money("--fees", "Paid-membership fees collected, a negative cost (default: from the simulation).")] = None,
    referral_reward: Annotated[float | None, _money("--referral-reward", "Paid per customer referred by a member (default 0).")] = None,
    bootstrap: Annotated[int | None, typer.Option(
        "--bootstrap", min=20, show_default=False, help=f"Bootstrap samples (default {default(Program, 'bootstrap')}).")] = None,
    seed: Annotated[int | None, typer.Option("--seed", show_default=False, help="Seed of the bootstrap (default \\[program] seed, 0).")] = None,
    table: Annotated[ProgramTable, typer.Option(
        "--table", help="Table written by -o (not .json) and printed with --format csv/jsonl.")] = "summary",
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Loyalty-program ROI: members vs comparable non-members, before and after enrollment.

    Shows the naive member vs non-member gap (biased: members chose to join), then the difference in
    differences: each member's spend in the --window months before the enrollment month against the
    --window months after it, compared with non-members of the same first-purchase month and
    pre-enrollment orders over the same calendar months, with a balance table and a seeded bootstrap
    interval. The uplift gives the incremental revenue and margin of every member's post-enrollment
    spend, ROI % = (incremental margin - cost) / cost x 100 and the payback period (docs/roi.md).
    Needs -c with loyalty_member and enrollment_date.

    Example: fidelcli roi program -t sales.csv -c customers.csv --fixed-cost 20000 --cost-per-member 2
    """
    from fidelcli.analyses.roi.program import ProgramCosts, program_roi

    options.set_lang(lang)
    config = options.config()
    cfg = config.program
    transactions = tx.load()
    cust = options.customers(customers, by=None, required=True, date_format=tx.date_format)
    assert cust.frame is not None
    costs = ProgramCosts(
        fixed=fixed_cost if fixed_cost is not None else cfg.fixed_cost,
        per_member_year=cost_per_member if cost_per_member is not None else cfg.cost_per_member,
        rewards=rewards_cost if rewards_cost is not None else cfg.rewards_cost,
        fees=fees if fees is not None else cfg.fees,
        referral_reward=referral_reward if referral_reward is not None else cfg.referral_reward,
    )
    with render.progress("comparing members with non-members"):
        result = program_roi(
            transactions, cust.frame, engine=options.engine(), window=window or cfg.window,
            margin=margin if margin is not None else (cfg.margin if cfg.margin is not None else config.analysis.margin),
            costs=costs, loyalty=config.loyalty, n_boot=bootstrap or cfg.bootstrap, confidence=cfg.confidence,
            seed=seed if seed is not None else cfg.seed,
        )
    render.warnings(result.warnings)
    chosen = result.tables()[table]
    if render.result(result, chosen, output=output, fmt=fmt):
        return
    resolved = render.default_format(fmt)
    level = f"{result.confidence:.0%}"
    render.frame(result.naive, fmt=resolved, title="naive comparison (members chose to join: not the program's effect)")
    render.frame(result.balance, fmt=resolved, title="balance before and after matching (|SMD| < 0.1: balanced)")
    render.frame(result.summary, fmt=resolved, title=f"difference in differences, {level} bootstrap interval")
    payback = result.figures.get("payback_months")
    render.info(f"payback: {payback} months" if payback is not None else "payback: not reached within the data")
