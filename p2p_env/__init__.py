"""p2p-gym's community simulator and environments, with its config, data and command line.

* :func:`parallel_env` -> a PettingZoo ``ParallelEnv`` of the whole community;
* :func:`env` -> the same as a PettingZoo AEC environment;
* ``gymnasium.make("p2p_env/SingleAgent-v0", agent="home_00", others="rule")`` -> one agent's
  Gymnasium view (registered on ``import p2p_env``).

The environment modules (and pettingzoo) load on first use, so ``p2p-gym`` commands that do not
step the environment start quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import gymnasium

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pettingzoo import AECEnv

    from p2p_env.envs.parallel import P2PCommunityEnv

if "p2p_env/SingleAgent-v0" not in gymnasium.registry:
    gymnasium.register(
        id="p2p_env/SingleAgent-v0",
        entry_point="p2p_env.envs.single:SingleAgentEnv",
        disable_env_checker=False,
    )


def parallel_env(**kwargs: Any) -> P2PCommunityEnv:
    """The community as a PettingZoo ``ParallelEnv`` (arguments: :class:`P2PCommunityEnv`)."""
    from p2p_env.envs.parallel import P2PCommunityEnv

    return P2PCommunityEnv(**kwargs)


def env(**kwargs: Any) -> AECEnv[str, Any, Any]:
    """The community as a PettingZoo AEC environment (agents act one after another)."""
    from pettingzoo.utils.conversions import parallel_to_aec

    return parallel_to_aec(parallel_env(**kwargs))
