"""fidelcli: customer-loyalty analytics. The library behind the `fidelcli` command.

Example
-------
>>> import fidelcli
>>> tx = fidelcli.clean_transactions(fidelcli.scan_table("sales.csv", "transactions"))  # doctest: +SKIP
>>> summary = fidelcli.DEFAULT_ENGINE.customer_summary(tx.lf)  # doctest: +SKIP
"""

__version__ = "0.1.0"

from fidelcli.analyses.clv import clv_analysis
from fidelcli.analyses.cohort import cohorts
from fidelcli.analyses.kpi import kpi
from fidelcli.analyses.rfm import rfm, rfm_summary
from fidelcli.analyses.subscription import subscription_analysis
from fidelcli.clean import Transactions, clean_transactions
from fidelcli.config import Config, load_config
from fidelcli.errors import CheckFailed, ConfigError, FidelError, FitError, InputError, MappingError
from fidelcli.io.read import Table, scan_table
from fidelcli.io.write import write_frame
from fidelcli.summary import DEFAULT_ENGINE, Engine, PolarsEngine

__all__ = [
    "DEFAULT_ENGINE", "CheckFailed", "Config", "ConfigError", "Engine", "FidelError", "FitError", "InputError",
    "MappingError", "PolarsEngine", "Table", "Transactions", "__version__", "clean_transactions", "load_config",
    "scan_table", "write_frame", "rfm", "rfm_summary", "kpi", "cohorts", "clv_analysis", "subscription_analysis",
]
