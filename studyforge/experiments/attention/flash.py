"""FlashAttention-2 in pure PyTorch: exact attention in O(T) memory.

"FlashAttention: Fast and Memory-Efficient Exact Attention with IO-Awareness" (Dao et al., 2022,
arXiv:2205.14135) and "FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning"
(Dao, 2023, arXiv:2307.08691). Never build the (T, T) score matrix: take queries a block of `block_q`
rows at a time, stream the keys and values past them `block_k` rows at a time, and keep per query row a
running maximum m, a running softmax denominator ℓ and an unnormalised output O. When a new block raises
the maximum, the old sums are rescaled by exp(m_old − m_new) — the *online softmax* — so after the last
block O / ℓ is exactly softmax(S) V.

Only O and the log-sum-exp L = m + log ℓ (one number per row) are kept for the backward pass, which
recomputes each block's probabilities P = exp(S − L) instead of storing them:

    dV_j = Σ_i P_ijᵀ dO_i      dP_ij = dO_i V_jᵀ      dS_ij = P_ij ∘ (dP_ij − D_i),   D_i = rowsum(dO_i ∘ O_i)
    dQ_i = Σ_j dS_ij K_j · s    dK_j = Σ_i dS_ijᵀ Q_i · s

FlashAttention-2's work split: the forward loops over key blocks inside each query block (the row
statistics stay local), the backward loops over query blocks inside each key block (dK_j, dV_j stay
local). On a GPU the outer loops run in parallel and the blocks live in SRAM; here they are Python loops
and the point is the algorithm and its memory — `triton_flash.py` is the fast version.

Causal masking is top-left aligned, as `scaled_dot_product_attention(..., is_causal=True)`: query i sees
keys j ≤ i; key blocks entirely above the diagonal are skipped.
"""

from __future__ import annotations

import math

import torch

from studyforge.experiments.attention.masks import causal_mask


def flash_forward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool, block_q: int, block_k: int, scale: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """q (..., Tq, D), k (..., Tk, D), v (..., Tk, Dv) -> output (..., Tq, Dv), log-sum-exp (..., Tq)."""
    t_q, t_k = q.shape[-2], k.shape[-2]
    acc_dtype = torch.promote_types(q.dtype, torch.float32)  # accumulate in (at least) fp32
    out = torch.empty(*q.shape[:-1], v.shape[-1], dtype=q.dtype, device=q.device)
    lse = torch.empty(q.shape[:-1], dtype=acc_dtype, device=q.device)
    for q_lo in range(0, t_q, block_q):
        q_hi = min(q_lo + block_q, t_q)
        q_i = q[..., q_lo:q_hi, :].to(acc_dtype)  # (..., Br, D)
        m_i = torch.full(q_i.shape[:-1], float("-inf"), dtype=acc_dtype, device=q.device)  # (..., Br)
        l_i = torch.zeros_like(m_i)  # (..., Br)
        o_i = torch.zeros(*q_i.shape[:-1], v.shape[-1], dtype=acc_dtype, device=q.device)  # (..., Br, Dv)
        k_end = min(t_k, q_hi) if causal else t_k  # keys beyond the last query of the block are all masked
        for k_lo in range(0, k_end, block_k):
            k_hi = min(k_lo + block_k, t_k)
            # S_ij = Q_i K_jᵀ · s
            s_ij = (q_i @ k[..., k_lo:k_hi, :].to(acc_dtype).transpose(-2, -1)) * scale  # (..., Br, Bc)
            if causal and k_hi - 1 > q_lo:  # the block reaches above the diagonal
                s_ij = s_ij.masked_fill(~causal_mask(q_hi - q_lo, k_hi - k_lo, q_lo - k_lo, q.device), float("-inf"))
            # m_new = max(m_old, rowmax S_ij)
            m_new = torch.maximum(m_i, s_ij.amax(dim=-1))
            # P̃_ij = exp(S_ij − m_new)
            p_ij = torch.exp(s_ij - m_new[..., None])
            # α = exp(m_old − m_new) rescales what was summed under the old maximum
            alpha = torch.exp(m_i - m_new)
            # ℓ_new = α ℓ_old + rowsum P̃_ij
            l_i = alpha * l_i + p_ij.sum(dim=-1)
            # O_new = α O_old + P̃_ij V_j
            o_i = alpha[..., None] * o_i + p_ij @ v[..., k_lo:k_hi, :].to(acc_dtype)
            m_i = m_new
        # O = O / ℓ
        out[..., q_lo:q_hi, :] = (o_i / l_i[..., None]).to(q.dtype)
        # L = m + log ℓ
        lse[..., q_lo:q_hi] = m_i + torch.log(l_i)
    return out, lse


def flash_backward(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, out: torch.Tensor, lse: torch.Tensor, d_out: torch.Tensor,
    causal: bool, block_q: int, block_k: int, scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients (dq, dk, dv) from the saved output and log-sum-exp, recomputing P block by block."""
    t_q, t_k = q.shape[-2], k.shape[-2]
    acc_dtype = lse.dtype
    # D_i = rowsum(dO_i ∘ O_i)  (= Σ_j P_ij dP_ij, the softmax Jacobian's correction term)
    delta = (d_out.to(acc_dtype) * out.to(acc_dtype)).sum(dim=-1)  # (..., Tq)
    dq = torch.zeros(q.shape, dtype=acc_dtype, device=q.device)
    dk = torch.empty(k.shape, dtype=k.dtype, device=k.device)
    dv = torch.empty(v.shape, dtype=v.dtype, device=v.device)
    for k_lo in range(0, t_k, block_k):
        k_hi = min(k_lo + block_k, t_k)
        k_j, v_j = k[..., k_lo:k_hi, :].to(acc_dtype), v[..., k_lo:k_hi, :].to(acc_dtype)  # (..., Bc, D)
        dk_j, dv_j = torch.zeros_like(k_j), torch.zeros_like(v_j)
        q_start = (k_lo // block_q) * block_q if causal else 0  # earlier query blocks see none of these keys
        for q_lo in range(q_start, t_q, block_q):
            q_hi = min(q_lo + block_q, t_q)
            q_i, do_i = q[..., q_lo:q_hi, :].to(acc_dtype), d_out[..., q_lo:q_hi, :].to(acc_dtype)
            s_ij = (q_i @ k_j.transpose(-2, -1)) * scale  # (..., Br, Bc)
            if causal and k_hi - 1 > q_lo:
                s_ij = s_ij.masked_fill(~causal_mask(q_hi - q_lo, k_hi - k_lo, q_lo - k_lo, q.device), float("-inf"))
            # P_ij = exp(S_ij − L_i)
            p_ij = torch.exp(s_ij - lse[..., q_lo:q_hi, None])
            # dV_j += P_ijᵀ dO_i
            dv_j += p_ij.transpose(-2, -1) @ do_i
            # dP_ij = dO_i V_jᵀ
            dp_ij = do_i @ v_j.transpose(-2, -1)
            # dS_ij = P_ij ∘ (dP_ij − D_i)
            ds_ij = p_ij * (dp_ij - delta[..., q_lo:q_hi, None])
            # dQ_i += dS_ij K_j · s
            dq[..., q_lo:q_hi, :] += (ds_ij @ k_j) * scale
            # dK_j += dS_ijᵀ Q_i · s
            dk_j += (ds_ij.transpose(-2, -1) @ q_i) * scale
        dk[..., k_lo:k_hi, :], dv[..., k_lo:k_hi, :] = dk_j.to(k.dtype), dv_j.to(v.dtype)
    return dq.to(q.dtype), dk, dv


class FlashAttentionFunction(torch.autograd.Function):
    """Autograd wrapper: saves q, k, v, O and L (O(T) extra memory) and recomputes P in backward."""

    @staticmethod
    def forward(ctx, q, k, v, causal: bool, block_q: int, block_k: int, scale: float):
        out, lse = flash_forward(q, k, v, causal, block_q, block_k, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.config = (causal, block_q, block_k, scale)
        return out

    @staticmethod
    def backward(ctx, d_out):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = flash_backward(q, k, v, out, lse, d_out, *ctx.config)
        return dq, dk, dv, None, None, None, None


def flash_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False, block_q: int = 128,
    block_k: int = 128, scale: float | None = None,
) -> torch.Tensor:
    """Exact softmax(q kᵀ · scale) v, tiled: q (..., Tq, D), k (..., Tk, D), v (..., Tk, Dv) -> (..., Tq, Dv).

    `scale` defaults to 1/√D; `causal` is top-left aligned like SDPA's `is_causal`.
    """
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return FlashAttentionFunction.apply(q, k, v, causal, block_q, block_k, scale)
