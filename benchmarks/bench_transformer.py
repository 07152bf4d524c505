"""Weeks 5 and 8 (issue 8): our transformer and trainer on nanoGPT's CPU configuration, against its figure
and against Hugging Face transformers' GPT-2.

Quality — nanoGPT's README, "baby GPT" on a CPU: character-level Tiny Shakespeare, n_layer 4, n_head 4,
n_embd 128, block 64, batch 12, 2,000 iterations, no dropout (config/train_shakespeare_char.py otherwise:
AdamW lr 1e-3 → 1e-4 by cosine over 2,000 steps after 100 warm-up steps, β₂ 0.99, weight decay 0.1, gradient
clipping 1.0, no biases), reported validation loss 1.88. Ours: the same recipe through
`language_modeling.trainer.Trainer` with the GPT-2 preset (pre-LayerNorm, GELU, learned positions, tied
embeddings); validation loss over 2,400 fixed random windows of the last 10 % (nanoGPT's split; it averages
200 batches of 12). Target ≤ 1.88.

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

import torch
import torch.nn.functional as F

from benchmarks.common import Row, console, report

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"
STEPS, BATCH, BLOCK = 2000, 12, 64
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


def quality_row(data) -> tuple[Row, float]:
    from studyforge.experiments.language_modeling.trainer import Trainer

    trainer = Trainer(_model_config(data.vocab_size), _train_config(), data)
    start = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - start
    val = trainer.evaluate(("val",))["val_loss"]
    console.print(f"ours: {STEPS} steps in {seconds:.0f} s, val loss {val:.4f}, "
                  f"{STEPS * BATCH * BLOCK / seconds:,.0f} tokens/s through the Trainer")
    return Row("val loss, nanoGPT CPU config (2,000 iters)", val, "nats/char", 1.88, "nanoGPT README",
               "≤ 1.88", ok=val <= 1.88), seconds


def llama_row(data) -> Row:
    """The same recipe with the LLaMA parts (RMSNorm, SwiGLU at 8d/3, RoPE): informational, not the target."""
    from studyforge.experiments.language_modeling.trainer import Trainer

    cfg = _model_config(data.vocab_size).model_copy(update={"norm": "rmsnorm", "activation": "swiglu",
                                                          "position": "rope", "ffn_multiple_of": 32})
    trainer = Trainer(cfg, _train_config(), data)
    trainer.fit()
    val = trainer.evaluate(("val",))["val_loss"]
    return Row("  same recipe, LLaMA preset (info)", val, "nats/char", 1.88, "nanoGPT README")


def _loop(forward, model, data, step_range, state):
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
        x, y = data.step_batch(0, step, BATCH, BLOCK)
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
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        console.print("[yellow]transformers is not installed: skipping the GPT-2 throughput comparison[/]")
        return None
    from studyforge.experiments.transformer.model import Transformer

    torch.manual_seed(0)
    ours = Transformer(_model_config(data.vocab_size))
    hf = GPT2LMHeadModel(GPT2Config(vocab_size=data.vocab_size, n_positions=BLOCK, n_embd=128, n_layer=4, n_head=4,
                                    resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, bos_token_id=0, eos_token_id=0))
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
    quality, seconds = quality_row(data)
    rows.append(quality)
    rows.append(Row("  wall time of those 2,000 steps (info)", seconds, "s"))
    if speed is not None:
        rows.append(speed)
    rows.append(Row("  perplexity at that loss (info)", math.exp(quality.ours), ""))
    rows.append(llama_row(data))
    return report(f"Transformer + trainer, nanoGPT CPU config (torch {torch.__version__}, "
                  f"{torch.get_num_threads()} threads)", rows)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
