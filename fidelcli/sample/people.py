"""Customers: acquisition dates and channels for the whole base, then profile fields chunk by chunk."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from fidelcli.sample.truth import Truth

FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Jade", "Louise", "Zoé", "Julie", "Anaïs", "Clara",
    "Lucas", "Hugo", "Thomas", "Nathan", "Louis", "Théo", "Maxime", "Antoine", "Gabriel", "Arthur", "Jules", "Mathis",
    "Nicolas", "Julien", "Pierre", "Marie", "Sophie", "Isabelle", "Nathalie", "Céline", "Laurent", "Éric", "François",
)
LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
    "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel", "Girard",
    "André", "Lefebvre", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Garnier",
)
DOMAINS = ("example.com", "example.org", "example.net", "exemple.fr")
COUNTRIES = {"FR": 0.72, "BE": 0.1, "CH": 0.06, "LU": 0.03, "DE": 0.03, "ES": 0.03, "IT": 0.03}


def customer_ids(index: np.ndarray, width: int) -> pl.Series:
    """Ids as text with leading zeros: 123 -> "C000123" (width digits)."""
    return pl.Series("customer_id", index + 1).cast(pl.String).str.zfill(width).str.pad_start(width + 1, "C")


@dataclass
class Base:
    """The whole customer base's acquisition, generated once (a few arrays of one value per customer)."""

    day: np.ndarray  # acquisition day, offset from Truth.start, ascending with the customer index
    channel: np.ndarray  # index into AcquisitionTruth.channel_shares
    referrer: np.ndarray  # index of the referring customer, -1 when none


def acquisition(truth: Truth, rng: np.random.Generator) -> Base:
    """Acquisition days uniform over the window (ids ascend with the date); channels; referrers.

    A referral customer's referrer is drawn uniformly among customers acquired on an earlier day; the
    first day's referral customers (nobody to refer them) become organic.
    """
    n = truth.customers
    days = (truth.end - truth.start).days + 1
    day = np.sort(rng.integers(0, days, n))
    shares = truth.acquisition.channel_shares
    names = list(shares)
    p = np.array(list(shares.values()))
    channel = rng.choice(len(names), size=n, p=p / p.sum())
    earlier = np.searchsorted(day, day, side="left")  # customers acquired strictly before
    referral = (channel == names.index(truth.referrals.channel)) & (earlier > 0)
    channel[(channel == names.index(truth.referrals.channel)) & ~referral] = names.index("organic")
    referrer = np.where(referral, np.floor(rng.random(n) * earlier).astype(np.int64), -1)
    return Base(day=day, channel=channel, referrer=referrer)


def _pick(rng: np.random.Generator, options: tuple[str, ...] | list[str], n: int, p: np.ndarray | None = None) -> pl.Series:
    idx = rng.choice(len(options), size=n, p=p)
    return pl.Series(list(options), dtype=pl.String).gather(idx)


def customers_chunk(
    truth: Truth, base: Base, lo: int, hi: int, *, member: np.ndarray, enroll_day: np.ndarray, tier: np.ndarray,
    rng: np.random.Generator, width: int,
) -> pl.DataFrame:
    """The customers table for customers lo..hi-1 (profile, consent, loyalty and referral fields)."""
    n = hi - lo
    idx = np.arange(lo, hi)
    start = pl.lit(truth.start)
    acq = base.day[lo:hi]
    # Some customers sign up a few days before their first purchase.
    signup = acq - np.where(rng.random(n) < 0.3, rng.integers(1, 30, n), 0)
    age_days = rng.integers(18 * 365, 80 * 365, n)
    first = _pick(rng, FIRST_NAMES, n)
    last = _pick(rng, LAST_NAMES, n)
    suffix = pl.Series(rng.integers(1, 999, n)).cast(pl.String)
    domain = _pick(rng, DOMAINS, n)
    phone = pl.Series(rng.integers(0, 10**8, n)).cast(pl.String).str.zfill(8)
    mobile = pl.Series(np.where(rng.random(n) < 0.8, "6", "7"))
    countries = list(COUNTRIES)
    cp = np.array(list(COUNTRIES.values()))
    channels = list(truth.acquisition.channel_shares)
    tiers = list(truth.loyalty.tiers)
    ref = base.referrer[lo:hi]
    df = pl.DataFrame(
        {
            "customer_id": customer_ids(idx, width),
            "first": first, "last": last, "suffix": suffix, "domain": domain, "phone8": phone, "mobile": mobile,
            "signup": signup, "age": age_days, "acq": acq, "member": member, "enroll": enroll_day,
            "tier_i": tier, "ref": ref,
        }
    )
    # Emails are lowercase ASCII: accents removed from the names.
    ascii_name = (pl.col("first") + "." + pl.col("last")).str.to_lowercase().str.normalize("NFKD").str.replace_all(r"[^a-z.]", "")
    phone_fmt = pl.concat_str([pl.lit("+33 "), pl.col("mobile"), *[
        pl.concat_str([pl.lit(" "), pl.col("phone8").str.slice(i, 2)]) for i in range(0, 8, 2)
    ]])
    day_offset = pl.duration(days=pl.col("signup"))
    return df.select(
        "customer_id",
        (pl.col("first") + " " + pl.col("last")).alias("name"),
        (ascii_name + pl.col("suffix") + "@" + pl.col("domain")).alias("email"),
        phone_fmt.alias("phone"),
        (start + pl.duration(days=pl.col("acq") - pl.col("age"))).alias("birth_date"),
        (start + day_offset).alias("signup_date"),
        pl.Series("acquisition_channel", channels, dtype=pl.String).gather(base.channel[lo:hi]),
        pl.when(pl.col("ref") >= 0).then(
            pl.col("ref").cast(pl.Int64).add(1).cast(pl.String).str.zfill(width).str.pad_start(width + 1, "C")
        ).alias("referred_by"),
        _pick(rng, countries, n, cp / cp.sum()).alias("country"),
        pl.col("member").alias("loyalty_member"),
        pl.when(pl.col("member")).then(start + pl.duration(days=pl.col("enroll"))).alias("enrollment_date"),
        pl.when(pl.col("member")).then(pl.Series(tiers, dtype=pl.String).gather(np.clip(tier, 0, len(tiers) - 1)))
        .alias("tier"),
        pl.Series(rng.random(n) < 0.6).alias("email_opt_in"),
        pl.Series(rng.random(n) < 0.3).alias("sms_opt_in"),
    ).with_columns(pl.col("birth_date", "signup_date", "enrollment_date").cast(pl.Date))


def to_date(truth: Truth, day: np.ndarray, name: str = "date") -> pl.Series:
    """Day offsets from the window start as a Date series."""
    return pl.Series(name, np.datetime64(truth.start, "D") + day.astype("timedelta64[D]")).cast(pl.Date)
