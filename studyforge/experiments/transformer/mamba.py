"""A Mamba-style selective state-space block, with a sequential and a parallel scan that agree.

"Mamba: Linear-Time Sequence Modeling with Selective State Spaces" (Gu & Dao, 2023, arXiv:2312.00752).
Each of E channels carries a state h ∈ ℝᴺ through the sequence, a linear recurrence whose parameters
depend on the input (the *selection* mechanism — what S4's time-invariant recurrences lack):

    Δ_t = softplus(W_Δ x_t + b_Δ)           (E,)   step size per channel
    Ā_t = exp(Δ_t A)                        (E, N) A = −exp(A_log), diagonal, negative: a decay
    B̄_t x_t = Δ_t B_t x_t                   (E, N) B_t = W_B x_t  (the paper's simplified Euler step)
    h_t = Ā_t ⊙ h_{t−1} + B̄_t x_t
    y_t = C_t · h_t + D ⊙ x_t                C_t = W_C x_t

The block around it: x ↦ in-projection to (u, z) of width E = expand·d; u through a causal depthwise
convolution and SiLU; the selective scan; the output gated by SiLU(z); projected back to d.

The recurrence h_t = a_t h_{t−1} + b_t is a scan over the associative operator
(a₁, b₁) ∘ (a₂, b₂) = (a₁a₂, a₂b₁ + b₂), so it parallelises: `parallel_scan` runs the Hillis–Steele
scan (log₂T rounds, each combining element t with element t − 2ʳ) as whole-tensor operations, while
`sequential_scan` is the reference loop. They agree to rounding; Mamba's CUDA kernel does the same scan
in SRAM without materialising the (B, T, E, N) states. For generation, `step` advances the recurrent
state one token at a time in O(1) per token — no cache that grows with the context.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


def parallel_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """All h_t = a_t h_{t−1} + b_t along dim 1 (h_{−1} = h0 or 0), in ⌈log₂T⌉ rounds: a, b (B, T, ...).

    >>> a, b = torch.tensor([[0.5, 0.5, 0.5]]), torch.tensor([[1.0, 1.0, 1.0]])
    >>> parallel_scan(a, b).tolist()      # 1, 0.5·1 + 1, 0.5·1.5 + 1
    [[1.0, 1.5, 1.75]]
    """
    return LinearScan.apply(a, b, h0, "parallel")


def sequential_scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None = None) -> torch.Tensor:
    """The reference loop h_t = a_t h_{t−1} + b_t along dim 1: a, b (B, T, ...) -> h (B, T, ...)."""
    return LinearScan.apply(a, b, h0, "sequential")


def _scan(a: torch.Tensor, b: torch.Tensor, h0: torch.Tensor | None, mode: str, reverse: bool = False):
    """The recurrence without autograd: a loop over t, or Hillis–Steele's doubling rounds. `reverse` runs
    it backwards in time, h_t = a_t h_{t+1} + b_t (what the backward pass needs)."""
    t_len = a.shape[1]
    if mode == "sequential":
        h = torch.empty_like(b)
        prev = h0 if h0 is not None else torch.zeros_like(b[:, 0])
        for t in (reversed(range(t_len)) if reverse else range(t_len)):
            # h_t = a_t h_{t−1} + b_t
            prev = h[:, t] = torch.addcmul(b[:, t], a[:, t], prev)
        return h
    a, h = a.clone(), b.clone()
    if h0 is not None:  # fold the initial state into the first input: b_0 ← a_0 h0 + b_0
        first = -1 if reverse else 0
        h[:, first] += a[:, first] * h0
    shift = 1
    while shift < t_len:
        # (a_{t−s}, h_{t−s}) ∘ (a_t, h_t) = (a_{t−s} a_t, a_t h_{t−s} + h_t), for every t ≥ s at once
        # (each right-hand side is computed into a new tensor before the in-place write)
        if reverse:
            h[:, :-shift] += a[:, :-shift] * h[:, shift:]
            a[:, :-shift] = a[:, :-shift] * a[:, shift:]
        else:
            h[:, shift:] += a[:, shift:] * h[:, :-shift]
            a[:, shift:] = a[:, shift:] * a[:, :-shift]
        shift *= 2
    return h  # h_t = a_t h_{t−1} + b_t, all t


class LinearScan(torch.autograd.Function):
    """h = scan(a, b, h0) with a hand-written backward, itself a scan running backwards in time.

    With λ_t = ∂L/∂h_t accumulated through the recurrence (g_t the gradient arriving at h_t directly):

        λ_t = g_t + a_{t+1} λ_{t+1}      ∂L/∂b_t = λ_t      ∂L/∂a_t = λ_t h_{t−1}      ∂L/∂h0 = a_0 λ_0

    — the same linear recurrence on the time-reversed sequence, so it reuses the same scan. Autograd
    through the scan's slices would instead keep every round's intermediate tensors.
    """

    @staticmethod
    def forward(ctx, a, b, h0, mode):
        h = _scan(a, b, h0, mode)
        ctx.save_for_backward(a, h, h0)
        ctx.mode = mode
        return h

    @staticmethod
    def backward(ctx, g):
        a, h, h0 = ctx.saved_tensors
        # coefficients of the reversed recurrence: a_{t+1}, with nothing after the last step
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1)
        lam = _scan(a_next, g.contiguous(), None, ctx.mode, reverse=True)  # λ_t = g_t + a_{t+1} λ_{t+1}
        h_prev = torch.cat([(h0 if h0 is not None else torch.zeros_like(h[:, 0]))[:, None], h[:, :-1]], dim=1)
        grad_h0 = a[:, 0] * lam[:, 0] if h0 is not None and ctx.needs_input_grad[2] else None
        return lam * h_prev, lam, grad_h0, None


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor,
                   D: torch.Tensor, h0: torch.Tensor | None = None, mode: str = "parallel"):
    """y, h_last for inputs u and steps Δ (B, T, E), A (E, N), B and C (B, T, N), D (E,); h0 (B, E, N)."""
    # Ā_t = exp(Δ_t A)
    a = torch.exp(delta[..., None] * A)  # (B, T, E, N)
    # B̄_t x_t = Δ_t B_t x_t
    bx = (delta * u)[..., None] * B[:, :, None, :]  # (B, T, E, N)
    scan = parallel_scan if mode == "parallel" else sequential_scan
    h = scan(a, bx, h0)  # (B, T, E, N)
    # y_t = C_t · h_t + D x_t
    y = torch.einsum("bten,btn->bte", h, C) + D * u  # (B, T, E)
    return y, h[:, -1]


@dataclass
class MambaState:
    """Recurrent state for generation: the convolution's last inputs and the SSM state."""

    conv: torch.Tensor  # (B, E, d_conv − 1)
    ssm: torch.Tensor  # (B, E, N)
    length: int = 0


class MambaMixer(nn.Module):
    """x (B, T, d) -> (B, T, d): in-projection, causal conv, selective scan, SiLU gate, out-projection."""

    def __init__(self, d_model: int, d_state: int = 16, expand: int = 2, d_conv: int = 4, bias: bool = False,
                 scan: str = "parallel", dt_min: float = 1e-3, dt_max: float = 0.1):
        super().__init__()
        e = expand * d_model
        self.d_inner, self.d_state, self.d_conv, self.scan = e, d_state, d_conv, scan
        self.dt_rank = math.ceil(d_model / 16)
        self.in_proj = nn.Linear(d_model, 2 * e, bias=bias)
        self.conv = nn.Conv1d(e, e, d_conv, groups=e, padding=0, bias=True)  # depthwise; causal by left padding
        self.x_proj = nn.Linear(e, self.dt_rank + 2 * d_state, bias=False)  # -> (Δ low rank, B, C)
        self.dt_proj = nn.Linear(self.dt_rank, e, bias=True)
        self.out_proj = nn.Linear(e, d_model, bias=bias)
        # S4D-real initialisation: A = −(1, 2, …, N) for every channel
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1, dtype=torch.float32)).repeat(e, 1))
        self.D = nn.Parameter(torch.ones(e))
        self._dt_range = (dt_min, dt_max)
        self.reset_dt_bias()

    def reset_dt_bias(self) -> None:
        """Initial step sizes log-uniform in [dt_min, dt_max]: the bias is softplus⁻¹ of them (Mamba's init)."""
        lo, hi = self._dt_range
        dt = torch.exp(torch.rand(self.d_inner) * (math.log(hi) - math.log(lo)) + math.log(lo))
        with torch.no_grad():
            # softplus⁻¹(dt) = dt + log(1 − exp(−dt))
            self.dt_proj.bias.copy_(dt + torch.log(-torch.expm1(-dt)))

    def new_state(self, batch: int, dtype=torch.float32, device=None) -> MambaState:
        return MambaState(torch.zeros(batch, self.d_inner, self.d_conv - 1, dtype=dtype, device=device),
                          torch.zeros(batch, self.d_inner, self.d_state, dtype=torch.float32, device=device))

    def forward(self, x: torch.Tensor, state: MambaState | None = None, scan: str | None = None) -> torch.Tensor:
        """x (B, T, d) -> (B, T, d). With `state`, continue from it (sequentially) and update it in place."""
        b, t, _ = x.shape
        u, z = self.in_proj(x).chunk(2, dim=-1)  # (B, T, E) each
        u = u.transpose(1, 2)  # (B, E, T)
        past = state.conv.to(u.dtype) if state is not None else u.new_zeros(b, self.d_inner, self.d_conv - 1)
        u_padded = torch.cat([past, u], dim=-1)  # (B, E, d_conv − 1 + T): left context makes the conv causal
        u = F.silu(self.conv(u_padded)).transpose(1, 2)  # (B, T, E)
        dt, B, C = self.x_proj(u).split([self.dt_rank, self.d_state, self.d_state], dim=-1)
        # Δ = softplus(W_Δ x + b_Δ)
        delta = F.softplus(self.dt_proj(dt).float())  # (B, T, E), fp32 for the scan
        A = -torch.exp(self.A_log.float())  # (E, N)
        mode = "sequential" if state is not None else (scan or self.scan)
        y, h_last = selective_scan(u.float(), delta, A, B.float(), C.float(), self.D.float(),
                                   None if state is None else state.ssm, mode)
        if state is not None:
            state.conv = u_padded[:, :, -(self.d_conv - 1):].detach() if self.d_conv > 1 else state.conv
            state.ssm, state.length = h_last.detach(), state.length + t
        # y ⊙ SiLU(z)
        y = y.to(x.dtype) * F.silu(z)  # (B, T, E)
        return self.out_proj(y)  # (B, T, d)
