"""The French report: the data-quality messages come from the French catalogue (`fidelcli.validate.messages`),
keyed by check id, and no English check message is left in the page of the French back-office sample."""

from __future__ import annotations

import datetime as dt
import html
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from fidelcli.io.read import scan_table
from fidelcli.validate import validate
from fidelcli.validate.findings import CODES
from fidelcli.validate.messages import FR, findings_frame

ROOT = Path(__file__).parents[2]
# Words of the English check messages (fidelcli/validate/checks.py, findings.py): none may reach the French page.
ENGLISH = ["is empty on", " row", "rows", "negative amount", "return or cancellation", "amount of zero", "exact repeat", "on or after",
           "date before", "far above", "outside", "personal data", "values are never shown", "pseudonymize", "no customer id",
           "not a valid", "customer id absent", "cannot read", "every row", "error", "warning"]


def test_every_check_has_a_french_message() -> None:
    assert set(CODES) <= set(FR)


def test_french_messages_of_a_file_with_problems(tmp_path: Path) -> None:
    # 5 rows: row 2 repeats row 1, row 3 is a return (-5), row 4 has amount 0, row 5 is dated after the analysis date;
    # the store is empty on rows 3 and 4.
    source = tmp_path / "t.csv"
    source.write_text("customer_id,date,amount,store\nA,2025-01-02,10,S1\nA,2025-01-02,10,S1\nB,2025-01-03,-5,\nC,2025-01-04,0,\n"
                      "D,2025-03-01,7,S2\n", encoding="utf-8")
    report = validate({"transactions": scan_table(str(source), "transactions")}, as_of=dt.date(2025, 2, 1), today=dt.date(2025, 6, 1))
    english = dict(zip(report.findings_frame()["code"], report.findings_frame()["message"], strict=True))
    french = dict(zip(findings_frame(report, lang="fr")["code"], findings_frame(report, lang="fr")["message"], strict=True))
    assert english["negative-amount"] == "negative amount (a return or cancellation) on 1 row"
    assert french == {
        "duplicate-row": "répétition exacte d'une ligne précédente sur 1 ligne",
        "future-date": "date le 2025-02-01 ou après sur 1 ligne",
        "negative-amount": "montant négatif (retour ou annulation) sur 1 ligne",
        "null-optional": "le magasin manque sur 2 lignes",
        "zero-amount": "montant nul sur 1 ligne",
    }
    assert set(findings_frame(report, lang="fr")["severity"]) == {"avertissement", "info"}
    assert findings_frame(report, lang="en").equals(report.findings_frame())


@pytest.mark.slow
def test_french_back_office_sample_page_has_no_english_check_message(tmp_path: Path) -> None:
    (tmp_path / "f.toml").write_text(f'[inputs]\ntransactions = "{ROOT / "sample_data" / "export_backoffice_fr.csv"}"\n'
                                     '[report]\nsections = ["rfm", "kpi"]\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "fidelcli", "--config", "f.toml", "report", "--out", "out", "--lang", "fr"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    page = Path(done.stdout.strip()).read_text(encoding="utf-8")
    quality = html.unescape(re.search(r'<section id="validation".*?</section>', page, re.S).group(0))  # type: ignore[union-attr]
    # The two findings of this export, counted by `fidelcli validate` (632 returns, 13,178 rows without a store).
    assert "montant négatif (retour ou annulation) sur 632 lignes" in quality
    assert "le magasin manque sur 13\u202f178 lignes" in quality
    text = re.sub(r"<[^>]+>", " ", quality)
    assert [w for w in ENGLISH if w in text] == []


# Words of the English warnings of the analyses (`fidelcli.report.warnings_fr` gives their French text).
ENGLISH_WARNING_WORDS = [" the ", " of ", " customers ", " rows ", " with ", " no rule ", " repeat "]


@pytest.mark.slow
def test_french_back_office_sample_default_report_has_no_english_line(tmp_path: Path) -> None:
    # The default report: every section this input (transactions only) allows, its warnings included.
    (tmp_path / "f.toml").write_text(f'[inputs]\ntransactions = "{ROOT / "sample_data" / "export_backoffice_fr.csv"}"\n', encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "fidelcli", "-q", "--config", "f.toml", "report", "--out", "out", "--lang", "fr"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    page = Path(done.stdout.strip()).read_text(encoding="utf-8")
    # The analyses of this export warn (7 repeat customers left out of the spend model, no association rule): in French.
    assert "avertissement : 7 clients réguliers dont les retours annulent les achats répétés" in html.unescape(page)
    assert "avertissement : aucune règle n'atteint un support de 0,01 et une confiance de 0,5" in html.unescape(page)
    visible = re.sub(r"<style>.*?</style>|<svg.*?</svg>", "", page, flags=re.S)
    lines = [line for line in html.unescape(re.sub(r"<[^>]+>", "\n", visible)).splitlines() if line.strip()]
    assert [line for line in lines if any(w in f" {line} " for w in ENGLISH_WARNING_WORDS)] == []
    summary = (Path(done.stdout.strip()).parent / "summary.md").read_text(encoding="utf-8")
    assert [line for line in summary.splitlines() if line.startswith(">") and any(w in line for w in ENGLISH_WARNING_WORDS)] == []


def test_label_values_of_a_french_table() -> None:
    # The row names of the roi program's tables (measure, label, covariate) and the A/B test's metric and test read like
    # the headers; they are translated after formatting (a long table formats a value by its row name).
    from fidelcli.cli.labels import value_label
    from fidelcli.report.html import labelled_cells

    def cells(df: pl.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
        return list(df.columns), [[str(v) for v in r] for r in df.iter_rows()], [False] * df.width

    frame = pl.DataFrame({"measure": ["uplift (difference in differences)", "customers", "roi_percent"], "estimate": [0.1, 2.0, 3.0],
                          "label": ["naive: members chose to join"] * 3, "segment": ["customers"] * 3})
    _, rows, _ = labelled_cells(cells, "fr")(frame)
    assert rows[0] == ["hausse (double différence)", "0.1", "naïf : les adhérents ont choisi d'adhérer", "customers"]
    assert [r[0] for r in rows] == ["hausse (double différence)", "clients", "ROI (%)"]
    assert labelled_cells(cells, "en")(frame)[1] == cells(frame)[1]
    assert value_label("orders in the 3 months before", "fr") == "commandes des 3 mois avant"
    assert value_label("revenue in the 12 months before", "fr") == "chiffre d'affaires des 12 mois avant"
    assert value_label("something else", "fr") == "something else"
    assert value_label("customers", "en") == "customers"


def test_journey_moments_in_french() -> None:
    from fidelcli.analyses.journey.moments import MomentSettings, sentence
    from fidelcli.report.sentences_fr import moment_sentences

    row = {"rank": 1, "stage": "service", "channel": "phone", "customers": 120, "negative": 30, "outcome_negative": 0.4,
           "outcome_other": 0.6, "effect": -0.153, "effect_low": -0.25, "effect_high": -0.05}
    english = sentence(row, settings=MomentSettings(window_days=90))
    summary = pl.DataFrame({"rank": [1], "moment_of_truth": [english]})
    settings = {"outcome": "retention", "window_days": 90, "negative_max": 2.0}
    assert moment_sentences(summary, pl.DataFrame([row]), settings) == [
        "service via phone : les clients ayant eu une expérience négative (satisfaction 1-2) étaient 15,3 points moins "
        "susceptibles d'acheter encore plus de 90 jours après que des clients comparables (mêmes achats et dépenses avant), "
        "intervalle à 95\u202f% de -25,0 à -5,0 points ; brut 40\u202f% contre 60\u202f%, 30 clients sur 120."]
    none = pl.DataFrame({"rank": [None], "moment_of_truth": ["no touchpoint's ..."]}, schema={"rank": pl.Int64, "moment_of_truth": pl.String})
    assert moment_sentences(none, None, {**settings, "outcome": "repurchase"}) == [
        "aucune expérience négative à un point de contact n'est liée au réachat au-delà du hasard (les intervalles à 95\u202f% "
        "couvrent tous 0)"]


# English words of the page's text: none may be left in a visible line of the French report (file names such as
# customers.csv, tokens with a dot, are left out: they are names, not text).
ENGLISH_WORDS = re.compile(r"\b(the|of|and|with|customers|rows|members|recipients|revenue|orders|before|after|naive|beyond|chance|needs)\b")


@pytest.mark.slow
def test_french_full_sample_report_has_no_english_line(tmp_path: Path) -> None:
    # Every input kind (examples/nightly.toml: transactions, customers, surveys, campaigns, subscriptions, spend,
    # touchpoints), so every section of the report, its tables and warnings.
    done = subprocess.run([sys.executable, "-m", "fidelcli", "-q", "--config", "examples/nightly.toml", "report", "--out", str(tmp_path),
                           "--lang", "fr"], cwd=ROOT, capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    page = Path(done.stdout.strip()).read_text(encoding="utf-8")
    visible = re.sub(r"<style>.*?</style>|<svg.*?</svg>", "", page, flags=re.S)
    lines = [line for line in html.unescape(re.sub(r"<[^>]+>", "\n", visible)).splitlines() if line.strip()]
    assert len(lines) > 200  # the whole report
    english = [line for line in lines if ENGLISH_WORDS.search(" ".join(t for t in line.split() if "." not in t))]
    assert english == []
    # The sentences and row names this sample used to leave in English, now in French.
    text = "\n".join(lines)
    for french in ("hausse (double différence)", "naïf : les adhérents ont choisi d'adhérer", "commandes des 3 mois avant",
                   "adhérents ont un solde négatif", "le modèle demande des variables que les données n'ont pas",
                   "n'est liée à la rétention au-delà du hasard"):
        assert french in text
    summary = (Path(done.stdout.strip()).parent / "summary.md").read_text(encoding="utf-8")
    assert "hausse (double différence)" in summary
