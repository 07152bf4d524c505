"""The week-1 environments as tabular MDPs on a grid, each able to draw itself and to roll out a policy.

- `sb_gridworld()`      Sutton & Barto's Example 4.1: a 4×4 grid, terminal corners, −1 per step.
- `frozenlake(n)`       FrozenLake 4×4 / 8×8, slippery, built from gymnasium's own transition table
                        (`gymnasium.make("FrozenLake-v1", ...).unwrapped.P`), so the model *is* the env.
- `cliffwalking()`      S&B Example 6.6, from gymnasium's `CliffWalking-v1` table.
- `maze(layout)`        a grid with walls and windy cells parsed from text (format below);
  `windy_gridworld()`   is S&B Example 6.5 written in that format.

Actions move the agent one cell in a compass direction; each env records its own action order
(`action_deltas`, gymnasium's for FrozenLake and CliffWalking) so policies can be drawn as arrows.

Maze layout format: one string per grid row, cells separated by whitespace::

    .   floor                 #   wall (not a state)
    S   start (floor)         G   goal (terminal; reaching it is success)
    ^ v < >   windy floor: after the move, the wind pushes the agent one cell that way;
    ^2 >3 …   a digit after the arrow is the wind's strength (cells pushed)

The move and the wind follow S&B's windy gridworld: the agent first moves one cell (an edge or a wall
leaves it in place), then the wind *of the cell it left* pushes it cell by cell, stopping before an edge or
a wall. With `stochastic_wind`, a windy cell's strength is k−1, k or k+1 with probability 1/3 each
(S&B Exercise 6.10). Every step costs `step_reward` (−1: episodes end as soon as possible, so γ = 1 works).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from studyforge.experiments.mdp.tabular import TabularMDP, as_stochastic

# (row, col) offsets of the compass actions in the order up, right, down, left (CliffWalking's order)
URDL = ((-1, 0), (0, 1), (1, 0), (0, -1))
# FrozenLake's order: left, down, right, up
LDRU = ((0, -1), (1, 0), (0, 1), (-1, 0))
WIND_DIRECTIONS = {"^": (-1, 0), "v": (1, 0), "<": (0, -1), ">": (0, 1)}


@dataclass
class GridEnv:
    """A tabular MDP whose states are cells of a grid, plus what is needed to draw it and to test a policy."""

    key: str  # stable id used in summaries: "frozenlake8x8"
    title: str
    mdp: TabularMDP
    shape: tuple[int, int]  # (rows, cols) of the grid
    cells: np.ndarray  # (S, 2) grid (row, col) of each state
    layout: list[list[str]]  # (rows, cols) tokens for drawing: S F H G . # C ^2 …
    start: np.ndarray  # (S,) distribution of the first state
    goal: np.ndarray  # (S,) bool: the terminal states that count as success
    action_deltas: tuple[tuple[int, int], ...]
    horizon: int  # step limit of an episode (gymnasium's TimeLimit where it has one)
    gym_id: str | None = None  # gymnasium id of the real environment, if there is one
    gym_kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def index(self) -> dict[tuple[int, int], int]:
        """(row, col) -> state."""
        return {(int(r), int(c)): s for s, (r, c) in enumerate(self.cells)}

    @property
    def start_state(self) -> int:
        """The most likely start state (the only one, except in the S&B gridworld)."""
        return int(self.start.argmax())

    def start_value(self, values: np.ndarray) -> float:
        """E[V(S_0)]: the values averaged over the start distribution (V(start) with a single start)."""
        return float(self.start @ values)

    def grid(self, per_state: np.ndarray, fill: float = np.nan) -> np.ndarray:
        """Scatter a per-state array (S,) onto the (rows, cols) grid; cells without a state get `fill`."""
        out = np.full(self.shape, fill, dtype=np.float64)
        out[self.cells[:, 0], self.cells[:, 1]] = per_state
        return out

    def success_probability(self, policy: np.ndarray, horizon: int | None = None) -> float:
        """Exact probability that `policy` reaches a goal within `horizon` steps, from the model.

        d_{t+1} = d_t P_π with terminal states absorbing, so the goal mass only accumulates.
        """
        P_pi, _ = self.mdp.policy_matrices(as_stochastic(policy, self.mdp.n_actions))
        d = self.start.copy()  # (S,)
        for _ in range(self.horizon if horizon is None else horizon):
            # d_{t+1}(s') = Σ_s d_t(s) P_π(s, s')
            d = d @ P_pi
        return float(d[self.goal].sum())

    def rollout_success(self, policy: np.ndarray, episodes: int, seed: int) -> float:
        """Fraction of `episodes` in which the deterministic `policy` (S,) reaches a goal.

        Runs in the real gymnasium environment when there is one (first reset seeded with `seed`, the
        following episodes continue its random stream), otherwise samples the tabular model with
        `numpy.random.default_rng(seed)`. Episodes stop at `horizon` steps.
        """
        policy = np.asarray(policy, dtype=np.int64)
        if self.gym_id is not None:
            return _gym_success(self, policy, episodes, seed)
        rng = np.random.default_rng(seed)
        cum = np.cumsum(self.mdp.P, axis=2)  # (S, A, S) for inverse-CDF sampling
        wins = 0
        for _ in range(episodes):
            s = int(rng.choice(self.mdp.n_states, p=self.start))
            for _ in range(self.horizon):
                if self.mdp.terminal[s]:
                    break
                # inverse-CDF sample of s' ~ P(·|s, π(s)); min() guards against round-off in the last bin
                s2 = int(np.searchsorted(cum[s, policy[s]], rng.random(), side="right"))
                s = min(s2, self.mdp.n_states - 1)
            wins += bool(self.goal[s])
        return wins / episodes


def _gym_success(env: GridEnv, policy: np.ndarray, episodes: int, seed: int) -> float:
    import gymnasium as gym

    real = gym.make(env.gym_id, max_episode_steps=env.horizon, **env.gym_kwargs)
    wins = 0
    try:
        for episode in range(episodes):
            obs, _ = real.reset(seed=seed if episode == 0 else None)
            done = False
            while not done:
                obs, _, terminated, truncated, _ = real.step(int(policy[obs]))
                done = terminated or truncated
            wins += bool(terminated and env.goal[obs])
    finally:
        real.close()
    return wins / episodes


# ---------------------------------------------------------------------------------------------------------
# Sutton & Barto, Example 4.1
# ---------------------------------------------------------------------------------------------------------


def sb_gridworld() -> GridEnv:
    """S&B Example 4.1: 4×4 grid, states 1–14 non-terminal, the two shaded corners terminal, −1 per step.

    Actions up/right/down/left move deterministically; one that would leave the grid leaves the state
    unchanged. Episodes start in a uniformly random non-terminal state.

    >>> env = sb_gridworld()
    >>> int(env.mdp.P[1, 3].argmax()), int(env.mdp.P[3, 0].argmax()), float(env.mdp.r_sa[5, 0])  # left, up
    (0, 3, -1.0)
    """
    n = 4
    S, A = n * n, len(URDL)
    P = np.zeros((S, A, S))
    R = np.full((S, A, S), -1.0)
    for s in range(S):
        r, c = divmod(s, n)
        for a, (dr, dc) in enumerate(URDL):
            r2, c2 = r + dr, c + dc
            s2 = r2 * n + c2 if 0 <= r2 < n and 0 <= c2 < n else s
            P[s, a, s2] = 1.0
    terminal = np.zeros(S, dtype=bool)
    terminal[[0, S - 1]] = True
    start = (~terminal) / (~terminal).sum()
    layout = [["G" if r * n + c in (0, S - 1) else "." for c in range(n)] for r in range(n)]
    cells = np.array([divmod(s, n) for s in range(S)])
    return GridEnv("sb_gridworld", "Sutton & Barto 4×4 gridworld (Example 4.1)", TabularMDP(P, R, terminal),
                   (n, n), cells, layout, start, terminal.copy(), URDL, horizon=100)


# ---------------------------------------------------------------------------------------------------------
# gymnasium's toy-text tables: FrozenLake, CliffWalking
# ---------------------------------------------------------------------------------------------------------


def mdp_from_gym_table(table: dict[int, dict[int, list[tuple]]], n_states: int, n_actions: int) -> TabularMDP:
    """A `TabularMDP` from a gymnasium toy-text table `P[s][a] = [(prob, next_state, reward, terminated)]`.

    Duplicate outcomes (two slip directions hitting the same wall) add their probabilities; a state reached
    with `terminated=True` becomes terminal (absorbing, zero reward), whatever its own row says — in
    CliffWalking the goal's row still moves, but the episode has ended before it is used.

    >>> mdp = mdp_from_gym_table({0: {0: [(0.5, 1, 1.0, True), (0.5, 0, 0.0, False)]},
    ...                           1: {0: [(1.0, 1, 0.0, True)]}}, 2, 1)
    >>> mdp.P[0, 0].tolist(), mdp.r_sa[0].tolist(), mdp.terminal.tolist()
    ([0.5, 0.5], [0.5], [False, True])
    """
    P = np.zeros((n_states, n_actions, n_states))
    PR = np.zeros_like(P)  # Σ p·r per (s, a, s'), divided by P below
    ends, goes_on = set(), set()
    for s, by_action in table.items():
        for a, outcomes in by_action.items():
            for prob, s2, reward, terminated in outcomes:
                P[s, a, int(s2)] += prob
                PR[s, a, int(s2)] += prob * reward
                (ends if terminated else goes_on).add(int(s2))
    if ends & goes_on:
        raise ValueError(f"states {sorted(ends & goes_on)} end the episode on some transitions only")
    R = np.divide(PR, P, out=np.zeros_like(P), where=P > 0)
    terminal = np.zeros(n_states, dtype=bool)
    terminal[sorted(ends)] = True
    return TabularMDP(P, R, terminal)


def frozenlake(size: int = 4) -> GridEnv:
    """Slippery FrozenLake (`map_name` "4x4" or "8x8"): the intended move happens with probability 1/3,
    each perpendicular one with 1/3. Reward 1 on reaching G; holes H end the episode with 0."""
    import gymnasium as gym

    map_name = f"{size}x{size}"
    real = gym.make("FrozenLake-v1", map_name=map_name, is_slippery=True)
    raw = real.unwrapped
    desc = [[ch.decode() for ch in row] for row in raw.desc]
    horizon = int(real.spec.max_episode_steps or 100)
    real.close()
    n_states, n_actions = raw.observation_space.n, raw.action_space.n
    mdp = mdp_from_gym_table(raw.P, n_states, n_actions)
    flat = [ch for row in desc for ch in row]
    start = np.array([ch == "S" for ch in flat], dtype=np.float64)
    goal = np.array([ch == "G" for ch in flat])
    cells = np.array([divmod(s, size) for s in range(n_states)])
    return GridEnv(f"frozenlake{map_name}", f"FrozenLake {map_name} (slippery)", mdp, (size, size), cells,
                   desc, start, goal, LDRU, horizon, gym_id="FrozenLake-v1",
                   gym_kwargs={"map_name": map_name, "is_slippery": True})


def _cliff_id() -> str:
    from gymnasium.envs.registration import registry

    return "CliffWalking-v1" if "CliffWalking-v1" in registry else "CliffWalking-v0"


def cliffwalking() -> GridEnv:
    """S&B Example 6.6 as in gymnasium: 4×12, start bottom-left, goal bottom-right, −1 per step, −100 and
    back to the start for stepping into the cliff. The cliff cells are states of gymnasium's table that
    no transition reaches."""
    import gymnasium as gym

    gym_id = _cliff_id()
    real = gym.make(gym_id)
    raw = real.unwrapped
    rows, cols = raw.shape
    n_states, n_actions = raw.observation_space.n, raw.action_space.n
    mdp = mdp_from_gym_table(raw.P, n_states, n_actions)
    real.close()
    layout = [["." for _ in range(cols)] for _ in range(rows)]
    for c in range(1, cols - 1):
        layout[rows - 1][c] = "C"
    layout[rows - 1][0], layout[rows - 1][cols - 1] = "S", "G"
    start = np.zeros(n_states)
    start[int(raw.start_state_index)] = 1.0
    cells = np.array([divmod(s, cols) for s in range(n_states)])
    return GridEnv("cliffwalking", "CliffWalking (S&B Example 6.6)", mdp, (rows, cols), cells, layout, start,
                   mdp.terminal.copy(), URDL, horizon=200, gym_id=gym_id)


# ---------------------------------------------------------------------------------------------------------
# mazes with walls and wind
# ---------------------------------------------------------------------------------------------------------

# S&B Example 6.5: 7×10, wind strengths 0 0 0 1 1 1 2 2 1 0 (upward) by column; optimal episode: 15 steps
WINDY_GRIDWORLD = [
    ".  .  .  ^  ^  ^  ^2 ^2 ^  .",
    ".  .  .  ^  ^  ^  ^2 ^2 ^  .",
    ".  .  .  ^  ^  ^  ^2 ^2 ^  .",
    "S  .  .  ^  ^  ^  ^2 G  ^  .",
    ".  .  .  ^  ^  ^  ^2 ^2 ^  .",
    ".  .  .  ^  ^  ^  ^2 ^2 ^  .",
    ".  .  .  ^  ^  ^  ^2 ^2 ^  .",
]

# the study's default maze: walls force a detour, an updraught column and an eastward gust guard the goal
DEFAULT_MAZE = [
    "S  .  .  #  .  .  .  .",
    ".  #  .  #  .  ^  ^  .",
    ".  #  .  .  .  ^  ^  .",
    ".  #  #  #  .  ^  ^  #",
    ".  .  .  #  >  ^  ^  G",
    "#  #  .  .  .  .  .  .",
]


@dataclass(frozen=True)
class Cell:
    """One parsed layout token: `Cell.parse("^2")` -> Cell(kind='.', wind=(-1, 0), strength=2)."""

    kind: str  # ".", "#", "S", "G"
    wind: tuple[int, int] = (0, 0)
    strength: int = 0

    @staticmethod
    def parse(token: str) -> Cell:
        """`"#"` -> wall, `"S"` -> start, `">"` -> eastward wind of strength 1, `"v3"` -> southward, 3.

        >>> Cell.parse("v3"), Cell.parse("G").kind
        (Cell(kind='.', wind=(1, 0), strength=3), 'G')
        """
        if token in (".", "#", "S", "G"):
            return Cell(token)
        head, tail = token[0], token[1:]
        if head in WIND_DIRECTIONS and (tail == "" or tail.isdigit()):
            return Cell(".", WIND_DIRECTIONS[head], int(tail or 1))
        raise ValueError(f"unknown maze token {token!r}: use . # S G, or a wind ^ v < > with an optional "
                         "strength digit")


def parse_layout(rows: list[str]) -> list[list[Cell]]:
    """Layout strings -> grid of cells (rows must have equal length; exactly one S and at least one G).

    >>> [[c.kind for c in row] for row in parse_layout(["S . #", "^ . G"])]
    [['S', '.', '#'], ['.', '.', 'G']]
    """
    grid = [[Cell.parse(tok) for tok in row.split()] for row in rows]
    if not grid or len({len(r) for r in grid}) != 1 or not grid[0]:
        raise ValueError("maze rows must be non-empty and of equal length")
    kinds = [c.kind for row in grid for c in row]
    if kinds.count("S") != 1 or kinds.count("G") < 1:
        raise ValueError(f"a maze needs exactly one S and at least one G (found {kinds.count('S')} S, "
                         f"{kinds.count('G')} G)")
    return grid


def maze(
    layout: list[str] | None = None,
    step_reward: float = -1.0,
    stochastic_wind: bool = False,
    key: str = "maze",
    title: str = "Windy maze",
    horizon: int = 200,
) -> GridEnv:
    """A gridworld with walls and windy cells from a text layout (format in the module docstring).

    >>> env = maze(["S  .  .", ".  ^  G"])
    >>> s = env.index[(1, 1)]; int(env.mdp.P[s, 1].argmax()) == env.index[(0, 2)]   # east, then blown north
    True
    """
    grid = parse_layout(DEFAULT_MAZE if layout is None else layout)
    rows, cols = len(grid), len(grid[0])
    coords = [(r, c) for r in range(rows) for c in range(cols) if grid[r][c].kind != "#"]
    index = {rc: i for i, rc in enumerate(coords)}
    S, A = len(coords), len(URDL)

    def free(r: int, c: int) -> bool:
        return 0 <= r < rows and 0 <= c < cols and grid[r][c].kind != "#"

    P = np.zeros((S, A, S))
    for s, (r, c) in enumerate(coords):
        cell = grid[r][c]
        if cell.strength and stochastic_wind:
            pushes = [(max(cell.strength + d, 0), 1 / 3) for d in (-1, 0, 1)]
        else:
            pushes = [(cell.strength, 1.0)]
        for a, (dr, dc) in enumerate(URDL):
            # the move: one cell, unless an edge or a wall is in the way
            r1, c1 = (r + dr, c + dc) if free(r + dr, c + dc) else (r, c)
            for strength, prob in pushes:
                # the wind of the cell left behind pushes cell by cell, stopping before edges and walls
                r2, c2 = r1, c1
                for _ in range(strength):
                    if not free(r2 + cell.wind[0], c2 + cell.wind[1]):
                        break
                    r2, c2 = r2 + cell.wind[0], c2 + cell.wind[1]
                P[s, a, index[(r2, c2)]] += prob
    R = np.full((S, A, S), float(step_reward))
    goal = np.array([grid[r][c].kind == "G" for r, c in coords])
    start = np.array([grid[r][c].kind == "S" for r, c in coords], dtype=np.float64)
    tokens = [row.split() for row in (DEFAULT_MAZE if layout is None else layout)]
    return GridEnv(key, title, TabularMDP(P, R, goal), (rows, cols), np.array(coords), tokens, start,
                   goal.copy(), URDL, horizon)


def windy_gridworld(stochastic_wind: bool = False) -> GridEnv:
    """S&B Example 6.5 (7×10, upward wind by column); with γ = 1 the optimal return is −15."""
    title = "Windy gridworld (S&B Example 6.5" + (", stochastic wind)" if stochastic_wind else ")")
    key = "windy_gridworld_stochastic" if stochastic_wind else "windy_gridworld"
    return maze(WINDY_GRIDWORLD, stochastic_wind=stochastic_wind, key=key, title=title)


# ---------------------------------------------------------------------------------------------------------
# by name
# ---------------------------------------------------------------------------------------------------------

ENV_KEYS = ("sb_gridworld", "frozenlake4x4", "frozenlake8x8", "cliffwalking", "windy_gridworld",
            "windy_gridworld_stochastic", "maze")


def make(key: str, maze_layout: list[str] | None = None) -> GridEnv:
    """Build an environment by its summary key (one of `ENV_KEYS`); `maze_layout` is for "maze" only."""
    if key == "sb_gridworld":
        return sb_gridworld()
    if key in ("frozenlake4x4", "frozenlake8x8"):
        return frozenlake(int(key[-1]))
    if key == "cliffwalking":
        return cliffwalking()
    if key in ("windy_gridworld", "windy_gridworld_stochastic"):
        return windy_gridworld(stochastic_wind=key.endswith("stochastic"))
    if key == "maze":
        return maze(maze_layout)
    raise ValueError(f"unknown environment {key!r}; known: {', '.join(ENV_KEYS)}")
