"""`--plots` charts: the matrices they draw and reproducible PNG files."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fidelcli.models import BGNBD
from fidelcli.report.plots import matrices, write_plots


def model() -> BGNBD:
    # FHL (2005) CDNOW estimates
    return BGNBD.from_dict({"name": "bgnbd", "params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                            "log_likelihood": -9582.4, "n_customers": 2357, "converged": True})


def test_matrices_are_the_model_on_a_frequency_recency_grid() -> None:
    freqs, recs, ep, pa = matrices(model(), max_frequency=5, T=38.86, horizon_length=39.0)
    assert freqs.tolist() == [0, 1, 2, 3, 4, 5] and recs[0] == 0 and recs[-1] == pytest.approx(38.86)
    assert (pa[0] == 1.0).all()  # BG/NBD: nobody dies before a repeat purchase
    # the cell x = 2, t_x = last grid point, T = 38.86 is the model's own prediction
    assert ep[2, -1] == pytest.approx(model().expected_purchases(39.0, 2, 38.86, 38.86))
    # more recent buyers are more likely alive
    assert np.all(np.diff(pa[3]) >= 0)


BACKEND_CHECK = """
import sys
import matplotlib
matplotlib.use("svg")
import fidelcli.report.plots as plots
from fidelcli.models import BGNBD
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
model = BGNBD.from_dict({"name": "bgnbd", "params": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}})
paths = plots.write_plots(sys.argv[1], model, max_frequency=3, T=38.86, horizon_length=39.0, time_unit="week",
                          horizon_label="39w")
assert [p.name for p in paths] == ["expected_purchases_matrix.png", "p_alive_matrix.png"], paths
assert matplotlib.get_backend() == "svg", matplotlib.get_backend()
assert "matplotlib.pyplot" not in sys.modules
print("ok")
"""


def test_plots_leave_the_matplotlib_backend_alone(tmp_path: Path) -> None:
    # A fresh interpreter: importing the module and writing the charts neither switches the global
    # backend (svg here) nor imports pyplot.
    r = subprocess.run([sys.executable, "-c", BACKEND_CHECK, str(tmp_path / "plots")], capture_output=True, text=True,
                       check=False)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["expected_purchases_matrix.png", "p_alive_matrix.png"]


def test_write_plots_is_reproducible(tmp_path: Path) -> None:
    kwargs = dict(max_frequency=10, T=38.86, horizon_length=39.0, time_unit="week", horizon_label="39w")
    first = write_plots(tmp_path / "a", model(), **kwargs)  # type: ignore[arg-type]
    second = write_plots(tmp_path / "b", model(), **kwargs)  # type: ignore[arg-type]
    assert [p.name for p in first] == ["expected_purchases_matrix.png", "p_alive_matrix.png"]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert a.read_bytes() == b.read_bytes()
