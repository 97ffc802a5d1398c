"""PettingZoo and Gymnasium environments around the community simulator."""

from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.envs.single import SingleAgentEnv

__all__ = ["P2PCommunityEnv", "SingleAgentEnv"]
