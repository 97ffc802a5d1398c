"""The PPO result of experiments/README.md (run 2): residual PPO for the homes, others ``rule``.

``python experiments/train_ppo_home.py [--seed 0] [--max-minutes 22]`` runs the training
command of run 2 (validation on the whole July 2020, the untrained policy included), then
evaluates ``best/`` and ``rule`` on the held-out test period (August 2020) with 3 seeds against
``grid_only``, writing ``reports/ppo_home`` and ``reports/rule`` (compare them with
``p2p-gym report reports/ppo_home reports/rule``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from p2p_env.cli import app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-minutes", type=float, default=22.0)
    parser.add_argument("--timesteps", type=int, default=3_000_000)
    parser.add_argument("--run-dir", type=Path, default=None)
    args = parser.parse_args()
    run_dir = args.run_dir or Path(f"runs/higashifuji_demo__sb3-ppo__{args.seed}__residual-rule-v2")
    train = [
        "train",
        "--backend", "sb3", "--algo", "ppo", "--config", "higashifuji_demo",
        "--agent-type", "home", "--others", "rule", "--residual", "rule",
        "--timesteps", str(args.timesteps), "--max-minutes", str(args.max_minutes),
        "--seed", str(args.seed), "--eval-every", "96000", "--eval-days", "31",
        "--hp", "log_std_init=-2.0", "--hp", "learning_rate=1e-4", "--run-dir", str(run_dir),
    ]  # fmt: skip
    app(train, standalone_mode=False)
    for policy, out in ((str(run_dir / "best"), "reports/ppo_home"), ("rule", "reports/rule")):
        evaluate = ["evaluate", "--policy", policy, "--period", "test", "--seeds", "3"]
        app([*evaluate, "--out", out], standalone_mode=False)


if __name__ == "__main__":
    main()
