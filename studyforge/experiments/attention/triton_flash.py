"""FlashAttention-2 forward and backward as Triton kernels.

"FlashAttention-2: Faster Attention with Better Parallelism and Work Partitioning" (Dao, 2023,
arXiv:2307.08691), the same algorithm as `flash.py` (read that first: it is the readable version) with
each loop mapped onto the GPU:

- forward: one program per (query block, batch·head). The query block stays in registers while key and
  value blocks stream past; the running max m, denominator ℓ and output accumulator never leave the chip.
  Scores are kept in base 2 (the 1/√d scale is folded together with log₂e, so exp becomes exp2) and the
  kernel writes O and the log-sum-exp L = m + log₂ ℓ (base 2) per row.
- backward: D = rowsum(dO ∘ O) first (a cheap PyTorch reduction), then two kernels with no atomics —
  one program per key block accumulating dK, dV over the query blocks (P recomputed from L), and one
  program per query block accumulating dQ over the key blocks.
- causal: key blocks entirely above the diagonal are skipped; blocks entirely below it run without any
  masking; only the blocks crossing the diagonal (and a ragged last block) pay for `tl.where`.

Needs `triton` (an optional dependency: this module is imported only by code that asks for it). On CUDA the
kernels are compiled and autotuned over a few block shapes (`FORGE_TRITON_AUTOTUNE=0`: the first shape only,
for quick correctness runs); on the CPU they run under Triton's
interpreter, with CPU tensors, when `TRITON_INTERPRET=1` is set *before `triton` is first imported* (Triton
reads it when it decorates kernels, its own `tl.zeros` & co. included) — slow, but the same kernel code,
which is what the tests run.
"""

from __future__ import annotations

import math
import os

import torch
import triton
import triton.language as tl

INTERPRET = os.environ.get("TRITON_INTERPRET", "0") == "1"
# FORGE_TRITON_AUTOTUNE=0: the first candidate only (quick compiles for correctness tests; read at import)
AUTOTUNE = os.environ.get("FORGE_TRITON_AUTOTUNE", "1") != "0"
LOG2E = 1.4426950408889634  # log₂ e: exp(x) = exp2(x · log₂ e)


def _configs(candidates: list[tuple[int, int, int, int]], interpret: tuple[int, int]) -> list[triton.Config]:
    """Autotuning candidates (BLOCK_M, BLOCK_N, num_warps, num_stages) on a GPU; one small config under the
    interpreter, where there is nothing to tune (unequal block sides, as on the GPU, so that the tests cover
    how the diagonal and ragged blocks fall when BLOCK_M ≠ BLOCK_N)."""
    if INTERPRET:
        return [triton.Config({"BLOCK_M": interpret[0], "BLOCK_N": interpret[1]}, num_warps=1, num_stages=1)]
    if not AUTOTUNE:
        candidates = candidates[:1]
    return [triton.Config({"BLOCK_M": m, "BLOCK_N": n}, num_warps=w, num_stages=s) for m, n, w, s in candidates]


# Hand-picked around the shapes that do well on A100/H100 for head dims 64–128 (the forward keeps a query
# block resident, so it prefers tall BLOCK_M; dK/dV keep a key block resident, so they prefer tall BLOCK_N).
FWD_CONFIGS = [(128, 64, 4, 3), (128, 64, 8, 3), (128, 128, 8, 3), (128, 32, 4, 4), (64, 64, 4, 3),
               (64, 128, 4, 3), (128, 64, 8, 2), (128, 128, 8, 2)]
DKDV_CONFIGS = [(32, 128, 4, 3), (32, 128, 8, 3), (64, 128, 8, 3), (32, 64, 4, 3), (64, 64, 4, 3), (16, 128, 4, 4)]
DQ_CONFIGS = [(128, 32, 4, 3), (128, 32, 8, 3), (128, 64, 8, 3), (64, 32, 4, 3), (64, 64, 4, 3), (128, 16, 4, 4)]


@triton.jit
def _load_block(base, rows, cols, stride_r, stride_c, n_rows, n_cols, MASK_ROWS: tl.constexpr,
                MASK_COLS: tl.constexpr):
    """Load base[rows, cols] with zero fill where a masked row/column is out of range."""
    ptrs = base + rows[:, None] * stride_r + cols[None, :] * stride_c
    if MASK_ROWS and MASK_COLS:
        return tl.load(ptrs, mask=(rows[:, None] < n_rows) & (cols[None, :] < n_cols), other=0.0)
    elif MASK_ROWS:
        return tl.load(ptrs, mask=rows[:, None] < n_rows, other=0.0)
    elif MASK_COLS:
        return tl.load(ptrs, mask=cols[None, :] < n_cols, other=0.0)
    else:
        return tl.load(ptrs)


@triton.jit
def _fwd_inner(acc, m_i, l_i, q, k_base, v_base, stride_kt, stride_kd, stride_vt, stride_vd, offs_m, offs_d,
               lo, hi, N_K, qk_scale, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
               MASKED: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    """Stream key/value blocks [lo, hi) past one query block, updating the online-softmax state."""
    offs_n = tl.arange(0, BLOCK_N)
    for start_n in range(lo, hi, BLOCK_N):
        cols = start_n + offs_n
        # Kᵀ block (D, BLOCK_N) and V block (BLOCK_N, D)
        k_t = _load_block(k_base, offs_d, cols, stride_kd, stride_kt, HEAD_DIM, N_K, BLOCK_D != HEAD_DIM, MASKED)
        v = _load_block(v_base, cols, offs_d, stride_vt, stride_vd, N_K, HEAD_DIM, MASKED, BLOCK_D != HEAD_DIM)
        # S_ij = Q_i K_jᵀ · s · log₂e   (base-2 logits)
        s = tl.dot(q, k_t, input_precision=PRECISION) * qk_scale
        if MASKED:
            valid = cols[None, :] < N_K
            if CAUSAL:
                valid = valid & (cols[None, :] <= offs_m[:, None])
            s = tl.where(valid, s, float("-inf"))
        # m_new = max(m_old, rowmax S_ij)
        m_new = tl.maximum(m_i, tl.max(s, 1))
        # P̃_ij = 2^(S_ij − m_new),  α = 2^(m_old − m_new)
        p = tl.math.exp2(s - m_new[:, None])
        alpha = tl.math.exp2(m_i - m_new)
        # ℓ_new = α ℓ_old + rowsum P̃_ij;  O_new = α O_old + P̃_ij V_j
        l_i = l_i * alpha + tl.sum(p, 1)
        acc = tl.dot(p.to(v.dtype), v, acc * alpha[:, None], input_precision=PRECISION)
        m_i = m_new
    return acc, m_i, l_i


@triton.autotune(configs=_configs(FWD_CONFIGS, interpret=(32, 16)), key=["N_Q", "N_K", "HEAD_DIM", "CAUSAL"])
@triton.jit
def _fwd_kernel(Q, K, V, Out, L, sm_scale,
                stride_qb, stride_qh, stride_qt, stride_qd, stride_kb, stride_kh, stride_kt, stride_kd,
                stride_vb, stride_vh, stride_vt, stride_vd, stride_ob, stride_oh, stride_ot, stride_od,
                H, N_Q, N_K, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr,
                PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    pid_m, pid_bh = tl.program_id(0), tl.program_id(1)
    b, h = pid_bh // H, pid_bh % H
    start_m = pid_m * BLOCK_M
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    q = _load_block(Q + b * stride_qb + h * stride_qh, offs_m, offs_d, stride_qt, stride_qd, N_Q, HEAD_DIM,
                    True, BLOCK_D != HEAD_DIM)  # (BLOCK_M, D)
    k_base = K + b * stride_kb + h * stride_kh
    v_base = V + b * stride_vb + h * stride_vh
    m_i = tl.full([BLOCK_M], float("-inf"), tl.float32)
    l_i = tl.zeros([BLOCK_M], tl.float32)
    acc = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    qk_scale = sm_scale * 1.4426950408889634  # s · log₂e
    # [0, lo): whole key blocks every query of the block sees (no mask); [lo, hi): the rest, masked
    if CAUSAL:
        lo = tl.minimum(start_m // BLOCK_N * BLOCK_N, N_K // BLOCK_N * BLOCK_N)
        hi = tl.minimum(start_m + BLOCK_M, N_K)
    else:
        lo = N_K // BLOCK_N * BLOCK_N
        hi = N_K
    acc, m_i, l_i = _fwd_inner(acc, m_i, l_i, q, k_base, v_base, stride_kt, stride_kd, stride_vt, stride_vd,
                               offs_m, offs_d, 0, lo, N_K, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_N, False, CAUSAL,
                               PRECISION)
    acc, m_i, l_i = _fwd_inner(acc, m_i, l_i, q, k_base, v_base, stride_kt, stride_kd, stride_vt, stride_vd,
                               offs_m, offs_d, lo, hi, N_K, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_N, True, CAUSAL,
                               PRECISION)
    # O = O / ℓ;  L = m + log₂ ℓ
    acc = acc / l_i[:, None]
    tl.store(L + pid_bh * N_Q + offs_m, m_i + tl.math.log2(l_i), mask=offs_m < N_Q)
    o_ptrs = Out + b * stride_ob + h * stride_oh + offs_m[:, None] * stride_ot + offs_d[None, :] * stride_od
    tl.store(o_ptrs, acc.to(Out.dtype.element_ty), mask=(offs_m[:, None] < N_Q) & (offs_d[None, :] < HEAD_DIM))


@triton.jit
def _dkdv_inner(dk, dv, k, v, q_base, do_base, lse_base, delta_base, stride_qt, stride_qd, offs_n, offs_d, lo, hi,
                N_Q, qk_scale, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_M: tl.constexpr,
                MASKED: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    """Stream query blocks [lo, hi) past one key block: dV_j += P_ijᵀ dO_i, dK_j += dS_ijᵀ Q_i."""
    for start_m in range(lo, hi, BLOCK_M):
        offs_m = start_m + tl.arange(0, BLOCK_M)
        q_t = _load_block(q_base, offs_d, offs_m, stride_qd, stride_qt, HEAD_DIM, N_Q, BLOCK_D != HEAD_DIM, MASKED)  # (D, BLOCK_M)
        do = _load_block(do_base, offs_m, offs_d, stride_qt, stride_qd, N_Q, HEAD_DIM, MASKED, BLOCK_D != HEAD_DIM)  # (BLOCK_M, D)
        if MASKED:
            lse = tl.load(lse_base + offs_m, mask=offs_m < N_Q, other=0.0)
            delta = tl.load(delta_base + offs_m, mask=offs_m < N_Q, other=0.0)
        else:
            lse = tl.load(lse_base + offs_m)
            delta = tl.load(delta_base + offs_m)
        # P_ijᵀ = 2^(S_ijᵀ − L_i)   (BLOCK_N, BLOCK_M)
        p_t = tl.math.exp2(tl.dot(k, q_t, input_precision=PRECISION) * qk_scale - lse[None, :])
        if MASKED:
            valid = offs_m[None, :] < N_Q
            if CAUSAL:
                valid = valid & (offs_n[:, None] <= offs_m[None, :])
            p_t = tl.where(valid, p_t, 0.0)
        # dV_j += P_ijᵀ dO_i
        dv = tl.dot(p_t.to(do.dtype), do, dv, input_precision=PRECISION)
        # dP_ijᵀ = V_j dO_iᵀ;  dS_ijᵀ = P_ijᵀ ∘ (dP_ijᵀ − D_i)
        dp_t = tl.dot(v, tl.trans(do), input_precision=PRECISION)
        ds_t = p_t * (dp_t - delta[None, :])
        # dK_j += dS_ijᵀ Q_i   (times s at the end)
        dk = tl.dot(ds_t.to(q_t.dtype), tl.trans(q_t), dk, input_precision=PRECISION)
    return dk, dv


@triton.autotune(configs=_configs(DKDV_CONFIGS, interpret=(16, 32)), key=["N_Q", "N_K", "HEAD_DIM", "CAUSAL"])
@triton.jit
def _bwd_dkdv_kernel(Q, K, V, DO, L, Delta, DK, DV, sm_scale,
                     stride_qb, stride_qh, stride_qt, stride_qd, stride_kb, stride_kh, stride_kt, stride_kd,
                     stride_vb, stride_vh, stride_vt, stride_vd,
                     H, N_Q, N_K, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr,
                     PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """One program per key block: dV_j = Σ_i P_ijᵀ dO_i, dK_j = s Σ_i dS_ijᵀ Q_i (dO shares Q's strides,
    dK K's and dV V's).

    Query blocks come in three ranges: those crossing the diagonal (causal mask), the full blocks wholly
    below it (no mask at all), and a ragged last block (bounds mask). Key rows past N_K (a ragged last key
    block) are zero-filled and never stored, so nothing they accumulate is kept.
    """
    pid_n, pid_bh = tl.program_id(0), tl.program_id(1)
    b, h = pid_bh // H, pid_bh % H
    start_n = pid_n * BLOCK_N
    offs_n = start_n + tl.arange(0, BLOCK_N)
    offs_d = tl.arange(0, BLOCK_D)
    k = _load_block(K + b * stride_kb + h * stride_kh, offs_n, offs_d, stride_kt, stride_kd, N_K, HEAD_DIM,
                    True, BLOCK_D != HEAD_DIM)  # (BLOCK_N, D)
    v = _load_block(V + b * stride_vb + h * stride_vh, offs_n, offs_d, stride_vt, stride_vd, N_K, HEAD_DIM,
                    True, BLOCK_D != HEAD_DIM)  # (BLOCK_N, D)
    q_base = Q + b * stride_qb + h * stride_qh
    do_base = DO + b * stride_qb + h * stride_qh
    lse_base, delta_base = L + pid_bh * N_Q, Delta + pid_bh * N_Q
    dk = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    dv = tl.zeros([BLOCK_N, BLOCK_D], tl.float32)
    qk_scale = sm_scale * 1.4426950408889634
    if CAUSAL:
        lo = start_n // BLOCK_M * BLOCK_M  # earlier query blocks see none of these keys
        mid = tl.minimum(tl.cdiv(start_n + BLOCK_N - 1, BLOCK_M) * BLOCK_M, N_Q)  # first block past the diagonal
    else:
        lo = 0
        mid = 0
    full = tl.maximum(N_Q // BLOCK_M * BLOCK_M, mid)
    dk, dv = _dkdv_inner(dk, dv, k, v, q_base, do_base, lse_base, delta_base, stride_qt, stride_qd, offs_n, offs_d,
                         lo, mid, N_Q, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_M, True, CAUSAL, PRECISION)
    dk, dv = _dkdv_inner(dk, dv, k, v, q_base, do_base, lse_base, delta_base, stride_qt, stride_qd, offs_n, offs_d,
                         mid, full, N_Q, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_M, False, CAUSAL, PRECISION)
    dk, dv = _dkdv_inner(dk, dv, k, v, q_base, do_base, lse_base, delta_base, stride_qt, stride_qd, offs_n, offs_d,
                         full, N_Q, N_Q, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_M, True, CAUSAL, PRECISION)
    dk = dk * sm_scale
    out_mask = (offs_n[:, None] < N_K) & (offs_d[None, :] < HEAD_DIM)
    offs = b * stride_kb + h * stride_kh + offs_n[:, None] * stride_kt + offs_d[None, :] * stride_kd
    tl.store(DK + offs, dk.to(DK.dtype.element_ty), mask=out_mask)
    offs = b * stride_vb + h * stride_vh + offs_n[:, None] * stride_vt + offs_d[None, :] * stride_vd
    tl.store(DV + offs, dv.to(DV.dtype.element_ty), mask=out_mask)


@triton.jit
def _dq_inner(dq, q, do, lse, delta, k_base, v_base, stride_kt, stride_kd, stride_vt, stride_vd, offs_m, offs_d,
              lo, hi, N_K, qk_scale, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, BLOCK_N: tl.constexpr,
              MASKED: tl.constexpr, CAUSAL: tl.constexpr, PRECISION: tl.constexpr):
    """Stream key/value blocks [lo, hi) past one query block: dQ_i += dS_ij K_j."""
    offs_n = tl.arange(0, BLOCK_N)
    for start_n in range(lo, hi, BLOCK_N):
        cols = start_n + offs_n
        k = _load_block(k_base, cols, offs_d, stride_kt, stride_kd, N_K, HEAD_DIM, MASKED, BLOCK_D != HEAD_DIM)  # (BLOCK_N, D)
        v_t = _load_block(v_base, offs_d, cols, stride_vd, stride_vt, HEAD_DIM, N_K, BLOCK_D != HEAD_DIM, MASKED)  # (D, BLOCK_N)
        # P_ij = 2^(S_ij − L_i)
        p = tl.math.exp2(tl.dot(q, tl.trans(k), input_precision=PRECISION) * qk_scale - lse[:, None])
        if MASKED:
            valid = cols[None, :] < N_K
            if CAUSAL:
                valid = valid & (cols[None, :] <= offs_m[:, None])
            p = tl.where(valid, p, 0.0)
        # dP_ij = dO_i V_jᵀ;  dS_ij = P_ij ∘ (dP_ij − D_i)
        dp = tl.dot(do, v_t, input_precision=PRECISION)
        ds = p * (dp - delta[:, None])
        # dQ_i += dS_ij K_j   (times s at the end)
        dq = tl.dot(ds.to(k.dtype), k, dq, input_precision=PRECISION)
    return dq


@triton.autotune(configs=_configs(DQ_CONFIGS, interpret=(32, 16)), key=["N_Q", "N_K", "HEAD_DIM", "CAUSAL"])
@triton.jit
def _bwd_dq_kernel(Q, K, V, DO, L, Delta, DQ, sm_scale,
                   stride_qb, stride_qh, stride_qt, stride_qd, stride_kb, stride_kh, stride_kt, stride_kd,
                   stride_vb, stride_vh, stride_vt, stride_vd,
                   H, N_Q, N_K, HEAD_DIM: tl.constexpr, BLOCK_D: tl.constexpr, CAUSAL: tl.constexpr,
                   PRECISION: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    """One program per query block: dQ_i = s Σ_j dS_ij K_j (dQ and dO share Q's strides). Key blocks split
    as in the forward: whole blocks every query sees (no mask), then the diagonal and a ragged last block.
    Query rows past N_Q are zero-filled and never stored."""
    pid_m, pid_bh = tl.program_id(0), tl.program_id(1)
    b, h = pid_bh // H, pid_bh % H
    start_m = pid_m * BLOCK_M
    offs_m = start_m + tl.arange(0, BLOCK_M)
    offs_d = tl.arange(0, BLOCK_D)
    q_off = b * stride_qb + h * stride_qh
    q = _load_block(Q + q_off, offs_m, offs_d, stride_qt, stride_qd, N_Q, HEAD_DIM, True, BLOCK_D != HEAD_DIM)  # (BLOCK_M, D)
    do = _load_block(DO + q_off, offs_m, offs_d, stride_qt, stride_qd, N_Q, HEAD_DIM, True, BLOCK_D != HEAD_DIM)
    lse = tl.load(L + pid_bh * N_Q + offs_m, mask=offs_m < N_Q, other=0.0)
    delta = tl.load(Delta + pid_bh * N_Q + offs_m, mask=offs_m < N_Q, other=0.0)
    k_base = K + b * stride_kb + h * stride_kh
    v_base = V + b * stride_vb + h * stride_vh
    dq = tl.zeros([BLOCK_M, BLOCK_D], tl.float32)
    qk_scale = sm_scale * 1.4426950408889634
    if CAUSAL:
        lo = tl.minimum(start_m // BLOCK_N * BLOCK_N, N_K // BLOCK_N * BLOCK_N)
        hi = tl.minimum(start_m + BLOCK_M, N_K)  # later key blocks are all above the diagonal
    else:
        lo = N_K // BLOCK_N * BLOCK_N
        hi = N_K
    dq = _dq_inner(dq, q, do, lse, delta, k_base, v_base, stride_kt, stride_kd, stride_vt, stride_vd, offs_m, offs_d,
                   0, lo, N_K, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_N, False, CAUSAL, PRECISION)
    dq = _dq_inner(dq, q, do, lse, delta, k_base, v_base, stride_kt, stride_kd, stride_vt, stride_vd, offs_m, offs_d,
                   lo, hi, N_K, qk_scale, HEAD_DIM, BLOCK_D, BLOCK_N, True, CAUSAL, PRECISION)
    dq = dq * sm_scale
    offs = q_off + offs_m[:, None] * stride_qt + offs_d[None, :] * stride_qd
    tl.store(DQ + offs, dq.to(DQ.dtype.element_ty), mask=(offs_m[:, None] < N_Q) & (offs_d[None, :] < HEAD_DIM))


def _check(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> None:
    if q.dim() != 4 or k.shape != v.shape or q.shape[:2] != k.shape[:2] or q.shape[-1] != k.shape[-1]:
        raise ValueError(f"expected q (B, H, Tq, D) and k, v (B, H, Tk, D), got {q.shape}, {k.shape}, {v.shape}")
    if q.dtype not in (torch.float16, torch.bfloat16, torch.float32) or not (q.dtype == k.dtype == v.dtype):
        raise ValueError(f"q, k, v must share a float16/bfloat16/float32 dtype, got {q.dtype}, {k.dtype}, {v.dtype}")
    if q.device.type != "cuda" and not INTERPRET:
        raise RuntimeError("Triton kernels need CUDA tensors, or TRITON_INTERPRET=1 set before importing this module")


def _precision(dtype: torch.dtype) -> str:
    """fp32 dot products in full precision ("ieee"), not TF32: this kernel is checked against SDPA in fp32."""
    return "ieee" if dtype == torch.float32 else "tf32"


def triton_flash_forward(q, k, v, causal: bool, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Launch the forward kernel: O (B, H, Tq, D) and base-2 log-sum-exp L (B·H, Tq) in fp32."""
    _check(q, k, v)
    b, h, n_q, d = q.shape
    n_k = k.shape[2]
    out = torch.empty_like(q)
    lse = torch.empty((b * h, n_q), dtype=torch.float32, device=q.device)

    def grid(meta):
        return (triton.cdiv(n_q, meta["BLOCK_M"]), b * h)

    _fwd_kernel[grid](
        q, k, v, out, lse, scale, *q.stride(), *k.stride(), *v.stride(), *out.stride(),
        h, n_q, n_k, HEAD_DIM=d, BLOCK_D=max(16, triton.next_power_of_2(d)), CAUSAL=causal,
        PRECISION=_precision(q.dtype),
    )
    return out, lse


def triton_flash_backward(q, k, v, out, lse, d_out, causal: bool, scale: float):
    """Launch the backward kernels: (dq, dk, dv). Everything is made contiguous first, so dO and dQ share
    Q's strides and dK, dV share K's and V's."""
    q, k, v, out, d_out = (t.contiguous() for t in (q, k, v, out, d_out))
    b, h, n_q, d = q.shape
    n_k = k.shape[2]
    # D_i = rowsum(dO_i ∘ O_i)
    delta = (d_out.float() * out.float()).sum(-1).reshape(b * h, n_q)
    dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
    common = dict(HEAD_DIM=d, BLOCK_D=max(16, triton.next_power_of_2(d)), CAUSAL=causal,
                  PRECISION=_precision(q.dtype))

    def grid_n(meta):
        return (triton.cdiv(n_k, meta["BLOCK_N"]), b * h)

    def grid_m(meta):
        return (triton.cdiv(n_q, meta["BLOCK_M"]), b * h)

    _bwd_dkdv_kernel[grid_n](
        q, k, v, d_out, lse, delta, dk, dv, scale, *q.stride(), *k.stride(), *v.stride(), h, n_q, n_k, **common,
    )
    _bwd_dq_kernel[grid_m](
        q, k, v, d_out, lse, delta, dq, scale, *q.stride(), *k.stride(), *v.stride(), h, n_q, n_k, **common,
    )
    return dq, dk, dv


class TritonFlashAttentionFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, causal: bool, scale: float):
        out, lse = triton_flash_forward(q, k, v, causal, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.causal, ctx.scale = causal, scale
        return out

    @staticmethod
    def backward(ctx, d_out):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = triton_flash_backward(q, k, v, out, lse, d_out, ctx.causal, ctx.scale)
        return dq, dk, dv, None, None


def triton_flash_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False,
                           scale: float | None = None) -> torch.Tensor:
    """softmax(q kᵀ · scale) v with the Triton kernels: q (B, H, Tq, D), k and v (B, H, Tk, D)."""
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    return TritonFlashAttentionFunction.apply(q, k, v, causal, scale)
