"""Environments: one factory for every id the RL studies use, and the vector env they step.

Ids understood by `make_env`:

- any gymnasium id (`CartPole-v1`, `Acrobot-v1`, `MountainCar-v0`, `LunarLander-v3` through the `gymnasium[box2d]` dependency);
- `ConstrainedCartPole-v1`: CartPole-v1 plus a cost signal (see `CentralBandCost`), the constrained task of
  week 4;
- `MinAtar/<game>` (`MinAtar/Breakout`, …): Young & Tian's miniature Atari games (arXiv 1903.03176) from the
  `minatar` package, as channels-first float observations;
- `ALE/<Game>-v5`: Arcade Learning Environment games through `ale-py` with the standard DQN preprocessing
  (84×84 grey, frame skip 4, 4 stacked frames).

Time limits matter for bootstrapping: gymnasium's `TimeLimit` reports `truncated=True` at the limit, and the
rollout code treats that as "the episode was cut", not "the episode ended" (see `policy_gradient.storage`).

The vector env uses gymnasium ≥ 1.0's `AutoresetMode.SAME_STEP`: when a sub-env finishes, `step` returns the
first observation of its next episode and puts the true last observation in `infos["final_obs"]` — the one
the value of a truncated episode must be bootstrapped from. (The default `NEXT_STEP` mode returns the last
observation and resets on the following call, which costs every rollout one dead step per episode.)
"""

from __future__ import annotations

import logging
from typing import Any

import gymnasium as gym
import numpy as np

from studyforge.errors import ForgeError

CONSTRAINED_CARTPOLE = "ConstrainedCartPole-v1"


class CentralBandCost(gym.Wrapper):
    """CartPole with a safety cost: `info["cost"] = 1` on every step that ends with the cart outside
    the central band |x| ≤ `band` (the track runs from −2.4 to 2.4; leaving it still ends the episode).

    The reward is unchanged (+1 per step the pole stays up), so a return-maximising policy has no reason
    to stay near the centre: a policy that balances for 500 steps while drifting collects cost. The
    constrained studies ask for an expected episode cost ≤ a limit d, e.g. "at most 25 of the 500 steps
    outside the band".
    """

    def __init__(self, env: gym.Env, band: float = 0.2):
        super().__init__(env)
        self.band = band

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        # c_t = 1[|x_{t+1}| > band]
        info["cost"] = float(abs(obs[0]) > self.band)
        return obs, reward, terminated, truncated, info


class MinAtarEnv(gym.Env):
    """A MinAtar game (Young & Tian, 2019, arXiv 1903.03176) as a gymnasium env.

    Observations are the game's 10×10×C boolean grid turned into (C, 10, 10) float32 (channels first, as
    PyTorch convolutions want). The full 6-action set and sticky actions (p = 0.1) match the paper.
    `reset(seed=s)` seeds the game's own random state, so episodes are reproducible.
    """

    metadata = {"render_modes": []}

    def __init__(self, game: str, sticky_action_prob: float = 0.1, difficulty_ramping: bool = True):
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # minatar logs a warning when seaborn (rendering only) is missing
        try:
            from minatar import Environment
        except ImportError as exc:
            raise ForgeError("MinAtar environments need the `minatar` package",
                             hint="pip install minatar (or --set env=CartPole-v1)") from exc
        finally:
            root.setLevel(level)
        self.game = Environment(game, sticky_action_prob=sticky_action_prob,
                                difficulty_ramping=difficulty_ramping)
        h, w, c = self.game.state_shape()
        self.observation_space = gym.spaces.Box(0.0, 1.0, shape=(c, h, w), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(self.game.num_actions())

    def _obs(self) -> np.ndarray:
        # (10, 10, C) bool -> (C, 10, 10) float32
        return np.ascontiguousarray(self.game.state().transpose(2, 0, 1), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self.game.seed(seed)
        self.game.reset()
        return self._obs(), {}

    def step(self, action):
        reward, done = self.game.act(int(action))
        return self._obs(), float(reward), bool(done), False, {}


def make_env(env_id: str, max_episode_steps: int | None = None, **kwargs: Any) -> gym.Env:
    """One environment for `env_id` (see the module docstring for the ids understood).

    >>> env = make_env("ConstrainedCartPole-v1")
    >>> obs, info = env.reset(seed=0)
    >>> _, reward, _, _, info = env.step(0)
    >>> reward, sorted(info)
    (1.0, ['cost'])
    """
    if env_id == CONSTRAINED_CARTPOLE:
        band = kwargs.pop("band", 0.2)
        return CentralBandCost(gym.make("CartPole-v1", max_episode_steps=max_episode_steps, **kwargs), band)
    if env_id.startswith("MinAtar/"):
        game = env_id.split("/", 1)[1].lower().replace("-v1", "").replace("-v0", "")
        return gym.wrappers.TimeLimit(MinAtarEnv(game, **kwargs), max_episode_steps or 10_000)
    if env_id.startswith("ALE/"):
        return _make_atari(env_id, max_episode_steps, **kwargs)
    try:
        return gym.make(env_id, max_episode_steps=max_episode_steps, **kwargs)
    except gym.error.DependencyNotInstalled as exc:
        raise ForgeError(f"environment {env_id!r} needs a package that is not installed: {exc}",
                         hint="install it (Box2D envs: pip install 'gymnasium[box2d]') or choose another env") from exc
    except gym.error.Error as exc:
        raise ForgeError(f"unknown environment {env_id!r}: {exc}",
                         hint="use a gymnasium id, ConstrainedCartPole-v1, MinAtar/<game> or ALE/<Game>-v5") \
            from exc


def _make_atari(env_id: str, max_episode_steps: int | None, **kwargs: Any) -> gym.Env:
    """DQN-style Atari preprocessing (Mnih et al., 2015): no-op starts, frame skip 4, 84×84 grey, 4 frames."""
    try:
        import ale_py
    except ImportError as exc:
        raise ForgeError(f"{env_id} needs `ale-py` (it ships the Atari ROMs)",
                         hint="pip install ale-py, or use MinAtar/Breakout") from exc
    gym.register_envs(ale_py)
    env = gym.make(env_id, frameskip=1, max_episode_steps=max_episode_steps, **kwargs)
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=84, grayscale_obs=True,
                                          scale_obs=True)
    env = gym.wrappers.FrameStackObservation(env, 4)
    return gym.wrappers.TransformObservation(env, lambda o: np.asarray(o, dtype=np.float32),
                                             env.observation_space)


def make_vector_env(env_id: str, num_envs: int, max_episode_steps: int | None = None,
                    **kwargs: Any) -> gym.vector.SyncVectorEnv:
    """`num_envs` copies of `env_id` stepped in lock step, with same-step autoreset (module docstring).

    Seed it with `envs.reset(seed=s)`: sub-env i gets seed s + i.
    """
    return gym.vector.SyncVectorEnv(
        [lambda: make_env(env_id, max_episode_steps, **dict(kwargs)) for _ in range(num_envs)],
        copy=False, autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def env_spec(env_id: str, **kwargs: Any) -> tuple[tuple[int, ...], int]:
    """(observation shape, number of actions) of `env_id`: `"CartPole-v1"` -> `((4,), 2)`."""
    env = make_env(env_id, **kwargs)
    try:
        if not isinstance(env.action_space, gym.spaces.Discrete):
            raise ForgeError(f"{env_id} has a {type(env.action_space).__name__} action space",
                             hint="the policy-gradient studies use discrete-action environments")
        return tuple(env.observation_space.shape), int(env.action_space.n)
    finally:
        env.close()


def final_values(infos: dict[str, Any], key: str, done: np.ndarray) -> np.ndarray:
    """Per-env `infos[key]` of the step just taken, where finished sub-envs keep theirs in `final_info`.

    With same-step autoreset the top-level `infos` of a finished sub-env hold its *reset* info, so the last
    step's values (a cost, say) sit in `infos["final_info"]`; missing values read as 0.
    """
    out = np.zeros(len(done), dtype=np.float64)
    if key in infos:
        out = np.where(infos[f"_{key}"], infos[key], 0.0)
    final = infos.get("final_info", {})
    if key in final:
        mask = final[f"_{key}"] & done
        out = np.where(mask, final[key], out)
    return out
