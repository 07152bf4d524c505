"""Tabular MDPs and dynamic programming: policy evaluation, value iteration, policy iteration, modified PI.

Sutton & Barto, "Reinforcement Learning: An Introduction" (2nd ed., 2018), chapters 3–4; Bellman,
"Dynamic Programming" (1957); Howard, "Dynamic Programming and Markov Processes" (1960); Puterman & Shin,
"Modified Policy Iteration Algorithms for Discounted Markov Decision Problems" (Management Science, 1978).
These predate arXiv, so there are no arXiv ids to cite.

A finite MDP is two arrays: `P[s, a, s'] = p(s' | s, a)` and `R[s, a, s']`, the reward received on that
transition. Terminal states are absorbing with zero reward, so the same equations hold for episodic and
continuing tasks, and γ = 1 is allowed on episodic tasks where every policy we evaluate reaches a terminal
state (a "proper" policy in Bertsekas' stochastic-shortest-path sense). Everything is vectorised over
states and actions: one sweep of the Bellman operator is one matrix–vector product,

    Q(s, a) = r(s, a) + γ Σ_s' P(s' | s, a) V(s'),        r(s, a) = Σ_s' P(s' | s, a) R(s, a, s'),

computed as `(S·A, S) @ (S,)` on `P` viewed as a matrix. The Gauss–Seidel ("in-place") variants update
one state at a time and use the new values at once, as in Sutton & Barto's boxed algorithms.

Every solver returns a `Solution`: the values, the greedy policy and a per-iteration history of the
Bellman residual ‖V_{k+1} − V_k‖∞, the number of greedy-policy changes, the evaluation sweeps spent and
the wall time, which is what the week-1 studies plot and compare.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

# Two actions whose Q-values differ by less than this (relative to the scale of Q) count as tied: the greedy
# policy keeps its previous action, so floating-point noise cannot make policy iteration cycle forever.
TIE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class TabularMDP:
    """A finite MDP as arrays. `terminal[s]` states are absorbing with zero reward (enforced on build).

    >>> P = np.zeros((2, 1, 2)); P[0, 0, 1] = 1.0; P[1, 0, 1] = 1.0
    >>> R = np.zeros((2, 1, 2)); R[0, 0, 1] = -1.0
    >>> mdp = TabularMDP(P, R, terminal=np.array([False, True]))
    >>> mdp.r_sa.tolist()
    [[-1.0], [0.0]]
    """

    P: np.ndarray  # (S, A, S) transition probabilities p(s'|s,a)
    R: np.ndarray  # (S, A, S) reward on the transition s -a-> s'
    terminal: np.ndarray  # (S,) bool
    r_sa: np.ndarray = field(init=False, repr=False)  # (S, A) expected immediate reward
    P_flat: np.ndarray = field(init=False, repr=False)  # (S·A, S) P as one matrix, for a fast sweep

    def __post_init__(self) -> None:
        P = np.asarray(self.P, dtype=np.float64)
        R = np.asarray(self.R, dtype=np.float64)
        terminal = np.array(self.terminal, dtype=bool)  # a copy: it is frozen below
        if P.ndim != 3 or P.shape[0] != P.shape[2] or R.shape != P.shape or terminal.shape != (P.shape[0],):
            raise ValueError(f"need P, R of shape (S, A, S) and terminal of shape (S,); got "
                             f"{P.shape}, {R.shape}, {terminal.shape}")
        if (P < 0).any() or not np.allclose(P.sum(axis=2), 1.0, atol=1e-9):
            raise ValueError("every P[s, a, :] must be a probability distribution (non-negative, sums to 1)")
        P, R = P.copy(), R.copy()
        # terminal states: absorbing (p(s|s,a) = 1), zero reward, whatever the table said
        idx = np.flatnonzero(terminal)
        P[idx] = 0.0
        P[idx, :, idx] = 1.0
        R[terminal] = 0.0
        for name, value in (("P", P), ("R", R), ("terminal", terminal)):
            value.setflags(write=False)
            object.__setattr__(self, name, value)
        # r(s, a) = Σ_s' P(s'|s,a) R(s,a,s')
        r_sa = np.einsum("sat,sat->sa", P, R)  # (S, A)
        r_sa.setflags(write=False)
        object.__setattr__(self, "r_sa", r_sa)
        object.__setattr__(self, "P_flat", np.ascontiguousarray(P.reshape(-1, P.shape[2])))  # (S·A, S)

    @property
    def n_states(self) -> int:
        return self.P.shape[0]

    @property
    def n_actions(self) -> int:
        return self.P.shape[1]

    def q_values(self, V: np.ndarray, gamma: float) -> np.ndarray:
        """(S, A) action values of the state values `V` (S,): one application of the Bellman backup."""
        # Q(s,a) = r(s,a) + γ Σ_s' P(s'|s,a) V(s')
        return self.r_sa + gamma * (self.P_flat @ V).reshape(self.n_states, self.n_actions)

    def policy_matrices(self, policy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(P_π (S, S), r_π (S,)) of a deterministic (S,) or stochastic (S, A) policy.

        >>> mdp = TabularMDP(np.full((1, 2, 1), 1.0), np.array([[[1.0], [3.0]]]), terminal=np.array([False]))
        >>> mdp.policy_matrices(np.array([[0.5, 0.5]]))[1].tolist()
        [2.0]
        """
        pi = as_stochastic(policy, self.n_actions)  # (S, A)
        # P_π(s, s') = Σ_a π(a|s) P(s'|s,a)
        P_pi = np.einsum("sa,sat->st", pi, self.P)  # (S, S)
        # r_π(s) = Σ_a π(a|s) r(s,a)
        r_pi = np.einsum("sa,sa->s", pi, self.r_sa)  # (S,)
        return P_pi, r_pi


@dataclass(frozen=True)
class Sweep:
    """One iteration of a solver: a sweep (VI, evaluation) or an evaluation + improvement (PI, MPI)."""

    iteration: int  # 1-based
    residual: float  # ‖V_{k+1} − V_k‖∞
    policy_changes: int  # states whose greedy action changed in this iteration
    eval_sweeps: int  # sweeps over the state space spent in this iteration (0 for an exact linear solve)
    wall_time: float  # seconds since the solver started, at the end of this iteration


@dataclass
class Solution:
    """What every solver returns: values, greedy policy, and the history that produced them."""

    algorithm: str
    values: np.ndarray  # (S,)
    policy: np.ndarray  # (S,) greedy action of each state (int)
    history: list[Sweep]
    converged: bool

    @property
    def iterations(self) -> int:
        """Outer iterations: sweeps for VI and evaluation, improvements (policy evaluations) for PI/MPI."""
        return len(self.history)

    @property
    def eval_sweeps(self) -> int:
        """Total sweeps over the state space (a VI sweep counts as one)."""
        return sum(h.eval_sweeps for h in self.history)

    @property
    def wall_time(self) -> float:
        return self.history[-1].wall_time if self.history else 0.0

    def curve(self, name: str) -> np.ndarray:
        """One history column as an array: `sol.curve("residual")`."""
        return np.array([getattr(h, name) for h in self.history])


# ---------------------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------------------


def check_gamma(gamma: float) -> None:
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"γ must lie in [0, 1], got {gamma}")


def as_stochastic(policy: np.ndarray, n_actions: int) -> np.ndarray:
    """(S, A) action probabilities of a deterministic (S,) or stochastic (S, A) policy.

    >>> as_stochastic(np.array([1, 0]), 3).tolist()
    [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
    """
    policy = np.asarray(policy)
    if policy.ndim == 2:
        return policy.astype(np.float64)
    return np.eye(n_actions)[policy.astype(np.int64)]


def uniform_policy(mdp: TabularMDP) -> np.ndarray:
    """The equiprobable random policy π(a|s) = 1/|A|, as an (S, A) array."""
    return np.full((mdp.n_states, mdp.n_actions), 1.0 / mdp.n_actions)


def greedy(Q: np.ndarray, previous: np.ndarray | None = None, tol: float = TIE_TOLERANCE) -> np.ndarray:
    """argmax_a Q(s, a) per state; with `previous`, ties (within `tol`·scale) keep the previous action.

    >>> greedy(np.array([[1.0, 2.0], [3.0, 3.0]])).tolist()
    [1, 0]
    >>> greedy(np.array([[1.0, 2.0], [3.0, 3.0]]), previous=np.array([0, 1])).tolist()
    [1, 1]
    """
    best = Q.argmax(axis=1)  # (S,)
    if previous is None:
        return best
    rows = np.arange(Q.shape[0])
    scale = max(1.0, float(np.abs(Q).max()))
    keep = Q[rows, previous] >= Q[rows, best] - tol * scale
    return np.where(keep, previous, best)


def _changes(new: np.ndarray, old: np.ndarray | None) -> int:
    return int(new.shape[0]) if old is None else int((new != old).sum())


# ---------------------------------------------------------------------------------------------------------
# policy evaluation (prediction)
# ---------------------------------------------------------------------------------------------------------


def evaluate_policy(
    mdp: TabularMDP,
    policy: np.ndarray,
    gamma: float,
    theta: float = 1e-10,
    max_sweeps: int = 100_000,
    in_place: bool = False,
    V0: np.ndarray | None = None,
) -> Solution:
    """Iterative policy evaluation (S&B §4.1): sweeps v ← r_π + γ P_π v until ‖v_{k+1} − v_k‖∞ < θ.

    `in_place=True` is the Gauss–Seidel form of the book's boxed algorithm (each state's new value is
    used by the states after it in the same sweep); the default is the synchronous (Jacobi) form, two
    arrays, one matrix–vector product per sweep. The returned policy is greedy with respect to the values,
    as in S&B Figure 4.1. With γ = 1, a policy that never terminates from some state has no finite value:
    the sweeps stop at `max_sweeps` and `converged` is False.
    """
    check_gamma(gamma)
    P_pi, r_pi = mdp.policy_matrices(policy)  # (S, S), (S,)
    V = np.zeros(mdp.n_states) if V0 is None else np.array(V0, dtype=np.float64)
    active = np.flatnonzero(~mdp.terminal)
    history: list[Sweep] = []
    greedy_policy: np.ndarray | None = None
    converged = False
    start = time.perf_counter()
    for k in range(1, max_sweeps + 1):
        if in_place:
            V_old = V.copy()
            for s in active:
                # v(s) ← r_π(s) + γ Σ_s' P_π(s, s') v(s')   (new values of earlier states already in v)
                V[s] = r_pi[s] + gamma * (P_pi[s] @ V)
            V_new = V
        else:
            V_old = V
            # v_{k+1} = r_π + γ P_π v_k
            V_new = r_pi + gamma * (P_pi @ V)  # (S,)
        # Δ = ‖v_{k+1} − v_k‖∞
        residual = float(np.abs(V_new - V_old).max())
        new_greedy = greedy(mdp.q_values(V_new, gamma), greedy_policy)
        changes = _changes(new_greedy, greedy_policy)
        history.append(Sweep(k, residual, changes, 1, time.perf_counter() - start))
        V, greedy_policy = V_new, new_greedy
        if residual < theta:
            converged = True
            break
    name = "policy_evaluation_in_place" if in_place else "policy_evaluation"
    return Solution(name, V, greedy_policy, history, converged)


def evaluate_policy_exact(mdp: TabularMDP, policy: np.ndarray, gamma: float) -> np.ndarray:
    """v_π by solving the linear Bellman equation on the non-terminal states (v = 0 on terminal ones).

    Raises ValueError when the system is singular, which for γ = 1 means the policy never terminates
    from some state (its value is −∞ or undefined).
    """
    check_gamma(gamma)
    P_pi, r_pi = mdp.policy_matrices(policy)
    live = np.flatnonzero(~mdp.terminal)
    V = np.zeros(mdp.n_states)
    if live.size == 0:
        return V
    # v_π = r_π + γ P_π v_π   ⇔   (I − γ P_π) v_π = r_π   (on the non-terminal states N; v_T = 0)
    A = np.eye(live.size) - gamma * P_pi[np.ix_(live, live)]  # (N, N)
    try:
        V[live] = np.linalg.solve(A, r_pi[live])
    except np.linalg.LinAlgError:
        raise ValueError("I − γP_π is singular: with γ = 1 this policy never reaches a terminal state "
                         "from some state, so its value is undefined; use γ < 1 or a proper policy"
                         ) from None
    if not np.isfinite(V).all() or np.abs(A @ V[live] - r_pi[live]).max() > 1e-6 * max(1.0, np.abs(V).max()):
        raise ValueError("policy evaluation is ill-conditioned (an improper policy with γ = 1?)")
    return V


# ---------------------------------------------------------------------------------------------------------
# control: value iteration, policy iteration, modified policy iteration
# ---------------------------------------------------------------------------------------------------------


def value_iteration(
    mdp: TabularMDP,
    gamma: float,
    theta: float = 1e-10,
    max_sweeps: int = 100_000,
    in_place: bool = False,
    V0: np.ndarray | None = None,
) -> Solution:
    """Value iteration (S&B §4.4): V_{k+1} = max_a Q_k until ‖V_{k+1} − V_k‖∞ < θ.

    Synchronous by default (one `(S·A, S) @ (S,)` product per sweep); `in_place=True` is Gauss–Seidel
    value iteration, which uses each new value immediately and usually needs fewer sweeps.
    With γ < 1, stopping at residual θ guarantees ‖V − V*‖∞ ≤ γθ / (1 − γ).
    """
    check_gamma(gamma)
    S, A = mdp.n_states, mdp.n_actions
    V = np.zeros(S) if V0 is None else np.array(V0, dtype=np.float64)
    active = np.flatnonzero(~mdp.terminal)
    policy: np.ndarray | None = None
    history: list[Sweep] = []
    converged = False
    start = time.perf_counter()
    for k in range(1, max_sweeps + 1):
        if in_place:
            V_old = V.copy()
            Q = np.zeros((S, A))
            for s in active:
                # Q(s,·) = r(s,·) + γ Σ_s' P(s'|s,·) V(s')   with V already updated for earlier states
                Q[s] = mdp.r_sa[s] + gamma * (mdp.P[s] @ V)
                # V(s) ← max_a Q(s,a)
                V[s] = Q[s].max()
            V_new = V
        else:
            V_old = V
            # Q_k(s,a) = r(s,a) + γ Σ_s' P(s'|s,a) V_k(s')
            Q = mdp.r_sa + gamma * (mdp.P_flat @ V).reshape(S, A)  # (S, A)
            # V_{k+1}(s) = max_a Q_k(s,a)
            V_new = Q.max(axis=1)  # (S,)
        # ‖V_{k+1} − V_k‖∞
        residual = float(np.abs(V_new - V_old).max())
        new_policy = greedy(Q, policy)
        history.append(Sweep(k, residual, _changes(new_policy, policy), 1, time.perf_counter() - start))
        V, policy = V_new, new_policy
        if residual < theta:
            converged = True
            break
    # the policy greedy with respect to the final values (the last Q was computed from V_k)
    policy = greedy(mdp.q_values(V, gamma), policy)
    name = "value_iteration_in_place" if in_place else "value_iteration"
    return Solution(name, V, policy, history, converged)


def policy_iteration(
    mdp: TabularMDP,
    gamma: float,
    initial_policy: np.ndarray | None = None,
    max_iterations: int = 10_000,
) -> Solution:
    """Howard's policy iteration: exact evaluation (a linear solve), then greedy improvement, until stable.

    Starts from the equiprobable random policy unless told otherwise (with γ = 1 the starting policy must
    terminate from every state; the improvement step then keeps it so). Policy iteration converges in a
    handful of iterations; each costs one O(S³) solve instead of sweeps, so `eval_sweeps` is 0.
    For the S&B Figure 4.3 form with iterative evaluation, use `modified_policy_iteration(k=None)`.
    """
    check_gamma(gamma)
    policy = uniform_policy(mdp) if initial_policy is None else np.asarray(initial_policy)
    V = np.zeros(mdp.n_states)
    history: list[Sweep] = []
    converged = False
    previous: np.ndarray | None = policy if policy.ndim == 1 else None
    start = time.perf_counter()
    for k in range(1, max_iterations + 1):
        # policy evaluation: (I − γ P_π) v_π = r_π
        V_new = evaluate_policy_exact(mdp, policy, gamma)
        # policy improvement: π'(s) = argmax_a r(s,a) + γ Σ_s' P(s'|s,a) v_π(s')
        new_policy = greedy(mdp.q_values(V_new, gamma), previous)
        residual = float(np.abs(V_new - V).max())
        history.append(Sweep(k, residual, _changes(new_policy, previous), 0, time.perf_counter() - start))
        V = V_new
        if previous is not None and np.array_equal(new_policy, previous):
            converged = True
            break
        policy = previous = new_policy
    return Solution("policy_iteration", V, np.asarray(policy), history, converged)


def modified_policy_iteration(
    mdp: TabularMDP,
    gamma: float,
    k: int | None = 5,
    theta: float = 1e-10,
    max_iterations: int = 100_000,
    max_eval_sweeps: int = 100_000,
    initial_policy: np.ndarray | None = None,
) -> Solution:
    """Modified policy iteration (Puterman & Shin 1978): k sweeps of evaluation between improvements.

    Each iteration evaluates the current policy partially, `k` synchronous sweeps v ← r_π + γ P_π v
    warm-started from the previous values, then improves greedily. k = 1 behaves like value iteration
    (the first sweep of a greedy policy *is* a value-iteration sweep); k = None evaluates to the residual
    θ — policy iteration with iterative evaluation, S&B Figure 4.3. It stops when the improved policy
    equals the evaluated one and the evaluation's last sweep moved the values by less than θ.
    """
    check_gamma(gamma)
    if k is not None and k < 1:
        raise ValueError(f"k must be ≥ 1 (or None for evaluation to convergence), got {k}")
    policy = uniform_policy(mdp) if initial_policy is None else np.asarray(initial_policy)
    previous: np.ndarray | None = policy if policy.ndim == 1 else None
    V = np.zeros(mdp.n_states)
    history: list[Sweep] = []
    converged = False
    sweeps_per_eval = max_eval_sweeps if k is None else k
    start = time.perf_counter()
    for it in range(1, max_iterations + 1):
        P_pi, r_pi = mdp.policy_matrices(policy)  # (S, S), (S,)
        V_eval, sweeps, last_delta = V, 0, np.inf
        while sweeps < sweeps_per_eval:
            # v ← r_π + γ P_π v
            V_next = r_pi + gamma * (P_pi @ V_eval)
            last_delta = float(np.abs(V_next - V_eval).max())
            V_eval, sweeps = V_next, sweeps + 1
            if k is None and last_delta < theta:
                break
        # π'(s) = argmax_a r(s,a) + γ Σ_s' P(s'|s,a) v(s')
        new_policy = greedy(mdp.q_values(V_eval, gamma), previous)
        # ‖V_{k+1} − V_k‖∞ between successive outer iterates
        residual = float(np.abs(V_eval - V).max())
        changes = _changes(new_policy, previous)
        history.append(Sweep(it, residual, changes, sweeps, time.perf_counter() - start))
        V = V_eval
        stable = previous is not None and np.array_equal(new_policy, previous)
        policy = previous = new_policy
        if stable and last_delta < theta:
            converged = True
            break
    name = "policy_iteration_iterative" if k is None else f"modified_policy_iteration_k{k}"
    return Solution(name, V, np.asarray(policy), history, converged)
