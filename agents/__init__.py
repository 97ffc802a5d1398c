"""Policies for the community's agents: baselines, forecasters, trained RL policy loaders."""
