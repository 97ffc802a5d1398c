"""The ``p2p-gym`` command line: subcommands, config show, and exit codes."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from p2p_env.cli import app
from p2p_env.config import GymConfig

runner = CliRunner()

SUBCOMMANDS = [
    "sweep",
    "simulate",
    "evaluate",
    "train",
    "report",
    "bench",
    "compile",
    "exchange",
    "ledger",
    "config",
    "demo",
    "data",
]


def test_help_lists_every_subcommand() -> None:
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for name in SUBCOMMANDS:
        assert f" {name} " in result.output, f"--help does not list {name}"


@pytest.mark.parametrize(
    ("group", "command"), [("exchange", "clear"), ("ledger", "verify"), ("config", "show")]
)
def test_groups_list_their_commands(group: str, command: str) -> None:
    result = runner.invoke(app, [group, "--help"], terminal_width=200)
    assert result.exit_code == 0
    assert f" {command} " in result.output


def test_console_script_is_installed() -> None:
    exe = shutil.which("p2p-gym", path=str(Path(sys.executable).parent))
    assert exe is not None, "the p2p-gym console script is not installed beside this interpreter"
    done = subprocess.run([exe, "config", "list"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "higashifuji_demo" in done.stdout.split()


def test_config_show_prints_the_resolved_config() -> None:
    result = runner.invoke(
        app, ["config", "show", "higashifuji_demo", "--set", "market.mechanism=call"]
    )
    assert result.exit_code == 0, result.output
    config = GymConfig.model_validate(yaml.safe_load(result.stdout))
    assert config.name == "higashifuji_demo"
    assert config.market.mechanism == "call"
    assert config.community.n_homes == 20


def test_config_show_bad_value_exits_nonzero_naming_field_and_allowed() -> None:
    result = runner.invoke(
        app, ["config", "show", "higashifuji_demo", "--set", "market.mechanism=nope"]
    )
    assert result.exit_code == 2
    assert result.stdout == ""
    for needle in ("market.mechanism", "'nope'", "'call'", "'cda'", "'midpoint'"):
        assert needle in result.stderr


def test_config_show_misspelt_key_in_yaml(tmp_path: Path) -> None:
    path = tmp_path / "typo.yaml"
    path.write_text("extends: higashifuji_demo\ncomunity: {}\n", encoding="utf-8")
    result = runner.invoke(app, ["config", "show", str(path)])
    assert result.exit_code == 2
    assert "comunity" in result.stderr
    assert "did you mean 'community'?" in result.stderr


def test_unknown_config_name_exits_2() -> None:
    result = runner.invoke(app, ["config", "show", "no_such_config"])
    assert result.exit_code == 2
    assert "unknown config 'no_such_config'" in result.stderr


def test_bad_arguments_exit_2() -> None:
    result = runner.invoke(app, ["config", "show", "--no-such-flag"])
    assert result.exit_code == 2


def test_demo_runs_on_the_default_config(tmp_path: Path) -> None:
    # make demo runs the whole of August with 3 seeds; the test takes one day and one seed.
    out = tmp_path / "demo"
    args = ["demo", "--period", "2020-08-03:2020-08-03", "--seeds", "1", "--out", str(out)]
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "20 homes, 9 PHVs" in result.stdout
    assert "bill improvement of 'rule' against grid_only" in result.stdout
    assert (out / "summary.json").is_file()


def test_progress_is_silent_off_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    from p2p_env.cli._common import progress

    assert list(progress(range(5), total=5, description="work")) == [0, 1, 2, 3, 4]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""
