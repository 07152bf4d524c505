"""Week 10 (issue 16, Performance): PPO updates per minute at the default preset's sizes, and where the time goes.

One PPO update of `rlhf.ppo_text_generation`'s default preset: 64 prompts × 16 tokens, responses of up to 24
tokens sampled with the KV cache, one pass of the policy (log-probs and values) and of the frozen reference,
one reward-model pass, then 4 epochs of 2 minibatches of 32 (forward + backward). The models are the default
sizes — a LLaMA-style d_model 64 × 2 layers × 4 heads policy over Tiny Shakespeare's 65 characters, and a
reward model on the same backbone — with random weights: speed does not depend on the values, and without a
stop token every response runs to its full 24 tokens (the worst case; a trained model stops earlier).

Reported: updates per minute and seconds per update split into generate (sampling and the policy and reference
passes), score (the reward model) and optimise (the PPO epochs), from `RLHFTrainer.timing`, the mean over
`BENCH_UPDATES` (default 5) updates after one warm-up. No peer runs here (TRL is not installed and would
need a Hugging Face model); the issue asks for the figure and its split. Single-threaded (`BENCH_THREADS`).

    python -m benchmarks rlhf_update
"""

from __future__ import annotations

import os

import torch

from benchmarks.common import Row, report
from studyforge.experiments.preference.reward_model import RewardModel
from studyforge.experiments.rlhf.ppo import RLHFConfig, RLHFTrainer
from studyforge.experiments.rlhf.reward import ProxyReward
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer

VOCAB, PROMPT = 65, 16


def measure(updates: int = 5, batch: int = 64, d_model: int = 64, n_layers: int = 2) -> dict[str, float]:
    """Seconds per update by phase, updates per minute, and the cost counters per update."""
    torch.manual_seed(0)
    cfg_model = TransformerConfig.preset("llama", vocab_size=VOCAB, max_len=PROMPT + 24, d_model=d_model,
                                         n_layers=n_layers, n_heads=4, ffn_multiple_of=32)
    reference = Transformer(cfg_model).eval()
    proxy = ProxyReward(RewardModel.from_language_model(reference).eval())
    cfg = RLHFConfig(batch_size=batch, minibatch_size=min(32, batch), value_warmup=0, stop=None)
    trainer = RLHFTrainer(reference, proxy, cfg, seed=0, stop_id=None)
    g = torch.Generator().manual_seed(0)
    trainer.step(torch.randint(0, VOCAB, (batch, PROMPT), generator=g))  # warm-up: not timed
    trainer.timing = dict.fromkeys(trainer.timing, 0.0)
    before = dict(trainer.cost)
    for _ in range(updates):
        trainer.step(torch.randint(0, VOCAB, (batch, PROMPT), generator=g))
    split = {k: v / updates for k, v in trainer.timing.items()}
    total = sum(split.values())
    return {**split, "seconds_per_update": total, "updates_per_minute": 60.0 / total,
            **{f"per_update_{k}": (v - before[k]) / updates for k, v in trainer.cost.items()}}


def main() -> bool:
    threads = int(os.environ.get("BENCH_THREADS", "1"))
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        m = measure(int(os.environ.get("BENCH_UPDATES", "5")))
    finally:
        torch.set_num_threads(saved)
    rows = [Row("PPO updates per minute (default preset sizes)", m["updates_per_minute"], "/min"),
            Row("  seconds per update", m["seconds_per_update"], "s"),
            *[Row(f"  {k.removesuffix('_s')} (share {m[k] / m['seconds_per_update']:.0%})", m[k], "s")
              for k in ("generate_s", "score_s", "optimise_s")],
            Row("  tokens generated per update", m["per_update_tokens_generated"], "tok"),
            Row("  policy forward / backward rows per update",
                m["per_update_policy_forward"], f"rows / {m['per_update_policy_backward']:.0f} backward")]
    return report(f"Week 10 PPO update: 64 prompts, 24 new tokens, 4 epochs × 2 minibatches, d64×2 "
                  f"({threads} thread{'s' * (threads > 1)})", rows)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
