"""``p2p-gym exchange clear``: JSON in, JSON out, exit 2 on unreadable input.

(These test the CLI module owned by the exchange issue, ``p2p_env/cli/exchange_cmd.py``.)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from exchange import TAG_ORDERS, ClearingParams, clear, orders_from_dicts
from p2p_env.cli import app
from p2p_env.cli.exchange_cmd import TagOrderName

runner = CliRunner()

ISSUE_EXAMPLE: dict[str, Any] = {
    "price_bounds": [0, 5000],
    "orders": [
        {
            "id": "s1",
            "agent": "home_03",
            "side": "sell",
            "quantity_wh": 1200,
            "tag": "pv",
            "price": 1850,
        },
        {
            "id": "b1",
            "agent": "home_07",
            "side": "buy",
            "quantity_wh": 800,
            "prices": {"pv": 2300, "battery": 2100},
        },
    ],
}


def write(tmp_path: Path, data: Any) -> str:
    path = tmp_path / "orders.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("mechanism", ["call", "cda", "midpoint"])
def test_clear_prints_the_result_as_json(tmp_path: Path, mechanism: str) -> None:
    done = runner.invoke(
        app, ["exchange", "clear", write(tmp_path, ISSUE_EXAMPLE), "--mechanism", mechanism]
    )
    assert done.exit_code == 0, done.output
    out = json.loads(done.stdout)
    assert out["trades"][0] | {"price": None, "amount": None} == {
        "buy": "b1",
        "sell": "s1",
        "buyer": "home_07",
        "seller": "home_03",
        "tag": "pv",
        "quantity_wh": 800,
        "price": None,
        "amount": None,
    }
    assert set(out) >= {"trades", "clearing_prices", "rejected", "unfilled", "params"}
    assert out["unfilled"] == [{"id": "s1", "agent": "home_03", "side": "sell", "quantity_wh": 400}]
    expected = clear(
        orders_from_dicts(ISSUE_EXAMPLE["orders"]), ClearingParams(mechanism=mechanism)
    ).to_dict()
    assert {k: v for k, v in out.items() if k != "params"} == expected
    assert out["params"]["mechanism"] == mechanism


def test_file_settings_and_option_overrides(tmp_path: Path) -> None:
    data = {
        **ISSUE_EXAMPLE,
        "mechanism": "midpoint",
        "seed": 9,
        "tags": ["battery", "pv"],
        "tag_order": "config",
        "agents": {"home_03": ["pv"], "home_07": []},
    }
    path = write(tmp_path, data)
    out = json.loads(runner.invoke(app, ["exchange", "clear", path]).stdout)
    assert out["params"] == {
        "rules_version": 1,
        "mechanism": "midpoint",
        "price_bounds": [0, 5000],
        "tags": ["battery", "pv"],
        "tag_order": "config",
        "seed": 9,
        "agents": {"home_03": ["pv"], "home_07": []},
    }
    assert out["trades"][0]["price"] == (2300 + 1850) // 2  # 2075: the pair's mean
    done = runner.invoke(
        app, ["exchange", "clear", path, "-m", "call", "--seed", "4", "--tag-order", "price"]
    )
    out = json.loads(done.stdout)
    assert (out["params"]["mechanism"], out["params"]["seed"]) == ("call", 4)
    assert out["params"]["tag_order"] == "price"


def test_rejections_are_listed_and_exit_zero(tmp_path: Path) -> None:
    data = {
        "orders": [
            *ISSUE_EXAMPLE["orders"],
            {**ISSUE_EXAMPLE["orders"][1], "id": "b2", "quantity_wh": 1.5},
        ]
    }
    done = runner.invoke(app, ["exchange", "clear", write(tmp_path, data)])
    assert done.exit_code == 0
    assert json.loads(done.stdout)["rejected"] == [
        {
            "id": "b2",
            "agent": "home_07",
            "reason": "non_integer_quantity",
            "detail": "quantity_wh must be an integer number of Wh, got 1.5",
        }
    ]


def test_reads_stdin() -> None:
    done = runner.invoke(app, ["exchange", "clear", "-"], input=json.dumps(ISSUE_EXAMPLE))
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["trades"][0]["quantity_wh"] == 800


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"orders": [', "malformed JSON at line 1 column 13"),
        ("[1, 2]", "expected a JSON object with an 'orders' list, got list"),
        ('{"order": []}', "unknown key 'order'"),
        ('{"price_bounds": [0, 10]}', "'orders' must be a list of order objects"),
        (
            '{"orders": [{"id": "s1", "agent": "a", "side": "sell", "quantity_wh": "800"}]}',
            "order 0 (id 's1'): field 'quantity_wh' must be a number, got str '800'",
        ),
        (
            '{"orders": [{"id": "b", "agent": "a", "side": "buy", "quantity_wh": 1, '
            '"prices": {"pv": null}}]}',
            "order 0 (id 'b'): field 'prices.pv' must be a number, got null",
        ),
        ('{"orders": [], "price_bounds": [50, 10]}', "price bounds [50, 10] must satisfy"),
        ('{"orders": [], "mechanism": "auction"}', "mechanism 'auction' is not one of"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path: Path, content: str, message: str) -> None:
    done = runner.invoke(app, ["exchange", "clear", write(tmp_path, content)], terminal_width=400)
    assert done.exit_code == 2
    assert message in " ".join(done.stderr.split())
    assert done.stdout == ""


def test_missing_file_exits_2(tmp_path: Path) -> None:
    done = runner.invoke(app, ["exchange", "clear", str(tmp_path / "nope.json")])
    assert done.exit_code == 2
    assert "cannot read" in done.stderr


def test_unknown_mechanism_option_exits_2(tmp_path: Path) -> None:
    done = runner.invoke(
        app, ["exchange", "clear", write(tmp_path, ISSUE_EXAMPLE), "-m", "x"], terminal_width=400
    )
    assert done.exit_code == 2
    message = " ".join(done.stderr.split())
    assert "mechanism 'x' is not one of call, cda, midpoint" in message
    assert "'p2p_gym.mechanisms' entry-point group" in message


def test_cli_choices_match_the_library() -> None:
    assert tuple(TagOrderName) == TAG_ORDERS
