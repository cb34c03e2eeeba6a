"""The two Click classes fidelcli needs and Typer does not re-export, in one place.

Typer vendors Click since 0.26 (`typer._click`) and exports `typer.Exit`, `typer.Abort`,
`typer.BadParameter` and its own `typer.Context`, but not the base class of usage errors nor the
plain Click `Context` (needed to ask a command for its help option). Both come from a private
module, so pyproject.toml pins Typer below the next minor release (`typer>=0.26,<0.30`) and
tests/cli/test_typer_compat.py checks on every upgrade that Typer's public exceptions still derive
from `ClickException` and that `Context` still builds a command's help option.
"""

from typer._click.core import Context
from typer._click.exceptions import ClickException

__all__ = ["ClickException", "Context"]
