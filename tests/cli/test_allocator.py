"""The allocator settings are an explicit step of the console script, set before Polars loads."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import typer

from fidelcli.cli import allocator
from fidelcli.cli.app import app


@pytest.mark.parametrize(
    ("argv", "command"),
    [
        (["clv", "-t", "sales.csv"], "clv"),
        (["-q", "--no-color", "rfm", "-t", "clv"], "rfm"),  # a file named clv is not the command
        (["--config", "clv", "kpi"], "kpi"),  # the value of --config is skipped
        (["--engine", "polars", "cohort"], "cohort"),  # and that of --engine
        (["--version"], None),
        ([], None),
    ],
)
def test_subcommand_is_the_first_argument_that_is_not_an_option(argv: list[str], command: str | None) -> None:
    assert allocator.command_of(argv) == command


def test_every_command_declares_a_profile_and_value_options_are_the_roots() -> None:
    group = typer.main.get_command(app)
    assert set(group.commands) == set(allocator.PROFILES)  # type: ignore[attr-defined]
    takes_value = {o for p in group.params if not getattr(p, "is_flag", False) for o in p.opts}
    assert takes_value == allocator.VALUE_OPTIONS


def test_configure_puts_the_users_values_last_and_honours_the_opt_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator.sys, "modules", {k: v for k, v in sys.modules.items() if k != "polars"})
    cpus = len(os.sched_getaffinity(0))
    env = {"_RJEM_MALLOC_CONF": "narenas:2"}
    assert allocator.configure(["clv"], env) == f"background_thread:true,dirty_decay_ms:0,muzzy_decay_ms:0,narenas:{cpus},narenas:2"
    env = {}
    allocator.configure(["-q", "rfm"], env)
    assert env == {"_RJEM_MALLOC_CONF": f"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0,narenas:{cpus}"}
    env = {"FIDELCLI_ALLOCATOR": "default"}
    assert allocator.configure(["clv"], env) is None and env == {"FIDELCLI_ALLOCATOR": "default"}
    assert allocator.configure(["--help"], env := {}) is None and env == {}


# The child records _RJEM_MALLOC_CONF at the moment `polars` is first imported, then runs the console script.
CHILD = textwrap.dedent("""
    import importlib.abc, os, sys
    seen = []
    class Spy(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "polars" and not seen:
                seen.append(os.environ.get("_RJEM_MALLOC_CONF"))
    sys.meta_path.insert(0, Spy())
    import fidelcli.cli
    assert "polars" not in sys.modules and "_RJEM_MALLOC_CONF" not in os.environ  # importing has no side effect
    sys.argv = ["fidelcli", *sys.argv[1:]]
    try:
        fidelcli.cli.main()
    except SystemExit:
        pass
    print("SEEN", seen[0], file=sys.stderr)
""")


@pytest.mark.parametrize(("argv", "opt_out", "decay"), [(["clv", "--help"], None, "0"), (["rfm", "--help"], None, "1000"),
                                                         (["clv", "--help"], "default", None)])
def test_setting_is_in_the_environment_before_polars_is_imported(argv: list[str], opt_out: str | None, decay: str | None) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("_RJEM_MALLOC_CONF", "FIDELCLI_ALLOCATOR")}
    if opt_out:
        env["FIDELCLI_ALLOCATOR"] = opt_out
    r = subprocess.run([sys.executable, "-c", CHILD, *argv], env=env, capture_output=True, text=True, timeout=120, check=True)
    seen = r.stderr.strip().splitlines()[-1]
    if decay is None:
        assert seen == "SEEN None"
    else:
        cpus = len(os.sched_getaffinity(0))
        assert seen == f"SEEN background_thread:true,dirty_decay_ms:{decay},muzzy_decay_ms:0,narenas:{cpus}"
