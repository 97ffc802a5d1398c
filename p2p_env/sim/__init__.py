"""The community simulator core: storage physics, tariffs and settlement (no RL library imports)."""
