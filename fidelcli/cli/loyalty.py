"""`fidelcli loyalty`: simulate the points-and-tiers program of the `[loyalty]` config on the members."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import typer

from fidelcli.cli import options, render
from fidelcli.errors import InputError

LoyaltyTable = Literal["members", "monthly", "tiers", "migration"]
EventsOpt = Annotated[str | None, typer.Option(
    "--events", help="Loyalty events (customer_id, date, points, type): redemptions as recorded, instead of the assumption.",
    show_default=False)]


@options.read_options
@options.tx_options(inputs=("customers", "events"), fields=("transactions", "maps", "date_format", "as_of", "start", "end", "returns"))
def loyalty_cmd(
    tx: options.TxOptions,
    customers: options.CustomersOpt = None,
    events: EventsOpt = None,
    migration_from: Annotated[dt.datetime | None, typer.Option(
        "--from", formats=options.DATE, show_default=False, help="Tier migration matrix: tiers held on this day...")] = None,
    migration_to: Annotated[dt.datetime | None, typer.Option(
        "--to", formats=options.DATE, show_default=False, help="...against this day (default: the analysis date).")] = None,
    table: Annotated[LoyaltyTable, typer.Option(
        "--table", help="Table printed (and written by -o, unless .json): per member, per month, tiers, or the migration.")] = "members",
    output: options.OutputOpt = None,
    fmt: options.FormatOpt = None,
    lang: options.LangOpt = None,
) -> None:
    """Simulate the points-and-tiers program of the \\[loyalty] config on the members' purchases.

    Per member: points earned, redeemed, expired, balance and its value, points expiring within
    \\[loyalty] expiring_within_days, tier, next tier and the spend to reach it. Per month: points,
    liability, cost of rewards, paid-tier fees. KPIs: liability, redemption rate, breakage, tier
    distribution; --from/--to the tier migration matrix. Returns take their points back. Members are
    the customers with loyalty_member (from enrollment_date); without -c, every customer from the
    first purchase. The rules language is in docs/loyalty.md.

    Example: fidelcli loyalty -t sales.csv -c customers.csv --from 2025-01-01 --to 2025-12-31 --table migration
    """
    from fidelcli.analyses.loyalty import simulate_loyalty

    options.set_lang(lang)
    config = options.config()
    transactions = tx.load()
    cust = options.customers(customers, by=None, required=False, date_format=tx.date_format)
    ledger = options.collect(options.table("loyalty_events", events, date_format=tx.date_format, required=False))
    migration = None
    if migration_from is not None:
        end = options.date(migration_to) or transactions.as_of
        migration = (migration_from.date(), end)
        if migration[0] >= migration[1]:
            raise InputError(f"--from {migration[0]} must come before --to {migration[1]}", hint="swap the two dates")
    elif migration_to is not None or table == "migration":
        raise InputError("the tier migration needs --from DATE", hint="add --from 2025-01-01 (and --to, default the analysis date)")
    with render.progress("simulating the loyalty program"):
        result = simulate_loyalty(transactions, cust.frame, engine=options.engine(), rules=config.loyalty, events=ledger,
                                  migration=migration)
    render.warnings(result.warnings)
    chosen = result.tables()[table]
    if render.result(result, chosen, output=output, fmt=fmt):
        return
    resolved = render.default_format(fmt)
    render.frame(chosen, fmt=resolved, title=f"loyalty program: {table}")
    if table != "tiers":
        render.frame(result.tiers, fmt=resolved, title="tier distribution")
    render.mapping(result.headline(), fmt=resolved, title="program KPIs")
