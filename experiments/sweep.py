"""Sweep seeds and hyperparameters with Ray Tune: ``python experiments/sweep.py SWEEP.yaml``.

The same as ``p2p-gym sweep SWEEP.yaml``; the file's keys are documented in
:mod:`agents.rl.sweep`. Trials write their TensorBoard folders under ``runs_root/<name>/``.
"""

from __future__ import annotations

import sys

from p2p_env.cli import app

if __name__ == "__main__":
    app(["sweep", *sys.argv[1:]])
