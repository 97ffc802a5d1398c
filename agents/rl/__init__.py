"""Reinforcement learning for the community: stable-baselines3 and Ray RLlib adapters, training,
and loading trained policies back as :class:`p2p_env.policy.Policy` objects.

Nothing here is imported by ``p2p_env``; the CLI reaches it inside its command functions, and the
heavy libraries (torch, stable-baselines3, ray) are imported by the submodules that need them.
"""
