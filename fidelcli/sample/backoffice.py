"""Transactions as a French back-office exports them: `;`, `1 234,56 €`, `dd/mm/yyyy`, Windows-1252, CRLF."""

from __future__ import annotations

import polars as pl

NBSP = "\u00a0"

# Canonical field -> French column name, in the export's column order.
FRENCH_COLUMNS: dict[str, str] = {
    "customer_id": "N° client",
    "order_id": "N° commande",
    "date": "Date d'achat",
    "product_id": "Réf. produit",
    "category": "Catégorie",
    "channel": "Canal",
    "store": "Magasin",
    "quantity": "Quantité",
    "unit_price": "Prix unitaire",
    "discount": "Remise",
    "amount": "Montant TTC",
    "margin": "Marge",
    "status": "Statut",
}
FRENCH_STATUS = {"completed": "Validée", "returned": "Retournée"}
FRENCH_CHANNEL = {"web": "Site web", "store": "Magasin", "app": "Application"}


def euros(column: str) -> pl.Expr:
    """`-1234.5` -> `-1 234,50 €` (non-breaking space between thousands, decimal comma)."""
    cents = (pl.col(column) * 100).round(0).cast(pl.Int64)
    whole = cents.abs() // 100
    frac = (cents.abs() % 100).cast(pl.String).str.zfill(2)
    millions, thousands, units = whole // 1_000_000, (whole // 1000) % 1000, whole % 1000
    grouped = (
        pl.when(whole >= 1_000_000)
        .then(pl.format("{}{}{}{}{}", millions, pl.lit(NBSP), thousands.cast(pl.String).str.zfill(3), pl.lit(NBSP),
                        units.cast(pl.String).str.zfill(3)))
        .when(whole >= 1000)
        .then(pl.format("{}{}{}", thousands, pl.lit(NBSP), units.cast(pl.String).str.zfill(3)))
        .otherwise(units.cast(pl.String))
    )
    sign = pl.when(cents < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    return pl.concat_str([sign, grouped, pl.lit(","), frac, pl.lit(" €")])


def french_export(transactions: pl.DataFrame, *, header: bool = True) -> bytes:
    """The transactions as the bytes of a French back-office CSV export (Windows-1252, CRLF)."""
    df = transactions.select(
        pl.col("customer_id"),
        pl.col("order_id"),
        pl.col("date").dt.strftime("%d/%m/%Y"),
        pl.col("product_id"),
        pl.col("category"),
        pl.col("channel").replace_strict(FRENCH_CHANNEL, return_dtype=pl.String),
        pl.col("store"),
        pl.col("quantity").cast(pl.String),
        euros("unit_price").alias("unit_price"),
        euros("discount").alias("discount"),
        euros("amount").alias("amount"),
        euros("margin").alias("margin"),
        pl.col("status").replace_strict(FRENCH_STATUS, return_dtype=pl.String),
    ).rename(FRENCH_COLUMNS)
    text = df.write_csv(separator=";", line_terminator="\r\n", include_header=header)
    return text.encode("cp1252")
