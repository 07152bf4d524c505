"""Week 1: value iteration on slippery FrozenLake 8×8 to a 1e-10 Bellman residual (target ≤ 50 ms).

Ours is `tabular.value_iteration`: one `(S·A, S) @ (S,)` product per sweep, plus the residual and the
greedy-policy bookkeeping the studies plot. The peer is the textbook loop most tutorials write, over
gymnasium's own `P[s][a] = [(p, s', r, done), …]` dict (written here, ~10 lines), run to the same residual.
Both start from V = 0, use γ = 0.99 and must land on the same V*.
"""

from __future__ import annotations

import numpy as np

from benchmarks.common import Row, best_of, report
from studyforge.experiments.mdp import envs, tabular

GAMMA = 0.99
THETA = 1e-10


def dict_loop_value_iteration(table: dict, n_states: int, n_actions: int, gamma: float, theta: float):
    """Value iteration as a pure-Python loop over a gymnasium toy-text table (the peer)."""
    V = [0.0] * n_states
    sweeps = 0
    while True:
        sweeps += 1
        new = [max(sum(p * (r + gamma * (0.0 if done else V[s2])) for p, s2, r, done in table[s][a])
                   for a in range(n_actions)) for s in range(n_states)]
        delta = max(abs(a - b) for a, b in zip(new, V, strict=True))
        V = new
        if delta < theta:
            return np.array(V), sweeps


def main() -> bool:
    import gymnasium as gym

    env = envs.frozenlake(8)
    raw = gym.make("FrozenLake-v1", map_name="8x8", is_slippery=True).unwrapped
    n_s, n_a = raw.observation_space.n, raw.action_space.n

    ours = tabular.value_iteration(env.mdp, GAMMA, THETA)
    peer_V, peer_sweeps = dict_loop_value_iteration(raw.P, n_s, n_a, GAMMA, THETA)
    agree = float(np.abs(ours.values - peer_V).max())

    t_ours = best_of(lambda: tabular.value_iteration(env.mdp, GAMMA, THETA), repeat=5)
    t_peer = best_of(lambda: dict_loop_value_iteration(raw.P, n_s, n_a, GAMMA, THETA), repeat=1)
    t_gs = best_of(lambda: tabular.value_iteration(env.mdp, GAMMA, THETA, in_place=True), repeat=3)
    t_pi = best_of(lambda: tabular.policy_iteration(env.mdp, GAMMA), repeat=5)
    gs_sweeps = tabular.value_iteration(env.mdp, GAMMA, THETA, in_place=True).iterations
    pi_solves = tabular.policy_iteration(env.mdp, GAMMA).iterations
    rows = [
        Row(f"VI FrozenLake 8×8, γ={GAMMA}, to {THETA:g} ({ours.iterations} sweeps)", t_ours * 1e3, "ms",
            peer=t_peer * 1e3, peer_name=f"dict loop, {peer_sweeps} sweeps", target="≤ 50 ms",
            ok=t_ours <= 0.050 and ours.converged),
        Row("VI vs dict-loop VI: max |ΔV|", agree, "", target="≤ 1e-8", ok=agree <= 1e-8),
        Row(f"in-place VI (Gauss–Seidel, {gs_sweeps} sweeps)", t_gs * 1e3, "ms"),
        Row(f"policy iteration, exact evaluation ({pi_solves} solves)", t_pi * 1e3, "ms"),
    ]
    return report("Week 1: tabular dynamic programming", rows)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
