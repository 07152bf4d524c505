"""V-trace: off-policy value targets and policy-gradient advantages for lagging actors.

Espeholt, Soyer, Munos, Simonyan, Mnih, Ward, Doron, Firoiu, Harley, Dunning, Legg & Kavukcuoglu, 2018,
"IMPALA: Scalable Distributed Deep-RL with Importance Weighted Actor-Learner Architectures", arXiv 1802.01561.

Actors act with a behaviour policy μ (a stale copy of the learner's π). With truncated importance weights
ρ_t = min(ρ̄, π(a_t|s_t)/μ(a_t|s_t)) and c_i = min(c̄, π(a_i|s_i)/μ(a_i|s_i)), the n-step V-trace target is

    v_s = V(x_s) + Σ_{t=s}^{s+n−1} γ^{t−s} (Π_{i=s}^{t−1} c_i) δ_t V
    δ_t V = ρ_t (r_t + γ V(x_{t+1}) − V(x_t))

which satisfies the recursion v_s = V(x_s) + δ_s V + γ c_s (v_{s+1} − V(x_{s+1})), computed backwards here.
The policy gradient uses the advantage ρ_s^{pg} (r_s + γ v_{s+1} − V(x_s)) with ρ^{pg} = min(ρ̄^{pg}, π/μ).
On-policy (π = μ, all ratios 1) v_s is the n-step bootstrapped return.

Conventions follow the paper's reference implementation: all inputs are time-major (T, B); `discounts[t]`
is γ at step t and 0 where the episode ended after step t; `bootstrap_value` (B,) is V(x_T). The c_i use
c̄ = 1, as there. A threshold of None means "no clipping". The outputs are targets: no gradient flows
through them.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def vtrace(log_rhos: torch.Tensor, discounts: torch.Tensor, rewards: torch.Tensor, values: torch.Tensor,
           bootstrap_value: torch.Tensor, clip_rho_threshold: float | None = 1.0,
           clip_pg_rho_threshold: float | None = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(vs, pg_advantages), each (T, B), from log π/μ, discounts, rewards and V, all (T, B), and V(x_T) (B,).

    Worked example (on-policy, so every ratio is 1; one step, γ = 0.9)::

        log_rhos [[0]], discounts [[0.9]], rewards [[1]], values [[2]], bootstrap_value [3]
        δ_0 = 1 + 0.9·3 − 2 = 1.7          vs = 2 + 1.7 = 3.7
        pg_advantage = 1 + 0.9·3 − 2 = 1.7
    """
    rhos = torch.exp(log_rhos)
    # ρ_t = min(ρ̄, π/μ)
    clipped_rhos = rhos if clip_rho_threshold is None else torch.clamp(rhos, max=clip_rho_threshold)
    # c_t = min(1, π/μ)
    cs = torch.clamp(rhos, max=1.0)
    # V(x_{t+1}) for every t, the last one being the bootstrap
    values_tp1 = torch.cat([values[1:], bootstrap_value.unsqueeze(0)], dim=0)
    # δ_t V = ρ_t (r_t + γ_t V(x_{t+1}) − V(x_t))
    deltas = clipped_rhos * (rewards + discounts * values_tp1 - values)

    vs_minus_v = torch.zeros_like(values)
    acc = torch.zeros_like(bootstrap_value)
    for t in reversed(range(values.shape[0])):
        # v_t − V(x_t) = δ_t V + γ_t c_t (v_{t+1} − V(x_{t+1}))
        acc = deltas[t] + discounts[t] * cs[t] * acc
        vs_minus_v[t] = acc
    vs = vs_minus_v + values

    vs_tp1 = torch.cat([vs[1:], bootstrap_value.unsqueeze(0)], dim=0)
    # ρ^{pg}_t = min(ρ̄^{pg}, π/μ)
    pg_rhos = rhos if clip_pg_rho_threshold is None else torch.clamp(rhos, max=clip_pg_rho_threshold)
    # A_t = ρ^{pg}_t (r_t + γ_t v_{t+1} − V(x_t))
    pg_advantages = pg_rhos * (rewards + discounts * vs_tp1 - values)
    return vs, pg_advantages
