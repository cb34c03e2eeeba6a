"""The generating parameters of a sample dataset (`truth.json`), with the quantities they imply.

Every section names the process it drives and keeps the literature's parameter names, so a model
fitted on the sample can be compared with the value that generated it.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field
from scipy.special import betaln, gammaincc

CATEGORIES: tuple[str, ...] = (
    "Épicerie", "Boissons", "Crèmerie", "Boulangerie", "Hygiène", "Beauté", "Maison", "Jardin", "Textile", "Chaussures",
)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PurchaseTruth(_Model):
    """BG/NBD (Fader, Hardie & Lee 2005): while alive, repeat purchases follow a Poisson process of rate
    lambda ~ Gamma(r, alpha) per `time_unit`; after each repeat purchase the customer drops out with
    probability p ~ Beta(a, b). The first purchase is the acquisition date."""

    time_unit: Literal["week"] = "week"
    r: float = 0.85
    alpha: float = 9.0
    a: float = 0.9
    b: float = 5.5
    referred_rate_multiplier: float = Field(default=1.3, description="lambda of referred customers is multiplied by this")

    def mean_rate(self) -> float:
        """Mean purchase rate per `time_unit`, r / alpha (before the referral multiplier)."""
        return self.r / self.alpha


class SpendTruth(_Model):
    """Gamma-gamma (Fader, Hardie & Lee 2005b; Colombo & Jiang 1999): each order's value is
    Gamma(p, rate nu) with nu ~ Gamma(q, rate gamma) per customer (`gamma` is `v` in
    fidelcli.models.gamma_gamma). Loyalty members' orders on or after enrollment are multiplied by
    `LoyaltyTruth.spend_uplift`."""

    p: float = 4.0
    q: float = 3.0
    gamma: float = 40.0
    currency: str = "EUR"

    def mean_order_value(self) -> float:
        """E[order value] = p * gamma / (q - 1) for a non-member."""
        return self.p * self.gamma / (self.q - 1.0)


class BasketTruth(_Model):
    """Order lines: 1 + Poisson(extra_lines_mean) lines per order. The first line's category follows
    `category_weights`; each further line comes from the first line's partner category (`pairs`) with
    probability `partner_prob`, else from `category_weights`. Products within a category follow a Zipf
    law; `pair_lift` is the implied lift P(A and B) / (P(A) P(B)) over orders.

    Customer taste: each customer has a favourite category, drawn from `category_weights`; an
    order's first line comes from it with probability `favourite_prob` (else from the weights). The
    first line's category keeps the distribution `category_weights`, so `pair_lift` is unchanged,
    but a customer's past categories predict her next ones (what `recommend customers` can learn
    and a popularity list cannot)."""

    n_products: int = 200
    extra_lines_mean: float = 1.0
    partner_prob: float = 0.4
    category_weights: dict[str, float] = Field(default_factory=lambda: dict(zip(
        CATEGORIES, (0.2, 0.14, 0.12, 0.1, 0.1, 0.08, 0.08, 0.06, 0.07, 0.05), strict=True)))
    pairs: list[tuple[str, str]] = Field(default_factory=lambda: [
        ("Épicerie", "Boissons"), ("Crèmerie", "Boulangerie"), ("Hygiène", "Beauté"), ("Maison", "Jardin"),
        ("Textile", "Chaussures"),
    ])
    margin_rate: dict[str, float] = Field(default_factory=lambda: dict(zip(
        CATEGORIES, (0.22, 0.28, 0.2, 0.35, 0.3, 0.45, 0.38, 0.33, 0.5, 0.42), strict=True)))
    median_price: dict[str, float] = Field(default_factory=lambda: dict(zip(
        CATEGORIES, (12.0, 15.0, 8.0, 6.0, 12.0, 35.0, 45.0, 50.0, 40.0, 75.0), strict=True)))
    discount_share: float = Field(default=0.15, description="share of lines sold at 10 % or 20 % off")
    pair_lift: dict[str, float] = Field(default_factory=dict, description='"A|B" -> lift over orders')
    favourite_prob: float = Field(default=0.8, ge=0, le=1, description="P(an order's first line is from the customer's favourite category)")

    def partner_index(self) -> np.ndarray:
        """partner[i] = index of category i's partner (itself when it has none)."""
        names = list(self.category_weights)
        partner = np.arange(len(names))
        for x, y in self.pairs:
            partner[names.index(x)], partner[names.index(y)] = names.index(y), names.index(x)
        return partner

    def implied_lift(self) -> dict[str, float]:
        """Exact lift of each pair over orders, summing over basket sizes up to a negligible tail."""
        w = np.array(list(self.category_weights.values()))
        w = w / w.sum()
        k = len(w)
        partner = self.partner_index()
        # q[c, j]: probability that a further line is category j when the first line is c.
        q = (1 - self.partner_prob) * np.tile(w, (k, 1))
        q[np.arange(k), partner] += self.partner_prob
        n = np.arange(0, 40)  # further lines
        pn = np.exp(-self.extra_lines_mean) * self.extra_lines_mean ** n / np.cumprod(np.r_[1, n[1:]])
        names = list(self.category_weights)
        out: dict[str, float] = {}
        for x, y in self.pairs:
            i, j = names.index(x), names.index(y)
            first = np.arange(k)
            no_i = (first != i)[:, None] * (1 - q[:, i])[:, None] ** n
            no_j = (first != j)[:, None] * (1 - q[:, j])[:, None] ** n
            none = ((first != i) & (first != j))[:, None] * (1 - q[:, i] - q[:, j])[:, None] ** n
            p_i = w @ (1 - no_i) @ pn
            p_j = w @ (1 - no_j) @ pn
            p_ij = w @ (1 - no_i - no_j + none) @ pn
            out[f"{x}|{y}"] = round(float(p_ij / (p_i * p_j)), 4)
        return out


class ReturnsTruth(_Model):
    """A share of order lines is returned 1 to `max_delay_days` days later: a line with the same order
    id, negative quantity, amount, discount and margin, and status "returned"."""

    line_return_rate: float = 0.03
    max_delay_days: int = 30


class LoyaltyTruth(_Model):
    """Members enroll at their first purchase (`enrolled_at_first_purchase`) or uniformly within the
    following `enroll_within_days`; their orders from enrollment on are worth `spend_uplift` times more.

    Self-selection: customers with bigger baskets join more often. A customer joins with probability
    member_rate x (1 + selection x (2u - 1)), u = P(Gamma(q, rate gamma) > nu) the rank of their
    gamma-gamma rate nu (u near 1: the biggest baskets). u is uniform, so the share of members stays
    `member_rate`; with selection = 0.6 the probability runs from 0.14 to 0.56. A naive member vs
    non-member comparison therefore overstates the uplift; `roi program` must not."""

    member_rate: float = 0.35
    spend_uplift: float = 1.15
    selection: float = Field(default=0.6, ge=0, le=1, description="strength of self-selection on basket size (0: members at random)")
    enrolled_at_first_purchase: float = 0.5
    enroll_within_days: int = 365
    tiers: dict[str, float] = Field(default_factory=lambda: {"bronze": 0.6, "silver": 0.3, "gold": 0.1},
                                    description="share of members per tier, by purchase rate (gold = highest)")

    def member_probability(self, nu: np.ndarray, spend: SpendTruth) -> np.ndarray:
        """P(member) of customers of gamma-gamma rate `nu` (see the class docstring)."""
        u = gammaincc(spend.q, spend.gamma * np.asarray(nu, float))  # P(Gamma(q, rate gamma) > nu)
        probability: np.ndarray = self.member_rate * (1.0 + self.selection * (2.0 * u - 1.0))
        return probability


class AcquisitionTruth(_Model):
    """Acquisition dates are uniform over the window; channel shares; cost per acquired customer (CAC)
    per channel, so that monthly spend = new customers x CAC x LogNormal(0, spend_noise)."""

    channel_shares: dict[str, float] = Field(default_factory=lambda: {
        "search": 0.3, "social": 0.2, "display": 0.1, "email": 0.1, "referral": 0.12, "organic": 0.18})
    cac: dict[str, float] = Field(default_factory=lambda: {
        "search": 35.0, "social": 28.0, "display": 45.0, "email": 12.0, "referral": 20.0})
    spend_noise: float = 0.15


class SurveyTruth(_Model):
    """A share of customers answers one survey a few days after their last purchase. NPS =
    clip(round(Normal(mu, sd)), 0, 10) with mu = `nps_mu_churned` for customers who dropped out
    (BG/NBD) and `nps_mu_active` otherwise; CSAT and CES follow NPS with noise."""

    response_rate: float = 0.3
    nps_mu_active: float = 8.0
    nps_mu_churned: float = 5.5
    nps_sd: float = 1.8


class CampaignTruth(_Model):
    """One A/B test: eligible customers (acquired before `sent_at`) are targeted with probability
    `target_share` and split into variants; conversion is Bernoulli(conversion_rate[variant])."""

    campaign_id: str = "CAMP-AB-01"
    sent_at: dt.date = dt.date(2025, 6, 2)
    target_share: float = 0.6
    variant_shares: dict[str, float] = Field(default_factory=lambda: {"A": 0.4, "B": 0.4, "control": 0.2})
    conversion_rate: dict[str, float] = Field(default_factory=lambda: {"A": 0.06, "B": 0.09, "control": 0.03})
    delivery_rate: float = 0.97
    open_rate: dict[str, float] = Field(default_factory=lambda: {"A": 0.25, "B": 0.3})
    click_rate: float = Field(default=0.2, description="clicks among opens")
    cost_per_message: float = 0.05

    def lift(self, variant: str = "B", reference: str = "A") -> float:
        """Absolute conversion lift of `variant` over `reference`."""
        return self.conversion_rate[variant] - self.conversion_rate[reference]


class SubscriptionTruth(_Model):
    """sBG (Fader & Hardie 2007): a share of customers subscribes; at the end of each month an active
    subscriber churns with probability theta ~ Beta(alpha, beta). end_date is empty while active."""

    share: float = 0.3
    period: Literal["month"] = "month"
    alpha: float = 0.7
    beta: float = 3.8
    plans: dict[str, float] = Field(default_factory=lambda: {"basic": 9.9, "premium": 19.9})
    plan_shares: dict[str, float] = Field(default_factory=lambda: {"basic": 0.7, "premium": 0.3})

    def survival(self, t: np.ndarray) -> np.ndarray:
        """S(t) = B(alpha, beta + t) / B(alpha, beta): share still subscribed after t months."""
        survival: np.ndarray = np.exp(betaln(self.alpha, self.beta + np.asarray(t, float)) - betaln(self.alpha, self.beta))
        return survival


class TouchpointTruth(_Model):
    """A share of customers has a recorded journey: awareness, consideration, purchase (first order),
    service (for `service_share` of them) and loyalty (members, at enrollment). Service satisfaction
    (1-5) has mean `service_satisfaction_active` or `service_satisfaction_churned`. A further
    `cart_share` of them put something in a cart (stage "cart") on a day drawn uniformly among the
    last `cart_days` days of the window (not before their acquisition), whatever they buy later:
    recent carts, some abandoned, for `target`'s abandoned-cart scenario."""

    share: float = 0.5
    service_share: float = 0.3
    service_satisfaction_active: float = 3.9
    service_satisfaction_churned: float = 2.4
    cart_share: float = 0.2
    cart_days: int = 60


class ReferralTruth(_Model):
    """Customers acquired through the "referral" channel have `referred_by` set to a customer acquired
    earlier; their purchase rate is `PurchaseTruth.referred_rate_multiplier` times higher."""

    channel: str = "referral"


class Truth(_Model):
    """Everything that generated a sample dataset, written to `truth.json` beside it."""

    seed: int
    customers: int
    start: dt.date
    end: dt.date
    chunk_size: int
    purchases: PurchaseTruth = Field(default_factory=PurchaseTruth)
    spend: SpendTruth = Field(default_factory=SpendTruth)
    basket: BasketTruth = Field(default_factory=BasketTruth)
    returns: ReturnsTruth = Field(default_factory=ReturnsTruth)
    loyalty: LoyaltyTruth = Field(default_factory=LoyaltyTruth)
    acquisition: AcquisitionTruth = Field(default_factory=AcquisitionTruth)
    referrals: ReferralTruth = Field(default_factory=ReferralTruth)
    surveys: SurveyTruth = Field(default_factory=SurveyTruth)
    campaign: CampaignTruth = Field(default_factory=CampaignTruth)
    subscriptions: SubscriptionTruth = Field(default_factory=SubscriptionTruth)
    touchpoints: TouchpointTruth = Field(default_factory=TouchpointTruth)
    files: dict[str, list[str]] = Field(default_factory=dict, description="kind -> files written")
    rows: dict[str, int] = Field(default_factory=dict, description="kind -> rows written")

    def files_table(self) -> pl.DataFrame:
        """One row per table written: table, rows, files (the file names, comma-separated)."""
        return pl.DataFrame({"table": list(self.rows), "rows": list(self.rows.values()),
                             "files": [", ".join(self.files[k]) for k in self.rows]},
                            schema={"table": pl.String, "rows": pl.Int64, "files": pl.String})
