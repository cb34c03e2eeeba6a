"""Imports every command module; each registers its commands on `fidelcli.cli.app.app`.

A command module does `from fidelcli.cli.app import app` and decorates its functions with
`@app.command("name")` (or `app.add_typer(group, name=...)` for a group such as `churn`).
"""

# One import per command module, in the order of `fidelcli --help`.
from fidelcli.cli import validate  # noqa: E402,F401
from fidelcli.cli import rfm  # noqa: E402,F401
from fidelcli.cli import kpi  # noqa: E402,F401
from fidelcli.cli import cohort  # noqa: E402,F401
from fidelcli.cli import clv  # noqa: E402,F401
from fidelcli.cli import subscription  # noqa: E402,F401
from fidelcli.cli import churn  # noqa: E402,F401
from fidelcli.cli import sample  # noqa: E402,F401
