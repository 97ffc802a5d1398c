"""numpy's huge-page advice: read, set, and turned off by the ``p2p-gym`` command unless
``NUMPY_MADVISE_HUGEPAGE`` says otherwise."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from p2p_env import hugepages
from p2p_env.cli import app
from p2p_env.hugepages import VARIABLE, command_line_default, numpy_hugepages, set_numpy_hugepages


def test_set_returns_the_setting_before_and_numpy_follows() -> None:
    set_numpy_hugepages(True)
    assert numpy_hugepages() is True
    assert set_numpy_hugepages(False) is True
    assert numpy_hugepages() is False
    assert set_numpy_hugepages(True) is False
    assert numpy_hugepages() is True


@pytest.mark.parametrize("value", [1, 0, "off", None])
def test_set_refuses_anything_but_a_bool(value: object) -> None:
    before = numpy_hugepages()
    with pytest.raises(TypeError, match="enabled must be True or False"):
        set_numpy_hugepages(value)  # type: ignore[arg-type]
    assert numpy_hugepages() is before


def test_the_command_line_default_turns_the_advice_off_and_exports_it() -> None:
    set_numpy_hugepages(True)
    environ: dict[str, str] = {}
    assert command_line_default(environ) is False
    assert numpy_hugepages() is False
    assert environ == {VARIABLE: "0"}  # processes started from this one do the same


@pytest.mark.parametrize(("value", "advice"), [("1", True), ("0", False)])
def test_a_variable_set_by_the_user_is_kept(value: str, advice: bool) -> None:
    # numpy read the variable at its import; the test sets numpy as that import would have.
    set_numpy_hugepages(advice)
    environ = {VARIABLE: value}
    assert command_line_default(environ) is advice
    assert numpy_hugepages() is advice
    assert environ == {VARIABLE: value}


def test_every_command_applies_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(VARIABLE, raising=False)
    set_numpy_hugepages(True)
    result = CliRunner().invoke(app, ["config", "list"])
    assert result.exit_code == 0, result.output
    assert numpy_hugepages() is False
    assert os.environ[VARIABLE] == "0"


def test_a_command_keeps_the_users_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(VARIABLE, "1")
    set_numpy_hugepages(True)
    result = CliRunner().invoke(app, ["config", "list"])
    assert result.exit_code == 0, result.output
    assert numpy_hugepages() is True


def test_without_numpy_support_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy._core.multiarray as multiarray

    monkeypatch.delattr(multiarray, "_set_madvise_hugepage")
    monkeypatch.delattr(multiarray, "_get_madvise_hugepage")
    environ: dict[str, str] = {}
    assert set_numpy_hugepages(False) is None
    assert command_line_default(environ) is None
    assert environ == {}  # not exported: numpy was not changed
    assert hugepages.numpy_hugepages() is None
