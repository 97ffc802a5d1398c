"""A clearing mechanism from an installed package: selectable by name everywhere.

The plugin here is a real distribution on disk (a ``.dist-info`` folder with its entry point and
a module beside it), put on the path the way an installed package is, so the test goes through
``importlib.metadata`` as a user's package would: the exchange, the environment's config, the
CLI in a fresh process and the ledger's replay of every clearing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import p2p_env
from exchange import ClearingParams, Order, available_mechanisms, clear, get_mechanism, register
from exchange.book import Book
from exchange.mechanisms import ClearingMechanism, Matches, registry
from ledger import RecordKind
from p2p_env.policy import make_policy
from p2p_env.rollout import run_episode
from p2p_env.sim.exchange_market import replay

PLUGIN_MODULE = '''\
"""Pay as bid: the call auction's pairs, each trading at its buyer's limit price."""

from typing import ClassVar

from exchange.mechanisms import ClearingMechanism, Matches
from exchange.mechanisms.allocation import allocate, pair_units


class PayAsBid(ClearingMechanism):
    name: ClassVar[str] = "pay_as_bid"

    def match(self, book):
        alloc = allocate(book)
        leg_pos, sell_pos, quantity = pair_units(alloc)
        return Matches(
            buy=book.leg_order[alloc.leg[leg_pos]],
            sell=book.sell_order[alloc.sell[sell_pos]],
            tag=alloc.leg_tag[leg_pos],
            quantity=quantity,
            price=alloc.leg_price[leg_pos],
        )
'''


def write_plugin(root: Path, entry_point: str = "pay_as_bid = p2p_gym_pay_as_bid:PayAsBid") -> Path:
    """A package installed in ``root``: its module and its ``.dist-info`` metadata."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "p2p_gym_pay_as_bid.py").write_text(PLUGIN_MODULE)
    info = root / "p2p_gym_pay_as_bid-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: p2p-gym-pay-as-bid\nVersion: 0.1")
    (info / "entry_points.txt").write_text(f"[p2p_gym.mechanisms]\n{entry_point}\n")
    return root


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The plugin on ``sys.path`` for this test only (registry and metadata cache restored)."""
    available_mechanisms()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.syspath_prepend(str(write_plugin(tmp_path / "site")))
    registry._entry_points.cache_clear()
    yield tmp_path / "site"
    registry._entry_points.cache_clear()
    sys.modules.pop("p2p_gym_pay_as_bid", None)


def test_without_the_package_the_name_is_refused() -> None:
    assert "pay_as_bid" not in available_mechanisms()
    with pytest.raises(ValueError, match=r"'p2p_gym\.mechanisms' entry-point group"):
        ClearingParams(mechanism="pay_as_bid")


def test_an_installed_mechanism_is_named_before_it_is_imported_and_clears(installed: Path) -> None:
    assert available_mechanisms() == ("call", "cda", "midpoint", "pay_as_bid")
    assert "p2p_gym_pay_as_bid" not in sys.modules  # listed from the metadata alone
    orders = [
        Order.sell("s1", "home_03", 1200, "pv", 1850),
        Order.buy("b1", "home_07", 800, {"pv": 2300}),
    ]
    result = clear(orders, ClearingParams(mechanism="pay_as_bid"))
    assert [(t.buy, t.sell, t.quantity_wh, t.price) for t in result.trades] == [
        ("b1", "s1", 800, 2300)
    ]
    assert type(get_mechanism("pay_as_bid")).__module__ == "p2p_gym_pay_as_bid"


def test_the_environment_trades_with_it_and_its_ledger_replays(installed: Path) -> None:
    env = p2p_env.parallel_env(period="test", **{"market.mechanism": "pay_as_bid"})
    assert env.sim.config.market.mechanism == "pay_as_bid"
    episode = run_episode(env, make_policy("rule"), seed=0, options={"start": "2020-08-03"})
    assert episode.p2p_bought_wh.sum() > 0  # the rule-based homes trade at noon
    ledger = env.sim.recorder.ledger
    assert ledger is not None
    report = ledger.verify(replay=replay)
    assert report.ok, report.failure
    assert "replay" in report.checks
    # The recorded trades follow the plugin's rule: each at its buyer's limit for the tag.
    trades = 0
    for header in ledger.blocks():
        bids = {o["id"]: o.get("prices") for o in ledger.bodies(header.height, RecordKind.ORDER)}
        for trade in ledger.bodies(header.height, RecordKind.TRADE):
            assert trade["price"] == bids[trade["buy"]][trade["tag"]]
            trades += 1
    assert trades > 0
    np.testing.assert_array_equal(episode.p2p_paid_sen.sum(), episode.p2p_received_sen.sum())


@pytest.mark.parametrize(
    ("entry_point", "message"),
    [
        ("pay_as_bid = p2p_gym_pay_as_bid:Missing", "could not be loaded: AttributeError"),
        ("other_name = p2p_gym_pay_as_bid:PayAsBid", "gives a mechanism named 'pay_as_bid'"),
        ("pay_as_bid = p2p_gym_pay_as_bid:ClassVar", "not a ClearingMechanism"),
    ],
)
def test_a_broken_plugin_is_named_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_point: str, message: str
) -> None:
    available_mechanisms()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.syspath_prepend(str(write_plugin(tmp_path / "site", entry_point)))
    registry._entry_points.cache_clear()
    try:
        name = entry_point.split(" = ")[0]
        with pytest.raises(RuntimeError, match=message) as info:
            get_mechanism(name)
        assert f"entry point {name!r}" in str(info.value)
    finally:
        registry._entry_points.cache_clear()
        sys.modules.pop("p2p_gym_pay_as_bid", None)


def p2p_gym(args: list[str], path: Path | None) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter, with the plugin's folder on its path or not."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if path is not None:
        env["PYTHONPATH"] = str(path)
    return subprocess.run(
        [sys.executable, "-c", "from p2p_env.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )


def test_the_cli_simulates_with_it_and_verify_needs_the_package(tmp_path: Path) -> None:
    site = write_plugin(tmp_path / "site")
    ledger = tmp_path / "run.sqlite"
    run = ["simulate", "--policy", "rule", "--start", "2020-08-03", "--ledger", str(ledger)]
    done = p2p_gym([*run, "--set", "market.mechanism=pay_as_bid"], site)
    assert done.returncode == 0, done.stderr
    assert "ledger verified" in done.stdout
    verified = p2p_gym(["ledger", "verify", str(ledger), "--replay"], site)
    assert verified.returncode == 0, verified.stderr
    # Without the package the slots cannot be replayed here: a usage error, not an invalid
    # ledger; the hashes, links and certificates still verify.
    missing = p2p_gym(["ledger", "verify", str(ledger), "--replay"], None)
    assert missing.returncode == 2
    output = " ".join(missing.stderr.split())
    assert "cannot replay block 0: it was cleared with mechanism 'pay_as_bid'" in output
    assert "INVALID" not in missing.stdout + missing.stderr
    assert p2p_gym(["ledger", "verify", str(ledger)], None).returncode == 0
    refused = p2p_gym(["config", "show", "--set", "market.mechanism=pay_as_bid"], None)
    assert refused.returncode != 0
    assert "'p2p_gym.mechanisms' entry-point group" in " ".join(refused.stderr.split())


def _rule_breaker(name: str, **changes: int) -> ClearingMechanism:
    """The call auction's trades with one field of the first trade changed."""

    class Broken(ClearingMechanism):
        def match(self, book: Book) -> Matches:
            good = get_mechanism("call").match(book)
            columns = ("buy", "sell", "tag", "quantity", "price")
            fields = {column: getattr(good, column).copy() for column in columns}
            uniform = good.uniform_prices
            for field, value in changes.items():
                if field == "uniform_tag":
                    uniform = {value: 1900}
                else:
                    fields[field][0] = value
            return Matches(**fields, uniform_prices=uniform)

    Broken.name = name
    return Broken()


@pytest.mark.parametrize(
    ("changes", "rule"),
    [
        ({"quantity": 1000}, "buy order 1 traded 1000 Wh of its 800 Wh"),
        ({"price": 1849}, "the price is below the seller's limit"),
        ({"price": 2301}, "the price is above the buyer's limit"),
        ({"tag": 1}, "the seller does not sell this tag"),
        ({"sell": 1}, "the buy is not a buy or the sell not a sell"),
        ({"buy": 7}, "an order index out of the book"),
        ({"quantity": 0}, "a trade must move a positive quantity"),
    ],
)
def test_a_plugin_that_breaks_the_rules_is_stopped(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, int], rule: str
) -> None:
    available_mechanisms()
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register(_rule_breaker("broken_for_tests", **changes))
    orders = [
        Order.sell("s1", "home_03", 1200, "pv", 1850),
        Order.buy("b1", "home_07", 800, {"pv": 2300}),
    ]
    with pytest.raises(ValueError, match="mechanism 'broken_for_tests'") as info:
        clear(orders, ClearingParams(mechanism="broken_for_tests"))
    assert rule in str(info.value)
    # A uniform price must name a tag the book knows.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    del registry._REGISTRY["broken_for_tests"]
    register(_rule_breaker("broken_for_tests", uniform_tag=9))
    with pytest.raises(ValueError, match="uniform_prices must map tag codes"):
        clear(orders, ClearingParams(mechanism="broken_for_tests"))
    # Unchanged, the same trades pass the check.
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    del registry._REGISTRY["broken_for_tests"]
    register(_rule_breaker("broken_for_tests"))
    assert len(clear(orders, ClearingParams(mechanism="broken_for_tests")).trades) == 1
