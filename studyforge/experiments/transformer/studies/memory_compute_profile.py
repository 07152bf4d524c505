"""`transformer.memory_compute_profile`: what each architecture costs in parameters, FLOPs and memory.

Training a dense transformer costs ≈ 6N FLOPs per token (Kaplan et al., arXiv:2001.08361: 2N forward, 4N
backward, N the non-embedding parameters) plus attention's 6·L·T·d; an MoE pays only for its active
experts. Memory is dominated by the activations a forward pass keeps for backward, which activation
checkpointing trades for recomputation (Chen et al., arXiv:1604.06174) and bf16 halves.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import torch
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.registry import register
from studyforge.experiments.transformer import plots
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer
from studyforge.experiments.transformer.precision import autocast

ARCHITECTURES: dict[str, dict[str, Any]] = {
    "gpt2": {},
    "llama": {"norm": "rmsnorm", "activation": "swiglu", "position": "rope", "ffn_multiple_of": 32},
    "parallel": {"parallel": True},
    "moe": {"ffn": "moe", "moe": {"n_experts": 4, "top_k": 1}},
    "mamba": {"mixer": "mamba", "depth_multiplier": 2},
    "retnet": {"mixer": "retnet"},
}


class ProfileConfig(ExperimentConfig):
    d_model: int = Field(128, ge=8, description="residual width")
    n_layers: int = Field(4, ge=1, description="blocks (Mamba: twice as many)")
    n_heads: int = Field(4, ge=1, description="heads")
    seq_len: int = Field(256, ge=8, description="tokens per sequence")
    batch_size: int = Field(8, ge=1, description="sequences per step")
    vocab_size: int = Field(65, ge=2, description="vocabulary (characters)")
    architectures: dict[str, dict[str, Any]] = Field(ARCHITECTURES, description="name -> TransformerConfig "
                                                     "overrides ('depth_multiplier' scales n_layers)")
    repeats: int = Field(3, ge=1, description="timed repetitions (best kept)")
    presets: ClassVar = {"quick": {"d_model": 32, "n_layers": 1, "n_heads": 2, "seq_len": 32, "batch_size": 2,
                                   "repeats": 1},
                         "full": {"d_model": 768, "n_layers": 12, "n_heads": 12, "seq_len": 1024, "batch_size": 8,
                                  "vocab_size": 50304, "repeats": 5}}


def _profile_one(model, x, y, device, precision: str, checkpointing: bool, repeats: int) -> dict[str, float]:
    from studyforge.experiments.attention.profiling import peak_memory

    model.train()
    model.gradient_checkpointing = checkpointing

    def forward():
        with autocast(device, precision):
            out = model(x, y)
        return out.loss + out.aux_loss

    # activations: what the forward pass leaves alive for backward (the returned loss holds the graph)
    loss, act_bytes = peak_memory(forward, device)
    loss.backward()
    model.zero_grad(set_to_none=True)
    del loss

    def step():
        forward().backward()
        model.zero_grad(set_to_none=True)

    best, spent = float("inf"), 0.0
    for _ in range(repeats):
        if spent > 2.0:  # slow settings: a couple of seconds of timing is enough
            break
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
        spent += time.perf_counter() - start
    return {"activation_mb": act_bytes / 2**20, "step_ms": best * 1000}


def _train_flops(model, x, y) -> tuple[int, bool]:
    """FLOPs of one forward + backward counted by torch (matrix products, convolutions, and SDPA where torch
    has a formula for the kernel used), and whether SDPA was among the counted operators."""
    from torch.utils.flop_counter import FlopCounterMode

    model.train()
    model.gradient_checkpointing = False
    counter = FlopCounterMode(display=False)
    with counter:
        out = model(x, y)
        (out.loss + out.aux_loss).backward()
    model.zero_grad(set_to_none=True)
    counted_ops = {str(op) for op in counter.get_flop_counts().get("Global", {})}
    return counter.get_total_flops(), any("scaled_dot_product" in op for op in counted_ops)


def attention_train_flops_per_token(n_layers: int, seq_len: int, d_model: int) -> int:
    """Causal attention's score and value products, forward + backward, per token: 6·L·T·d.

    A query at position t spends 2·d·t FLOPs on q·k and 2·d·t on the weighted values; averaged over a
    causal sequence that is ≈ 2·d·T per layer, and backward costs twice the forward (Kaplan et al.'s
    2·n_layer·n_ctx·d per token, times 3). `attention_train_flops_per_token(1, 64, 128)` -> 49152.
    """
    return 6 * n_layers * seq_len * d_model


@register("transformer.memory_compute_profile", week=5, config=ProfileConfig,
          headline="arch.gpt2.checkpointing_memory_ratio")
def memory_compute_profile(ctx, cfg: ProfileConfig) -> None:
    """Memory and compute per architecture: parameters, FLOPs per token, activation memory, step time.

    For each architecture at the same width: parameters (total, non-embedding, active per token); training
    FLOPs per token counted by torch's `FlopCounterMode` over one forward + backward (matrix products and
    convolutions; causal attention's score/value products added as 6·L·T·d where torch cannot count the
    SDPA kernel; elementwise work such as Mamba's scan is not counted), next to Kaplan et al.'s 6·N rule (arXiv:2001.08361, N = non-embedding parameters + the output head, active ones for
    MoE); the activation memory a forward pass keeps for backward, measured from the allocator (CPU
    profiler events, or CUDA's peak counter), in fp32 and under bf16 autocast, with and without activation
    checkpointing; and the time of one training step in each setting.
    """
    device = ctx.torch_device
    g = torch.Generator().manual_seed(ctx.seed)
    x = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.seq_len), generator=g).to(device)
    y = torch.randint(0, cfg.vocab_size, (cfg.batch_size, cfg.seq_len), generator=g).to(device)
    tokens = cfg.batch_size * cfg.seq_len
    settings = [("fp32", False), ("fp32", True), ("bf16", False), ("bf16", True)]
    arch: dict[str, dict[str, Any]] = {}
    with ctx.progress(total=len(cfg.architectures) * len(settings), description="profiling") as bar:
        for name, overrides in cfg.architectures.items():
            overrides = dict(overrides)
            depth = overrides.pop("depth_multiplier", 1)
            mcfg = TransformerConfig(vocab_size=cfg.vocab_size, max_len=cfg.seq_len, d_model=cfg.d_model,
                                     n_layers=cfg.n_layers * depth, n_heads=cfg.n_heads, **overrides)
            torch.manual_seed(ctx.seed)
            model = Transformer(mcfg).to(device)
            n_active = model.num_params(non_embedding=True, active=True) + model.head.weight.numel()
            counted, has_sdpa = _train_flops(model, x, y)
            flops = counted / tokens
            # torch has no FLOP formula for the CPU SDPA kernel: add causal attention's 6·L·T·d analytically
            attention = (attention_train_flops_per_token(mcfg.n_layers, cfg.seq_len, cfg.d_model)
                         if mcfg.mixer == "attention" and not has_sdpa else 0)
            flops += attention
            row: dict[str, Any] = {"params": model.num_params(), "params_non_embedding": model.num_params(True),
                                   "params_active": model.num_params(active=True), "n_layers": mcfg.n_layers,
                                   "train_flops_per_token": flops, "attention_flops_added": attention,
                                   "six_n": 6 * n_active, "flops_over_six_n": flops / (6 * n_active)}
            for precision, ckpt in settings:
                key = precision + ("_ckpt" if ckpt else "")
                m = _profile_one(model, x, y, device, precision, ckpt, cfg.repeats)
                row.setdefault("activation_mb", {})[key] = m["activation_mb"]
                row.setdefault("step_ms", {})[key] = m["step_ms"]
                row.setdefault("tokens_per_s", {})[key] = tokens / (m["step_ms"] / 1000)
                bar.advance(1)
            act = row["activation_mb"]
            row["checkpointing_memory_ratio"] = act["fp32_ckpt"] / act["fp32"]  # < 1: memory saved
            row["bf16_memory_ratio"] = act["bf16"] / act["fp32"]
            row["checkpointing_time_ratio"] = row["step_ms"]["fp32_ckpt"] / row["step_ms"]["fp32"]
            arch[name] = row
            ctx.log({f"{name}/activation_mb_fp32": act["fp32"], f"{name}/train_flops_per_token": flops})

    ctx.log_figure("memory_compute", plots.memory_compute(
        arch, [precision + ("_ckpt" if ckpt else "") for precision, ckpt in settings],
        f"B={cfg.batch_size}, T={cfg.seq_len}, d={cfg.d_model}"),
        caption="Activation memory (fp32/bf16, with/without checkpointing), "
                "training FLOPs per token against 6N, and step time per architecture.")
    rows = [{"architecture": n, "params": a["params"], "params_active": a["params_active"],
             "train_mflops_per_token": a["train_flops_per_token"] / 1e6, "six_n_mflops": a["six_n"] / 1e6,
             **{f"act_mb_{k}": v for k, v in a["activation_mb"].items()},
             **{f"step_ms_{k}": v for k, v in a["step_ms"].items()}} for n, a in arch.items()]
    ctx.log_table("profile", rows, caption="Per architecture: parameters, FLOPs per token, activation memory (MiB) "
                  "and step time (ms) in fp32/bf16, with/without activation checkpointing.")
    checks = {"checkpointing_saves_memory_everywhere": all(a["checkpointing_memory_ratio"] < 1 for a in arch.values()),
              "bf16_saves_memory_everywhere": all(a["bf16_memory_ratio"] < 1 for a in arch.values())}
    ctx.summary(arch=arch, checks=checks, device=str(device), batch_size=cfg.batch_size, seq_len=cfg.seq_len)
