from pathlib import Path

import pytest

# Shared test helpers (`refdata`) import by name from every test folder: pyproject's `pythonpath`.

FIXTURES = Path(__file__).parent / "fixtures"
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.skip("../shared/data is not beside the checkout")
    return SHARED_DATA


@pytest.fixture(scope="session")
def spark_engine() -> object:
    """The Spark engine on `local[2]` with 2 shuffle partitions: one session per test process (the
    Spark tests carry `xdist_group("spark")`, so one xdist worker runs them all). Without pyspark or
    Java the tests fail in CI (`CI` set) and as root (`make test-services` installs Java from Debian
    then), and skip elsewhere, saying why."""
    import importlib.util
    import os
    import shutil

    missing = [what for what, ok in (("pyspark", importlib.util.find_spec("pyspark") is not None),
                                     ("a Java runtime", shutil.which("java") is not None or bool(os.environ.get("JAVA_HOME")))) if not ok]
    if missing:
        reason = f"the Spark tests need {' and '.join(missing)} (pip install 'fidelcli[spark]'; make test-services installs Java)"
        if os.environ.get("CI") or (hasattr(os, "geteuid") and os.geteuid() == 0):
            pytest.fail(reason)
        pytest.skip(reason)
    from fidelcli.engine import get_engine

    return get_engine("spark", spark_master="local[2]", spark_conf={"spark.sql.shuffle.partitions": 2, "spark.default.parallelism": 2})
