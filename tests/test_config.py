import pytest

from fidelcli.config import Config, load_config
from fidelcli.errors import ConfigError


def write(tmp_path, text):
    path = tmp_path / "fidelcli.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_a_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(None) == Config()


def test_full_config(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            '[inputs]\ntransactions = "sales.csv"\n'
            '[columns.transactions]\ncustomer_id = "N° client"\n'
            '[analysis]\ncurrency = "EUR"\nlang = "fr"\nmargin = 0.35\nreturns = "drop"\n'
            "[rfm]\nbins = 4\n",
        )
    )
    assert cfg.inputs.transactions == "sales.csv"
    assert cfg.columns.transactions == {"customer_id": "N° client"}
    assert (cfg.analysis.lang, cfg.analysis.margin, cfg.analysis.returns, cfg.rfm.bins) == ("fr", 0.35, "drop", 4)


def test_default_file_in_working_directory_is_read(tmp_path, monkeypatch):
    write(tmp_path, "[rfm]\nbins = 3\n")
    monkeypatch.chdir(tmp_path)
    assert load_config(None).rfm.bins == 3


def test_unknown_key_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "[analysis]\ncurency = 'EUR'\n"))
    assert err.value.message == "unknown key 'analysis.curency'"
    assert err.value.hint == "did you mean 'analysis.currency'?"


def test_unknown_section_suggests_the_closest(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "[input]\ntransactions = 'a.csv'\n"))
    assert err.value.hint == "did you mean 'inputs'?"


def test_invalid_value(tmp_path):
    with pytest.raises(ConfigError, match="analysis.margin"):
        load_config(write(tmp_path, "[analysis]\nmargin = 1.5\n"))


def test_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[analysis\n"))


def test_churn_section_is_typed_and_checked(tmp_path):
    cfg = load_config(write(tmp_path, "[churn]\nhorizon = '60d'\nbands = [0.2, 0.5]\n"))
    # The file's values, and the defaults of the model for the keys it does not set.
    assert cfg.churn.model_dump() == {"horizon": "60d", "calibration": "sigmoid", "seed": 0, "bands": [0.2, 0.5]}
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "[churn]\nhorizn = '60d'\n"))
    assert err.value.hint == "did you mean 'churn.horizon'?"


def test_defaults_live_in_the_models():
    from fidelcli.config import Churn, Clv, parse_margin

    assert (Clv().time_unit, Clv().horizon, Clv().discount_rate, Clv().margin, Clv().lifetime) == ("week", "12m", 0.1, None, None)
    assert (Churn().horizon, Churn().calibration, Churn().seed, Churn().bands) == ("90d", "sigmoid", 0, None)
    assert Config().engine.name == "polars"
    assert (parse_margin("30%"), parse_margin(" Column "), parse_margin(0.4)) == (0.3, "column", 0.4)


def test_clv_margin_is_a_rate_or_column(tmp_path):
    assert load_config(write(tmp_path, "[clv]\nmargin = '30%'\n")).clv.margin == 0.3
    assert load_config(write(tmp_path, "[clv]\nmargin = 'column'\n")).clv.margin == "column"
    with pytest.raises(ConfigError, match="clv.margin"):
        load_config(write(tmp_path, "[clv]\nmargin = 'lots'\n"))
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, "[analysis]\nlocale = 'fr_FR'\n"))  # read by nothing: removed


def test_engine_section_names_the_engine(tmp_path):
    assert load_config(write(tmp_path, "[engine]\nname = 'polars'\n")).engine.name == "polars"
    # Only the engines fidelcli has are accepted (Spark comes with its own issue).
    with pytest.raises(ConfigError, match="engine.name"):
        load_config(write(tmp_path, "[engine]\nname = 'dask'\n"))
    with pytest.raises(ConfigError, match="analysis"):
        load_config(write(tmp_path, "[analysis]\nengine = 'polars'\n"))  # the engine has its own section
