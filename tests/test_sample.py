"""`fidelcli sample`: determinism, readability of every kind, and recovery of the generating truth.

Expected values come from truth.json (the seeded simulation's known parameters); tolerances are a few
standard errors computed from the sample itself, so they shrink with the sample size.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import stat
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

import fidelcli.sample as sample_mod
from fidelcli.cli.app import app
from fidelcli.io.columns import FIELDS
from fidelcli.io.read import scan_table
from fidelcli.models.bgnbd import BGNBD
from fidelcli.sample import FR_EXPORT, KIND_FILES, Truth, generate
from fidelcli.sample.backoffice import FRENCH_CHANNEL, FRENCH_STATUS, euros

N = 5000
SEED = 42
END = dt.date(2025, 12, 31)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    out = tmp_path_factory.mktemp("sample")
    return out, generate(out, customers=N, seed=SEED, fr_export=True)


def _read(data: tuple[Path, Truth], kind: str) -> pl.DataFrame:
    return pl.read_parquet(data[0] / f"{kind}.parquet")


def _orders(tx: pl.DataFrame) -> pl.DataFrame:
    """One row per order: customer, date, value of its purchase lines."""
    return (
        tx.filter(pl.col("status") == "completed")
        .group_by("customer_id", "order_id")
        .agg(pl.col("date").first(), pl.col("amount").sum().alias("value"))
    )


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    generate(tmp_path / "a", customers=300, seed=7, fr_export=True)
    generate(tmp_path / "b", customers=300, seed=7, fr_export=True)
    generate(tmp_path / "c", customers=300, seed=8)
    names = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert names == sorted([f"{k}.{e}" for k in KIND_FILES for e in ("csv", "parquet")] + [FR_EXPORT, "truth.json"])
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert (tmp_path / "a" / "transactions.csv").read_bytes() != (tmp_path / "c" / "transactions.csv").read_bytes()


def test_chunks_join_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 400 customers in chunks of 150: ids, order ids and referrers must run across chunk borders.
    monkeypatch.setattr(sample_mod, "CHUNK", 150)
    truth = generate(tmp_path, customers=400, seed=1, formats=("parquet",))
    assert truth.chunk_size == 150
    cu = pl.read_parquet(tmp_path / "customers.parquet")
    tx = pl.read_parquet(tmp_path / "transactions.parquet")
    assert cu["customer_id"].to_list() == [f"C{i:06d}" for i in range(1, 401)]
    orders = tx.filter(pl.col("status") == "completed")["order_id"].unique(maintain_order=True)
    assert orders.to_list() == [f"O{i:09d}" for i in range(1, orders.len() + 1)]
    assert tx.height == truth.rows["transactions"]
    ref = cu.filter(pl.col("referred_by").is_not_null())
    assert ref.height > 0
    assert ref["referred_by"].is_in(cu["customer_id"].implode()).all()


@pytest.mark.parametrize("kind", KIND_FILES)
def test_every_kind_loads_with_no_options(data: tuple[Path, Truth], kind: str) -> None:
    out, truth = data
    csv = scan_table(out / f"{kind}.csv", kind)
    parquet = scan_table(out / f"{kind}.parquet", kind)
    csv.check()
    # Every canonical field is written and found (surveys are wide: no type/score; margin, not cost).
    skip = {"surveys": {"type", "score"}, "transactions": {"cost"}}.get(kind, set())
    assert csv.mapping == {f.name: f.name for f in FIELDS[kind] if f.name not in skip}
    from_csv, from_parquet = csv.lf.collect(), parquet.lf.collect()
    assert from_csv.height == truth.rows[kind]
    assert_frame_equal(from_csv, from_parquet)


def test_french_export_loads_like_the_canonical_csv(data: tuple[Path, Truth]) -> None:
    out, _ = data
    fr = scan_table(out / FR_EXPORT, "transactions")
    assert fr.mapping["customer_id"] == "N° client"
    assert fr.mapping["amount"] == "Montant TTC"
    assert fr.mapping["date"] == "Date d'achat"
    assert fr.mapping["order_id"] == "N° commande"
    assert fr.mapping["category"] == "Catégorie"
    fr.check()
    got = fr.lf.collect()
    expected = scan_table(out / "transactions.csv", "transactions").lf.collect().with_columns(
        pl.col("channel").replace_strict(FRENCH_CHANNEL), pl.col("status").replace_strict(FRENCH_STATUS)
    )
    assert_frame_equal(got, expected)


def test_french_export_bytes_are_as_a_back_office_writes_them(data: tuple[Path, Truth]) -> None:
    raw = (data[0] / FR_EXPORT).read_bytes()
    header = "N° client;N° commande;Date d'achat;Réf. produit;Catégorie;Canal;Magasin;Quantité;Prix unitaire;Remise;Montant TTC;Marge;Statut"
    assert raw.startswith(header.encode("cp1252") + b"\r\n")
    assert raw.count(b"\r\n") == raw.count(b"\n")  # every line ends with CRLF
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # Windows-1252, not UTF-8
    text = raw.decode("cp1252")
    first = text.split("\r\n")[1].split(";")
    assert first[2].count("/") == 2 and len(first[2]) == 10  # dd/mm/yyyy
    assert "\u00a0" in text  # thousands separated by a non-breaking space somewhere


def test_euros_are_written_the_french_way() -> None:
    df = pl.DataFrame({"x": [1234.56, -12.5, 0.07, 1234567.0, 999.99]})
    got = df.select(euros("x").alias("x"))["x"].to_list()
    assert got == ["1\u00a0234,56 €", "-12,50 €", "0,07 €", "1\u00a0234\u00a0567,00 €", "999,99 €"]


def test_transaction_lines_add_up(data: tuple[Path, Truth]) -> None:
    tx = _read(data, "transactions")
    # amount = quantity x unit price - discount, to the cent, on every line (returns negated).
    gap = (pl.col("quantity") * pl.col("unit_price") - pl.col("discount") - pl.col("amount")).abs()
    assert tx.select(gap.max()).item() < 0.005
    assert tx["customer_id"].str.contains(r"^C\d{6}$").all()
    assert not tx["order_id"].str.contains(r"^[Cc]\d").any()  # not Online-Retail cancellations
    assert tx.filter(pl.col("amount") < 0)["status"].unique().to_list() == ["returned"]
    # A product appears once per order (purchase lines).
    assert tx.filter(pl.col("status") == "completed").select(pl.struct("order_id", "product_id").is_unique().all()).item()
    # Returns: a share line_return_rate of purchase lines (minus those falling after the window end).
    n_buy = tx.filter(pl.col("status") == "completed").height
    n_back = tx.filter(pl.col("status") == "returned").height
    rate = data[1].returns.line_return_rate
    assert abs(n_back / n_buy - rate) < 4 * math.sqrt(rate * (1 - rate) / n_buy)
    assert tx["date"].max() <= END and tx["date"].min() >= dt.date(2023, 1, 1)
    # About 10 order lines per customer (the scale the bench relies on).
    assert 9 < tx.height / N < 12


def test_order_values_follow_gamma_gamma(data: tuple[Path, Truth]) -> None:
    _, truth = data
    cu = _read(data, "customers")
    first = _orders(_read(data, "transactions")).sort("date", "order_id").group_by("customer_id").first()
    first = first.join(cu.select("customer_id", "loyalty_member", "enrollment_date"), on="customer_id")
    # One order per customer keeps the values independent: E = p * gamma / (q - 1) = 4 * 40 / 2 = 80,
    # over every customer once the uplift of members enrolled at that order is divided back out
    # (members self-select on basket size, `LoyaltyTruth.selection`, so non-members alone are below 80).
    at_first = pl.col("loyalty_member") & (pl.col("enrollment_date") == pl.col("date"))
    drawn = first.select(pl.when(at_first).then(pl.col("value") / truth.loyalty.spend_uplift).otherwise("value"))["value"]
    assert truth.spend.mean_order_value() == 80.0
    assert abs(drawn.mean() - 80.0) < 4 * drawn.std() / math.sqrt(drawn.len())
    # Members enrolled at their first purchase spend spend_uplift (1.15) times more on it than members
    # enrolled later (same selection, their first order not yet uplifted).
    members = first.filter(at_first)["value"]
    later = first.filter(pl.col("loyalty_member"), pl.col("enrollment_date") > pl.col("date"))["value"]
    ratio = members.mean() / later.mean()
    ratio_se = ratio * math.sqrt((members.std() / members.mean()) ** 2 / members.len() + (later.std() / later.mean()) ** 2 / later.len())
    assert abs(ratio - truth.loyalty.spend_uplift) < 4 * ratio_se
    # Self-selection: non-members' first orders are smaller than the later-enrolled members' ones.
    plain = first.filter(~pl.col("loyalty_member"))["value"]
    assert later.mean() > plain.mean() + 4 * math.sqrt(later.var() / later.len() + plain.var() / plain.len())


def test_purchases_recover_the_bgnbd_parameters(data: tuple[Path, Truth]) -> None:
    _, truth = data
    cu = _read(data, "customers")
    # Non-referred customers only: referred ones buy referred_rate_multiplier times more often.
    s = (
        _orders(_read(data, "transactions"))
        .group_by("customer_id")
        .agg(x=pl.len() - 1, first=pl.col("date").min(), last=pl.col("date").max())
        .join(cu.filter(pl.col("referred_by").is_null()).select("customer_id"), on="customer_id")
        .select(
            "x",
            t_x=(pl.col("last") - pl.col("first")).dt.total_days() / 7,
            T=(pl.lit(END + dt.timedelta(days=1)) - pl.col("first")).dt.total_days() / 7,
        )
    )
    model = BGNBD().fit(s["x"].to_numpy(), s["t_x"].to_numpy(), s["T"].to_numpy())
    for name in ("r", "alpha", "a", "b"):
        assert abs(model.params_[name] - getattr(truth.purchases, name)) < 3 * model.std_errors_[name], name


def test_referrals_point_back_and_buy_more(data: tuple[Path, Truth]) -> None:
    cu = _read(data, "customers")
    ref = cu.filter(pl.col("referred_by").is_not_null())
    assert ref["acquisition_channel"].unique().to_list() == ["referral"]
    # The referrer was a customer before: acquired on an earlier day (ids ascend with acquisition).
    assert (ref["referred_by"].str.slice(1).cast(pl.Int64) < ref["customer_id"].str.slice(1).cast(pl.Int64)).all()
    # Referred customers buy more often: orders per week of tenure, referred vs other.
    rate = (
        _orders(_read(data, "transactions")).group_by("customer_id")
        .agg(n=pl.len(), first=pl.col("date").min())
        .join(cu.select("customer_id", referred=pl.col("referred_by").is_not_null()), on="customer_id")
        .group_by("referred")
        .agg(rate=pl.col("n").sum() / ((pl.lit(END) - pl.col("first")).dt.total_days() + 1).sum())
        .sort("referred")
    )["rate"].to_list()
    assert rate[1] > rate[0]


def test_basket_lift_matches_the_truth(data: tuple[Path, Truth]) -> None:
    _, truth = data
    tx = _read(data, "transactions").filter(pl.col("status") == "completed")
    baskets = tx.group_by("order_id").agg(
        a=(pl.col("category") == "Épicerie").any(), b=(pl.col("category") == "Boissons").any()
    )
    n = baskets.height
    p_a, p_b, p_ab = baskets["a"].mean(), baskets["b"].mean(), (baskets["a"] & baskets["b"]).mean()
    lift = p_ab / (p_a * p_b)
    se = lift * math.sqrt((1 - p_ab) / (n * p_ab))  # dominated by the joint frequency
    assert abs(lift - truth.basket.pair_lift["Épicerie|Boissons"]) < 4 * se
    assert truth.basket.pair_lift["Épicerie|Boissons"] > 1.2


def test_ab_test_lift_within_its_confidence_interval(data: tuple[Path, Truth]) -> None:
    _, truth = data
    c = _read(data, "campaigns")
    rates = c.group_by("variant").agg(n=pl.len(), conv=pl.col("converted").mean()).sort("variant")
    (n_a, p_a), (n_b, p_b) = [(r["n"], r["conv"]) for r in rates.filter(pl.col("variant").is_in(["A", "B"])).to_dicts()]
    lift = p_b - p_a
    half = 1.96 * math.sqrt(p_a * (1 - p_a) / n_a + p_b * (1 - p_b) / n_b)
    assert truth.campaign.lift("B", "A") == pytest.approx(0.03)
    assert lift > 0
    assert lift - half < 0.03 < lift + half
    # Only mailed variants are delivered; the control group costs nothing.
    control = c.filter(pl.col("variant") == "control")
    assert not control["delivered"].any() and control["cost"].sum() == 0


def test_subscriptions_follow_the_sbg_survival_curve(data: tuple[Path, Truth]) -> None:
    _, truth = data
    subs = _read(data, "subscriptions")
    t = np.arange(1, 13)
    got, tol = [], []
    for months in t:
        horizon = pl.col("start_date").dt.offset_by(f"{months}mo")
        seen = subs.filter(horizon <= END)  # fully observed for `months` months
        alive = (pl.col("end_date").is_null() | (pl.col("end_date") > horizon)).mean()
        s = seen.select(alive).item()
        got.append(s)
        tol.append(4 * math.sqrt(s * (1 - s) / seen.height))
    expected = truth.subscriptions.survival(t)
    # S(1) = beta / (alpha + beta) = 3.8 / 4.5 = 0.844
    assert expected[0] == pytest.approx(3.8 / 4.5)
    assert np.all(np.abs(np.array(got) - expected) < np.array(tol))


def test_surveys_are_lower_among_lapsed_customers(data: tuple[Path, Truth]) -> None:
    # Dropped-out customers answer with NPS around 5.5 instead of 8: those without a purchase in the
    # last 180 days (mostly dropped out) must score lower on average than recent buyers.
    last = _orders(_read(data, "transactions")).group_by("customer_id").agg(last=pl.col("date").max())
    sv = _read(data, "surveys").join(last, on="customer_id")
    lapsed = pl.col("last") < pl.lit(END - dt.timedelta(days=180))
    g = sv.group_by(lapsed.alias("lapsed")).agg(pl.col("nps").mean().alias("mean"), (pl.col("nps").var() / pl.len()).alias("var"))
    (recent, var_r), (old, var_o) = g.sort("lapsed").select("mean", "var").rows()
    assert recent - old > 4 * math.sqrt(var_r + var_o)
    assert sv["nps"].is_between(0, 10).all() and sv["csat"].is_between(1, 5).all() and sv["ces"].is_between(1, 7).all()


def test_touchpoints_follow_the_journey(data: tuple[Path, Truth]) -> None:
    tp = _read(data, "touchpoints")
    order = {"awareness": 0, "consideration": 1, "purchase": 2}
    early = tp.filter(pl.col("stage").is_in(list(order))).with_columns(step=pl.col("stage").replace_strict(order))
    # Within each customer, the first three stages come in journey order.
    assert early.group_by("customer_id").agg(ok=pl.col("step").sort_by("timestamp").diff().drop_nulls().min() > 0)["ok"].all()
    assert set(tp["stage"].unique()) == {"awareness", "consideration", "purchase", "service", "loyalty", "cart"}


def test_spend_matches_acquisition_cost(data: tuple[Path, Truth]) -> None:
    _, truth = data
    spend = _read(data, "spend").group_by("channel").agg(pl.col("spend").sum())
    acquired = _orders(_read(data, "transactions")).group_by("customer_id").agg(pl.col("date").min()).join(
        _read(data, "customers").select("customer_id", channel="acquisition_channel"), on="customer_id"
    ).group_by("channel").len()
    cac = spend.join(acquired, on="channel").select("channel", cac=pl.col("spend") / pl.col("len"))
    # Spend = customers x CAC x LogNormal(0, 0.15): on average CAC x exp(0.15^2 / 2) = CAC x 1.011.
    for row in cac.to_dicts():
        assert row["cac"] == pytest.approx(truth.acquisition.cac[row["channel"]] * math.exp(0.15**2 / 2), rel=0.1)


def test_truth_json_round_trips(data: tuple[Path, Truth]) -> None:
    out, truth = data
    again = Truth.model_validate(json.loads((out / "truth.json").read_text(encoding="utf-8")))
    assert again == truth
    assert again.rows["customers"] == N and again.files["transactions"] == ["transactions.csv", "transactions.parquet"]


def test_cli_writes_the_directory_and_a_summary(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    args = ["sample", "-o", str(out), "--customers", "200", "--seed", "3", "--format", "csv"]
    refused = CliRunner().invoke(app, args)  # a non-empty directory is replaced only with --force
    assert refused.exit_code == 2 and (out / "stale.txt").exists(), refused.output
    result = CliRunner().invoke(app, [*args, "--force"])
    assert result.exit_code == 0, result.output
    truth = json.loads((out / "truth.json").read_text(encoding="utf-8"))
    lines = result.stdout.splitlines()
    assert lines[0] == "table,rows,files"
    assert lines[2] == "customers,200,customers.csv"
    assert lines[1] == f"transactions,{truth['rows']['transactions']},transactions.csv"
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{k}.csv" for k in KIND_FILES] + ["truth.json"])


def test_atomic_outputs_get_the_usual_permissions(tmp_path: Path) -> None:
    # Regression: atomic_dir/atomic_path left the output directory 0700 and truth.json 0600 (mkdtemp/mkstemp).
    mask = os.umask(0o022)
    try:
        result = CliRunner().invoke(app, ["sample", "-o", str(tmp_path / "p"), "--customers", "20", "--format", "csv"])
    finally:
        os.umask(mask)
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "p").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "p" / "truth.json").stat().st_mode) == 0o644


def test_cli_refuses_zero_customers(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["sample", "-o", str(tmp_path / "x"), "--customers", "0"])
    assert result.exit_code == 2
    assert not (tmp_path / "x").exists()


def test_library_refuses_a_short_window(tmp_path: Path) -> None:
    from fidelcli.errors import InputError

    with pytest.raises(InputError, match="too short"):
        generate(tmp_path, customers=10, start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31))


def test_cli_reports_a_short_window_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["sample", "-o", str(tmp_path / "w"), "--customers", "10", "--start", "2025-01-01", "--end", "2025-01-31"]
    )
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-2:] == [
        "error: the window 2025-01-01 to 2025-01-31 is too short",
        "hint: give at least a few months",
    ]
    assert not (tmp_path / "w").exists()
