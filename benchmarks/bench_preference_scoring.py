"""Week 9's reward scoring is batched (issue 15): each completion goes through each reward model once.

Printed side by side: forward passes per pair per model (target: 2 — the chosen and the rejected completion,
each once), and scoring throughput in pairs/s for one reward model and for a 5-member ensemble, against the
naive way (each pair scored on its own, chosen and rejected in separate calls). The ensemble's throughput is
compared with the single model's: with every member doing the same work, ≈ 1/5 of it is the best there is.

    python -m benchmarks preference_scoring          (BENCH_PAIRS=N for another pool size)
"""

from __future__ import annotations

import os

import torch

from benchmarks.common import Row, best_of, report
from studyforge.experiments.preference.data import PairData
from studyforge.experiments.preference.reward_model import RewardEnsemble, RewardModel, score_pairs
from studyforge.experiments.transformer.config import TransformerConfig

PROMPT, COMPLETION = 16, 24  # week 9's default shapes


def backbone() -> TransformerConfig:
    """The size of week 9's default reference model."""
    return TransformerConfig.preset("llama", vocab_size=65, max_len=PROMPT + COMPLETION, d_model=64, n_layers=2,
                                    n_heads=4, ffn_multiple_of=32)


def random_pairs(n: int, seed: int = 0) -> PairData:
    g = torch.Generator().manual_seed(seed)
    ids = lambda length: torch.randint(0, 65, (n, length), generator=g)  # noqa: E731
    gold = torch.rand(n, 1, generator=g)
    return PairData(ids(PROMPT), ids(COMPLETION), ids(COMPLETION), gold, gold, ["style"],
                    torch.zeros(n, dtype=torch.bool), torch.rand(n, generator=g) < 0.5)


@torch.no_grad()
def naive_scores(model: RewardModel, pairs: PairData) -> torch.Tensor:
    """One pair at a time, the chosen and the rejected completion in separate calls."""
    return torch.stack([model.score(pairs.prompts[i:i + 1], pairs.chosen[i:i + 1])[0]
                        - model.score(pairs.prompts[i:i + 1], pairs.rejected[i:i + 1])[0] for i in range(len(pairs))])


def measure(n_pairs: int) -> list[Row]:
    torch.manual_seed(0)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    pairs = random_pairs(n_pairs)
    single = RewardModel(backbone())
    ensemble = RewardEnsemble([RewardModel(backbone()) for _ in range(5)])

    single.forward_passes = 0
    margins = score_pairs(single, pairs)
    passes_single = single.forward_passes / n_pairs
    for m in ensemble.members:
        m.forward_passes = 0
    score_pairs(ensemble, pairs)
    passes_member = [m.forward_passes / n_pairs for m in ensemble.members]

    naive_subset = pairs.subset(torch.arange(min(n_pairs, 128)))
    assert torch.allclose(naive_scores(single, naive_subset), margins[:len(naive_subset)], atol=1e-4), \
        "batched and pair-by-pair scores differ"
    t_single = best_of(lambda: score_pairs(single, pairs), repeat=3)
    t_ensemble = best_of(lambda: score_pairs(ensemble, pairs), repeat=2)
    t_naive = best_of(lambda: naive_scores(single, naive_subset), repeat=1) * n_pairs / len(naive_subset)
    single_rate, ensemble_rate, naive_rate = n_pairs / t_single, n_pairs / t_ensemble, n_pairs / t_naive
    return [
        Row("forward passes per pair (one model)", passes_single, "", target="= 2", ok=passes_single == 2),
        Row("forward passes per pair per member (5-member ensemble)", max(passes_member), "",
            target="= 2 for each member", ok=all(p == 2 for p in passes_member)),
        Row("scoring, one reward model", single_rate, "pairs/s", naive_rate, "same model, pair by pair",
            target="batched faster than pair by pair", ok=single_rate > naive_rate),
        Row("scoring, 5-member ensemble", ensemble_rate, "pairs/s", single_rate, "one model",
            target="≥ 1/5 × one model's ÷ 1.25", ok=ensemble_rate >= single_rate / 5 / 1.25),
    ]


def main() -> bool:
    n = int(os.environ.get("BENCH_PAIRS", "1024"))
    return report(f"Week 9 reward scoring — {n} pairs, prompt {PROMPT} + completion {COMPLETION} tokens, "
                  "d_model 64 × 2 layers", measure(n))


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
