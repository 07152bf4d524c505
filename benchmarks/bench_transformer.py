"""Weeks 5 and 8 (issue 8): our transformer and trainer on nanoGPT's CPU configuration, against its figure
and against Hugging Face transformers' GPT-2.

Quality — nanoGPT's README, "baby GPT" on a CPU: character-level Tiny Shakespeare, n_layer 4, n_head 4,
n_embd 128, block 64, batch 12, 2,000 iterations, no dropout (config/train_shakespeare_char.py otherwise:
AdamW lr 1e-3 → 1e-4 by cosine over 2,000 steps after 100 warm-up steps, β₂ 0.99, weight decay 0.1, gradient
clipping 1.0, no biases), reported validation loss 1.88. Ours: the same recipe through
`language_modeling.trainer.Trainer` with the GPT-2 preset (pre-LayerNorm, GELU, learned positions, tied
embeddings), over `SEEDS` seeds; validation loss over the whole last 10 % (nanoGPT's split), read as
consecutive 64-character windows so that every character is predicted once, from contexts of 0–63
characters in equal shares — what nanoGPT's random windows estimate, without their sampling noise. nanoGPT's 1.88 is one run measured on 20 random batches of 12 windows (`--eval_iters=20`,
"a bit more noisy"), so the benchmark also prints the spread of that estimator on our model, and trains
Hugging Face's `GPT2LMHeadModel` of identical size with the same recipe, batches and windows as the peer
(it has biases; nanoGPT's config has none). Target ≤ 1.88. For scale: nanoGPT's own README command re-run
as written by an independent reproduction (paper-repro's example report, nanoGPT commit 3adf61e, Apple M4
CPU, its fixed seed 1337) ended at val loss 1.8857 — above 1.88 as well, and inside the spread printed below.

Speed — the same model against `transformers.GPT2LMHeadModel` of identical size (n_positions 64, n_embd
128, n_layer 4, n_head 4, dropouts 0; it has biases, ours does not), both trained by one plain loop in this
file (same batches, AdamW, schedule, clipping), in alternating blocks of steps so that machine load falls on
both alike. Target: ours ≥ GPT-2's tokens/s. transformers is a bench-only extra (`pip install
transformers`); without it the speed row is skipped.

An informational row trains the LLaMA preset (RMSNorm, SwiGLU, RoPE; same width, depth and recipe).

Data: ../shared/data/tinyshakespeare.txt (the benchmark only; the product never reads ../shared).
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from benchmarks.common import Row, console, report

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"
STEPS, BATCH, BLOCK = 2000, 12, 64
SEEDS = (0, 1, 2)
SPEED_STEPS, SPEED_BLOCK = 300, 50


def _model_config(vocab: int):
    from studyforge.experiments.transformer.config import TransformerConfig

    return TransformerConfig.preset("gpt2", vocab_size=vocab, max_len=BLOCK, d_model=128, n_layers=4, n_heads=4,
                                    dropout=0.0, bias=False)


def _train_config():
    from studyforge.experiments.language_modeling.trainer import TrainConfig

    return TrainConfig(steps=STEPS, batch_size=BATCH, lr=1e-3, min_lr_ratio=0.1, warmup=100, decay_steps=STEPS,
                       betas=(0.9, 0.99), weight_decay=0.1, grad_clip=1.0, eval_every=0, eval_windows=2400,
                       eval_batch_size=200)


def _val_loss(logits_of, x: torch.Tensor, y: torch.Tensor, batch: int = 200) -> float:
    """Mean cross-entropy (nats per token) over the windows (x, y)."""
    total = 0.0
    with torch.no_grad():
        for i in range(0, len(x), batch):
            logits = logits_of(x[i:i + batch])
            total += F.cross_entropy(logits.flatten(0, 1), y[i:i + batch].flatten(), reduction="sum").item()
    return total / y.numel()


def nanogpt_estimates(model, data, draws: int = 200) -> np.ndarray:
    """nanoGPT's estimator (`--eval_iters=20`: 20 random batches of 12 windows) drawn `draws` times."""
    model.eval()
    gen = torch.Generator().manual_seed(7)
    out = []
    for _ in range(draws):
        x, y = data.batch("val", 20 * BATCH, BLOCK, gen)
        out.append(_val_loss(lambda t: model(t).logits, x, y, batch=BATCH * 20))
    return np.array(out)


def quality_rows(data) -> tuple[list[Row], float]:
    """Ours over SEEDS seeds (the Trainer), the spread of nanoGPT's estimator, HF GPT-2 with the same recipe."""
    from studyforge.experiments.language_modeling.trainer import Trainer

    x, y = data.tiled_windows("val", BLOCK)
    losses, fixed, seconds, trainer = [], [], [], None
    for seed in SEEDS:
        trainer = Trainer(_model_config(data.vocab_size), _train_config().model_copy(update={"seed": seed}), data)
        start = time.perf_counter()
        trainer.fit()
        seconds.append(time.perf_counter() - start)
        fixed.append(trainer.evaluate(("val",))["val_loss"])
        trainer.model.eval()
        losses.append(_val_loss(lambda t, m=trainer.model: m(t).logits, x, y))
    ours = float(np.mean(losses))
    console.print(f"ours: val loss per seed {[round(v, 4) for v in losses]} (whole split; the Trainer's 2,400 "
                  f"fixed random windows: {[round(v, 4) for v in fixed]}); {STEPS} steps in "
                  f"{np.mean(seconds):.0f} s ({STEPS * BATCH * BLOCK / np.mean(seconds):,.0f} tokens/s, Trainer)")
    est = nanogpt_estimates(trainer.model, data)
    console.print(f"nanoGPT's estimator (20 batches of 12) on our seed-{SEEDS[-1]} model, {len(est)} draws: "
                  f"mean {est.mean():.4f}, 5th–95th percentile {np.percentile(est, 5):.4f}–"
                  f"{np.percentile(est, 95):.4f}")
    rows = [Row(f"val loss (whole split), nanoGPT CPU config (2,000 iters, mean of {len(SEEDS)} seeds)", ours, "nats/char",
                1.88, "nanoGPT README", "≤ 1.88", ok=ours <= 1.88),
            Row("  nanoGPT's 20-batch estimator on our model: mean of its draws (info)", float(est.mean()),
                "nats/char", 1.8857, "nanoGPT's command re-run, external report"),
            Row("  … and its std (info)", float(est.std()), "nats/char")]
    hf = hf_quality(data)
    if hf is not None:
        rows.append(Row(f"  same recipe and windows, HF GPT2LMHeadModel (mean of {len(SEEDS)} seeds)", ours,
                        "nats/char", hf, "HF GPT2LMHeadModel", "info"))
    return rows, float(np.mean(seconds))


def hf_quality(data) -> float | None:
    """Validation loss of `GPT2LMHeadModel` trained by `_loop` with the same recipe (mean over SEEDS)."""
    try:
        from transformers import GPT2LMHeadModel
    except ImportError:
        return None
    x, y = data.tiled_windows("val", BLOCK)
    losses = []
    for seed in SEEDS:
        torch.manual_seed(seed)
        hf = GPT2LMHeadModel(_hf_config(data.vocab_size))
        _loop(lambda t, m=hf: m(input_ids=t).logits, hf, data, range(STEPS), {}, seed=seed)
        hf.eval()
        losses.append(_val_loss(lambda t, m=hf: m(input_ids=t).logits, x, y))
    console.print(f"HF GPT2LMHeadModel, same recipe: val loss per seed {[round(v, 4) for v in losses]}")
    return float(np.mean(losses))


def llama_row(data) -> Row:
    """The same recipe with the LLaMA parts (RMSNorm, SwiGLU at 8d/3, RoPE): informational, not the target."""
    from studyforge.experiments.language_modeling.trainer import Trainer

    cfg = _model_config(data.vocab_size).model_copy(update={"norm": "rmsnorm", "activation": "swiglu",
                                                          "position": "rope", "ffn_multiple_of": 32})
    trainer = Trainer(cfg, _train_config(), data)
    trainer.fit()
    trainer.model.eval()
    val = _val_loss(lambda t: trainer.model(t).logits, *data.tiled_windows("val", BLOCK))
    return Row("  same recipe, LLaMA preset (info)", val, "nats/char", 1.88, "nanoGPT README")


def _hf_config(vocab: int):
    from transformers import GPT2Config

    return GPT2Config(vocab_size=vocab, n_positions=BLOCK, n_embd=128, n_layer=4, n_head=4, resid_pdrop=0.0,
                      embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0)


def _loop(forward, model, data, step_range, state, seed: int = 0):
    """One block of the shared training loop; `state` carries the optimizer and schedule between blocks."""
    from studyforge.experiments.transformer.optim import parameter_groups
    from studyforge.experiments.transformer.schedule import WarmupCosine

    if "opt" not in state:
        state["opt"] = torch.optim.AdamW(parameter_groups(model, 0.1), lr=1e-3, betas=(0.9, 0.99))
        state["sched"] = WarmupCosine(state["opt"], 100, STEPS, 0.1)
    opt, sched = state["opt"], state["sched"]
    model.train()
    start = time.perf_counter()
    for step in step_range:
        x, y = data.step_batch(seed, step, BATCH, BLOCK)
        logits = forward(x)
        loss = F.cross_entropy(logits.flatten(0, 1), y.flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        sched.step()
    return time.perf_counter() - start, loss.item()


def speed_row(data) -> Row | None:
    try:
        from transformers import GPT2LMHeadModel
    except ImportError:
        console.print("[yellow]transformers is not installed: skipping the GPT-2 throughput comparison[/]")
        return None
    from studyforge.experiments.transformer.model import Transformer

    torch.manual_seed(0)
    ours = Transformer(_model_config(data.vocab_size))
    hf = GPT2LMHeadModel(_hf_config(data.vocab_size))
    console.print(f"parameters: ours {ours.num_params():,}, GPT2LMHeadModel "
                  f"{sum(p.numel() for p in hf.parameters()):,} (GPT-2 has biases); attention: "
                  f"{hf.config._attn_implementation}")
    forwards = {"ours": (lambda x: ours(x).logits, ours), "hf": (lambda x: hf(input_ids=x).logits, hf)}
    seconds = {"ours": 0.0, "hf": 0.0}
    states: dict[str, dict] = {"ours": {}, "hf": {}}
    for lo in range(0, SPEED_STEPS, SPEED_BLOCK):
        for name, (fwd, model) in forwards.items():
            dt, _ = _loop(fwd, model, data, range(lo, lo + SPEED_BLOCK), states[name])
            if lo > 0:  # the first block warms up allocators and caches
                seconds[name] += dt
    tokens = (SPEED_STEPS - SPEED_BLOCK) * BATCH * BLOCK
    ours_tps, hf_tps = tokens / seconds["ours"], tokens / seconds["hf"]
    return Row("training tokens/s, same loop, same size", ours_tps, "tok/s", hf_tps, "HF GPT2LMHeadModel",
               "≥ GPT-2", ok=ours_tps >= hf_tps)


def main() -> bool:
    if not DATA.is_file():
        console.print(f"[yellow]{DATA} not found: skipping the transformer benchmark[/]")
        return True
    from studyforge.experiments.language_modeling.data import load_data

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads())))
    data = load_data(str(DATA))
    rows = []
    speed = speed_row(data)
    quality, seconds = quality_rows(data)
    rows += quality
    rows.append(Row("  wall time of those 2,000 steps, Trainer (info)", seconds, "s"))
    if speed is not None:
        rows.append(speed)
    rows.append(Row("  perplexity at that loss (info)", math.exp(quality[0].ours), ""))
    rows.append(llama_row(data))
    return report(f"Transformer + trainer, nanoGPT CPU config (torch {torch.__version__}, "
                  f"{torch.get_num_threads()} threads)", rows)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
