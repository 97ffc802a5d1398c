"""``p2p-gym data show`` and ``p2p-gym data import``."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from p2p_env.cli import app
from p2p_env.config import GymConfig
from p2p_env.data import generate_dataset, to_long_frame

from .conftest import SHORT_SPAN

runner = CliRunner()
SPAN_ARGS = [arg for override in SHORT_SPAN for arg in ("--set", override)]


@pytest.fixture(scope="module")
def long_csv(tmp_path_factory: pytest.TempPathFactory, short_config: GymConfig) -> Path:
    path = tmp_path_factory.mktemp("byo") / "mine.csv"
    to_long_frame(generate_dataset(short_config)).to_csv(path, index=False)
    return path


def test_show_prints_statistics_and_writes_a_png(tmp_path: Path) -> None:
    out = tmp_path / "weeks.png"
    result = runner.invoke(app, ["data", "show", "higashifuji_demo", "--out", str(out)])
    assert result.exit_code == 0, result.output
    for text in ("home_00", "phv_08", "office", "kWh/kWp", "km/day", "PV: mean"):
        assert text in result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    text = " ".join(result.output.split())  # rich wraps lines at the console width
    assert "summer: week of 2020-08-24" in text
    assert "winter: week of 2020-01-27" in text


def test_show_writes_a_default_png_unless_told_not_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["data", "show", *SPAN_ARGS])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "higashifuji_demo-data.png").is_file()
    (tmp_path / "higashifuji_demo-data.png").unlink()
    result = runner.invoke(app, ["data", "show", *SPAN_ARGS, "--no-plot"])
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "higashifuji_demo-data.png").exists()


def test_show_limits_rows(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "show", *SPAN_ARGS, "--max-rows", "2", "--no-plot"])
    assert result.exit_code == 0, result.output
    assert "28 more entities not listed" in result.output
    assert "phv_08" not in result.output


def test_import_then_show_the_imported_set(long_csv: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "import", str(long_csv), "--as", "mine"])
    assert result.exit_code == 0, result.output
    assert "--set data.source=mine" in result.output
    assert (tmp_path / "data" / "datasets" / "mine.npz").is_file()
    shown = runner.invoke(
        app,
        ["data", "show", *SPAN_ARGS, "--set", "data.source=mine", "--max-rows", "1", "--no-plot"],
    )
    assert shown.exit_code == 0, shown.output
    assert "source mine" in shown.output


def test_import_rejects_a_bad_file_with_exit_2(long_csv: Path, tmp_path: Path) -> None:
    frame = pd.read_csv(long_csv, dtype=str)
    frame.loc[2, "timestamp"] = "2020-08-01T01:00:00"
    bad = tmp_path / "bad.csv"
    frame.to_csv(bad, index=False)
    result = runner.invoke(app, ["data", "import", str(bad), "--as", "bad"])
    assert result.exit_code == 2
    assert "row 3 (line 4), column 'timestamp'" in result.output
    assert "no UTC offset" in result.output


def test_show_of_a_missing_source_exits_2() -> None:
    result = runner.invoke(app, ["data", "show", *SPAN_ARGS, "--set", "data.source=nope"])
    assert result.exit_code == 2
    assert "p2p-gym data import FILE --as nope" in result.output
