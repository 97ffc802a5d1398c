"""The SB3 VecEnv adapter's contract: shapes, episode ends, truncation info, seeding, SB3 runs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.vec_env import VecMonitor

from agents.rl.sb3_vec import AgentTypeVecEnv
from p2p_env.envs.parallel import P2PCommunityEnv
from p2p_env.policy import make_policy

SLOTS = 48  # one day: the demo's episode


def make(agent_type: str = "home", **kwargs: object) -> AgentTypeVecEnv:
    return AgentTypeVecEnv(P2PCommunityEnv(seed=0), agent_type, "rule", **kwargs)  # type: ignore[arg-type]


def test_one_sub_environment_per_agent_of_the_type() -> None:
    venv = make("home")
    try:
        env = venv.env
        homes = [a for a in env.possible_agents if env.agent_type[a] == "home"]
        assert venv.num_envs == len(homes) == 20
        assert venv.observation_space is env.observation_space(homes[0])
        assert venv.action_space is env.action_space(homes[0])
        obs = venv.reset()
        assert obs.shape == (20, *venv.observation_space.shape)
        assert obs.dtype == np.float32
        assert all(venv.observation_space.contains(row) for row in obs)
        assert venv.get_attr("render_mode") == [None] * 20
        assert venv.get_attr("period", indices=[0, 3]) == ["train", "train"]
        assert venv.env_is_wrapped(VecMonitor, indices=2) == [False]
        assert len(venv.env_method("observe_all", indices=[1])) == 1
    finally:
        venv.close()
    assert make("phv").num_envs == 9
    assert make("office").num_envs == 1
    with pytest.raises(ValueError, match="agent_type must be one of"):
        make("car")


def test_episode_end_is_a_time_limit_truncation_with_terminal_observation() -> None:
    venv = make("home")
    venv.seed(5)
    obs = venv.reset()
    start_slot = venv.env.sim.slot
    zeros = np.zeros((venv.num_envs, *venv.action_space.shape), dtype=np.float32)
    for step in range(SLOTS):
        previous = obs
        obs, rewards, dones, infos = venv.step(zeros)
        assert rewards.shape == (venv.num_envs,)
        assert rewards.dtype == np.float32
        if step < SLOTS - 1:
            assert not dones.any()
            assert all("terminal_observation" not in info for info in infos)
            assert all("TimeLimit.truncated" not in info for info in infos)
    assert dones.all()
    for i, info in enumerate(infos):
        assert info["TimeLimit.truncated"] is True
        terminal = info["terminal_observation"]
        assert terminal.shape == venv.observation_space.shape
        assert venv.observation_space.contains(terminal)
        # The terminal observation is the last slot's (23:30 -> midnight); the returned one
        # already belongs to the next episode, which the adapter reset by itself.
        assert not np.array_equal(terminal, obs[i])
    assert not np.array_equal(previous, obs)
    assert venv.env.agents  # reset: the next episode runs
    assert venv.env.sim.slot % SLOTS == 0
    assert start_slot % SLOTS == 0
    venv.close()


def test_seed_gives_the_same_rollout() -> None:
    def rollout(seed: int) -> tuple[np.ndarray, np.ndarray]:
        venv = make("home")
        venv.seed(seed)
        first = venv.reset()
        rng = np.random.default_rng(0)
        total = np.zeros(venv.num_envs)
        for _ in range(10):
            actions = rng.uniform(-1, 1, (venv.num_envs, *venv.action_space.shape))
            _, rewards, _, _ = venv.step(actions.astype(np.float32))
            total += rewards
        venv.close()
        return first, total

    a, b, c = rollout(3), rollout(3), rollout(4)
    assert np.array_equal(a[0], b[0])
    assert np.array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_residual_with_zero_correction_is_the_base_policy() -> None:
    residual = make("home", residual="rule")
    plain = make("home")
    rule = make_policy("rule")
    residual.seed(2)
    plain.seed(2)
    residual.reset()
    obs = plain.reset()
    rule.reset(plain.env.context, seed=None)
    zeros = np.zeros((residual.num_envs, *residual.action_space.shape), dtype=np.float32)
    for _ in range(SLOTS // 2):
        _, r_res, _, _ = residual.step(zeros)
        actions = rule.act("home", plain.learners, obs)
        obs, r_plain, _, _ = plain.step(actions)
        np.testing.assert_allclose(r_res, r_plain)
    residual.close()
    plain.close()


def test_ppo_with_seed_learns_and_is_reproducible() -> None:
    """SuperSuit's adapter crashes under PPO(seed=...); this one runs and repeats exactly."""

    def train(seed: int) -> torch.Tensor:
        venv = VecMonitor(make("home"))
        model = PPO("MlpPolicy", venv, seed=seed, n_steps=SLOTS, batch_size=240, n_epochs=1)
        model.learn(SLOTS * venv.num_envs * 2)
        assert model.num_timesteps == SLOTS * venv.num_envs * 2
        # VecMonitor saw the adapter's episode ends.
        assert len(model.ep_info_buffer) == 2 * venv.num_envs
        venv.close()
        return torch.cat([p.detach().flatten() for p in model.policy.parameters()])

    first, again = train(7), train(7)
    assert torch.equal(first, again)


def test_ppo_bootstraps_at_the_truncation() -> None:
    """SB3 reads the two keys: at the cut-off it adds gamma * V(terminal obs) to the reward."""
    venv = make("office")
    gamma = 0.9
    model = PPO("MlpPolicy", venv, seed=0, n_steps=SLOTS, batch_size=SLOTS, n_epochs=1, gamma=gamma)
    raw: list[float] = []
    terminal: list[np.ndarray] = []
    stored: list[float] = []
    expected_bonus: list[float] = []
    step_wait = venv.step_wait

    def recording_step_wait() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, object]]]:
        obs, rewards, dones, infos = step_wait()
        raw.append(float(rewards[0]))
        if dones[0]:
            terminal.append(np.asarray(infos[0]["terminal_observation"]))
        return obs, rewards, dones, infos

    add = model.rollout_buffer.add

    def recording_add(*args: object) -> None:
        stored.append(float(np.asarray(args[2])[0]))
        if terminal and len(stored) == SLOTS:
            with torch.no_grad():
                obs = torch.as_tensor(terminal[-1][None])
                expected_bonus.append(float(model.policy.predict_values(obs)[0, 0]) * gamma)
        add(*args)  # type: ignore[arg-type]

    venv.step_wait = recording_step_wait  # type: ignore[method-assign]
    model.rollout_buffer.add = recording_add  # type: ignore[method-assign]
    model.learn(SLOTS)
    venv.close()
    assert len(stored) == len(raw) == SLOTS
    np.testing.assert_allclose(stored[:-1], raw[:-1], rtol=1e-6)
    assert len(terminal) == 1
    assert len(expected_bonus) == 1
    assert expected_bonus[0] != 0.0
    assert stored[-1] == pytest.approx(raw[-1] + expected_bonus[0], rel=1e-5, abs=1e-6)


@pytest.mark.slow
def test_sac_runs() -> None:
    venv = VecMonitor(make("phv"))
    model = SAC("MlpPolicy", venv, seed=1, learning_starts=50, batch_size=32, buffer_size=2_000)
    model.learn(200)
    assert model.num_timesteps >= 200
    venv.close()
