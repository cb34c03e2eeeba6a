"""The Spark session of the Spark engine: created lazily, once per process, quiet on the terminal.

`session(master, conf)` starts it on first use (`SparkSession.builder...getOrCreate()`) with settings
fit for a laptop when the master is local (`local[*]`, `local[2]`): few shuffle partitions, no web UI,
no progress bar, log level WARN, the JVM's own output written to a log file instead of the terminal
(`LOG_FILE`). On a cluster (`spark-submit`, Databricks) a session already exists: it is reused as it
is, and only the settings the engine relies on are set (`REQUIRED`).

`to_polars` brings a small reduced Spark DataFrame back to Polars through Arrow (`toArrow`).
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from fidelcli.errors import DependencyError
from fidelcli.extras import require

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

DEFAULT_MASTER = "local[*]"
# Settings every reduction relies on, set on a session even when it already exists: casts that do
# not raise (a value that does not parse is null, and the engine counts them), days in UTC (a
# timestamp's day does not depend on the machine's zone).
REQUIRED: dict[str, str] = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
}
# Where the JVM of a local session writes its log (warnings, stack traces), instead of the terminal.
LOG_FILE = Path(tempfile.gettempdir()) / f"fidelcli-spark-{os.getuid() if hasattr(os, 'getuid') else 0}.log"

_LOCK = threading.Lock()
_SESSION: list[SparkSession] = []


def local_cores(master: str) -> int | None:
    """The cores of a local master (`local[2]`: 2, `local[*]` and `local`: the machine's), else None."""
    m = re.fullmatch(r"local(?:\[(\*|\d+)(?:,\d+)?\])?", master.strip())
    if m is None:
        return None
    n = m.group(1)
    return int(n) if n and n != "*" else (os.cpu_count() or 1) if n == "*" else 1


def local_settings(master: str) -> dict[str, str]:
    """The settings of a local session: shuffle partitions 2 x cores (4 to 16), no UI, no progress bar."""
    cores = local_cores(master) or 1
    return {
        "spark.sql.shuffle.partitions": str(min(max(2 * cores, 4), 16)),
        "spark.default.parallelism": str(max(cores, 2)),
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.driver.memory": "2g",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
    }


def session(master: str = DEFAULT_MASTER, conf: Mapping[str, Any] | None = None) -> SparkSession:
    """The process's Spark session, created on first use (later calls return it, whatever their
    arguments). `conf` (`[engine.spark_conf]`) is applied last and wins over the local settings,
    except `REQUIRED`.

    Raises
    ------
    DependencyError
        pyspark is not installed (hint: `pip install 'fidelcli[spark]'`), or no Java runtime is found.
    """
    with _LOCK:
        if _SESSION:
            return _SESSION[0]
        require("spark", purpose="--engine spark")
        from pyspark.sql import SparkSession

        active = SparkSession.getActiveSession()
        if active is not None:  # spark-submit, Databricks, a notebook: use it as it is
            for key, value in REQUIRED.items():
                active.conf.set(key, value)
            _SESSION.append(active)
            return active
        if "PYSPARK_GATEWAY_PORT" not in os.environ and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
            raise DependencyError("--engine spark needs a Java runtime (17 or later), and java is not on the PATH",
                                  hint="install one (apt-get install openjdk-17-jre-headless) or set JAVA_HOME")
        # Under spark-submit the JVM started this process: its --master and --conf are already set.
        submitted = "PYSPARK_GATEWAY_PORT" in os.environ
        local = not submitted and local_cores(master) is not None
        settings = {**(local_settings(master) if local else {}),
                    **{str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in (conf or {}).items()}, **REQUIRED}
        builder = SparkSession.builder.appName("fidelcli") if submitted else SparkSession.builder.master(master).appName("fidelcli")
        for key, value in settings.items():
            builder = builder.config(key, value)
        spark = builder.getOrCreate() if submitted else _quietly(builder.getOrCreate)
        spark.sparkContext.setLogLevel("WARN")
        _SESSION.append(spark)
        return spark


def _quietly(start: Any) -> SparkSession:
    """Run `start` (which launches the JVM) with the process's stderr sent to `LOG_FILE`: the JVM
    inherits it, so its start-up banner and later warnings go to the log, not the terminal."""
    saved = os.dup(2)
    try:
        with open(LOG_FILE, "ab") as log:
            os.dup2(log.fileno(), 2)
            try:
                spark: SparkSession = start()
            except Exception as exc:  # the JVM did not start: no Java, a bad setting
                raise DependencyError(f"the Spark session did not start ({type(exc).__name__})",
                                      hint=f"see {LOG_FILE}; check Java 17+ and the [engine.spark_conf] settings") from None
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return spark


def to_polars(frame: DataFrame) -> pl.DataFrame:
    """A (small, reduced) Spark DataFrame as a Polars frame, through Arrow."""
    with warnings.catch_warnings():
        # PySpark checks the pandas version on its Arrow path, though no pandas object is made.
        warnings.simplefilter("ignore", FutureWarning)
        table = frame.toArrow()
    out = pl.from_arrow(table)
    assert isinstance(out, pl.DataFrame)
    return out
