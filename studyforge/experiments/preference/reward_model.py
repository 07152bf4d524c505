"""Reward models: a scalar head on a week-8 transformer, trained on preferences; ensembles; checkpoints.

    r_θ(x, y) = w · h_T(x ⊕ y) + b

h_T is the backbone's final hidden state (`Transformer.features`, what its LM head reads) at the last token of
the prompt x followed by the completion y: with causal attention the last position has read everything, the
pooling HF's `*ForSequenceClassification` heads use for decoder-only models. InstructGPT (Ouyang et al. 2022,
arXiv:2203.02155, §3.5) starts the reward model from the SFT model with its unembedding replaced by this
scalar head; `RewardModel.from_language_model` does the same with a week-8 checkpoint.

**Architectures** (`architecture=`), the two classic ways to compare two inputs with networks:

- `shared` — one tower scores each completion on its own and the pair is compared by the difference,
  P(y₁ ≻ y₂) = σ(r(x, y₁) − r(x, y₂)) (a Siamese network; RankNet, Burges et al. 2005; every RLHF reward
  model). The prediction is antisymmetric by construction — swapping the pair gives exactly 1 − P — and r is
  one reward on one scale, which is what RL needs.
- `separate` — two towers with their own weights, one for the first-listed completion and one for the second
  (a "pseudo-Siamese" network): P = σ(r_A(x, y₁) − r_B(x, y₂)). Twice the parameters, each tower sees its
  slot only, nothing forces antisymmetry — so it can learn position bias — and "the reward" of one
  completion is ambiguous (`reward` averages the towers). The study measures what that costs.

**Training** (`fit_reward_model`, the one training loop for every week-9 reward model): Bradley–Terry
(`ranking.bradley_terry_loss`, with optional margin, reward centering and label smoothing) on pairs, or
Plackett–Luce (`ranking.plackett_luce_loss`) on K-way rankings; AdamW, linear warm-up, gradient clipping,
batches from a seeded generator, optionally on a bootstrap resample of the data (for ensembles).

**Ensembles** (`RewardEnsemble`): members from independent seeds (different initial heads — and data order)
or from bootstrap resamples; their mean is the reward, their disagreement (standard deviation of the
members' margins, or of their P(y₁ ≻ y₂)) the epistemic uncertainty (Lakshminarayanan et al. 2017; for
reward models Gleave & Irving 2022, Coste et al. 2023 arXiv:2310.02743).

**Scoring is batched**: `score_pairs` sends each completion through each member once (chosen and rejected of a
batch together), and every model counts the completions it has scored (`forward_passes`), so the benchmark
can show 2 passes per pair per model.

**Checkpoints** (format `studyforge.rm/1`, one `torch.save`d dict): the backbone's `TransformerConfig`, the
architecture, one state_dict per member, the tokenizer, and how it was made (annotator, training config,
metrics). `load_reward_model(path_or_run_dir)` rebuilds a `RewardModel` or a `RewardEnsemble`; weeks 10–12
use it as their proxy reward.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import torch
from pydantic import BaseModel, Field
from torch import nn

from studyforge.experiments.preference.data import PairData, RankingData, truth_accuracy
from studyforge.experiments.preference.ranking import bradley_terry_loss, plackett_luce_loss
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer

FORMAT = "studyforge.rm/1"
Architecture = Literal["shared", "separate"]


class RewardModel(nn.Module):
    """A scalar reward on a week-8 transformer backbone: `reward(prompts, completions)` -> (B,)."""

    def __init__(self, config: TransformerConfig, architecture: Architecture = "shared"):
        super().__init__()
        if architecture not in ("shared", "separate"):
            raise ValueError(f"unknown architecture {architecture!r}; use shared or separate")
        self.config = config
        self.architecture = architecture
        n = 1 if architecture == "shared" else 2
        self.towers = nn.ModuleList(Transformer(config) for _ in range(n))
        self.heads = nn.ModuleList(nn.Linear(config.d_model, 1) for _ in range(n))
        for head in self.heads:
            nn.init.normal_(head.weight, std=1.0 / math.sqrt(config.d_model + 1))  # r ~ N(0, ~1) at start
            nn.init.zeros_(head.bias)
        self.forward_passes = 0  # completions scored so far (one row through one tower = 1)

    @classmethod
    def from_language_model(cls, lm: Transformer, architecture: Architecture = "shared") -> RewardModel:
        """A reward model whose tower(s) start as copies of the language model `lm` (its LM head unused)."""
        rm = cls(lm.config, architecture)
        for tower in rm.towers:
            tower.load_state_dict(lm.state_dict())
        return rm.to(next(lm.parameters()).device)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def score(self, prompts: torch.Tensor, completions: torch.Tensor, tower: int = 0) -> torch.Tensor:
        """r(x, y) from one tower: prompts (B, P), completions (B, C) -> (B,) float32."""
        h, _ = self.towers[tower].features(torch.cat([prompts, completions], dim=1))  # (B, P + C, d)
        self.forward_passes += len(completions)
        return self.heads[tower](h[:, -1].float()).squeeze(-1)

    def reward(self, prompts: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
        """The reward of each completion (B,): the shared tower's score, or the separate towers' mean."""
        if self.architecture == "shared":
            return self.score(prompts, completions)
        return 0.5 * (self.score(prompts, completions, 0) + self.score(prompts, completions, 1))

    def pair_scores(self, prompts: torch.Tensor, first: torch.Tensor,
                    second: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(r₁, r₂), each (B,): what σ(r₁ − r₂) = P(first ≻ second) compares. Shared: both completions in one
        batched pass through the one tower; separate: the first through tower A, the second through tower B."""
        if self.architecture == "shared":
            both = self.score(torch.cat([prompts, prompts]), torch.cat([first, second]))
            return both[:len(first)], both[len(first):]
        return self.score(prompts, first, 0), self.score(prompts, second, 1)

    def list_scores(self, prompts: torch.Tensor, completions: torch.Tensor) -> torch.Tensor:
        """Rewards of K completions per prompt: prompts (B, P), completions (B, K, C) -> (B, K) (all K in one pass)."""
        b, k, c = completions.shape
        flat = self.reward(prompts.repeat_interleave(k, dim=0), completions.reshape(b * k, c))
        return flat.view(b, k)


def chosen_margin(model, pairs: PairData, device) -> torch.Tensor:
    """r(chosen) − r(rejected) as the model predicts it from the pair in the order it was shown: (B,) for a
    model, (E, B) for an ensemble. For a shared tower the order cannot matter; separate towers read
    P(first ≻ second) = σ(r_A(first) − r_B(second)), turned around where the rejected was shown first."""
    first, second = pairs.presented()
    r1, r2 = model.pair_scores(pairs.prompts.to(device), first.to(device), second.to(device))
    sign = torch.where(pairs.chosen_first, 1.0, -1.0).to(r1.device)
    return (r1 - r2) * sign


class RewardEnsemble(nn.Module):
    """Reward models that vote: `pair_scores` gives every member's (E, B) scores; the reward is their mean."""

    def __init__(self, members: list[RewardModel]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.config = members[0].config
        self.architecture = members[0].architecture

    def __len__(self) -> int:
        return len(self.members)

    @property
    def forward_passes(self) -> int:
        return sum(m.forward_passes for m in self.members)

    def pair_scores(self, prompts, first, second) -> tuple[torch.Tensor, torch.Tensor]:
        out = [m.pair_scores(prompts, first, second) for m in self.members]
        return torch.stack([a for a, _ in out]), torch.stack([b for _, b in out])

    def rewards(self, prompts, completions) -> torch.Tensor:
        """Every member's reward: (E, B)."""
        return torch.stack([m.reward(prompts, completions) for m in self.members])

    def reward(self, prompts, completions) -> torch.Tensor:
        return self.rewards(prompts, completions).mean(0)


# -------------------------------------------------------------------------------------------------
# Training: the one loop.


class RewardTrainConfig(BaseModel):
    """How one reward model is trained (every field is logged with the checkpoint)."""

    steps: int = Field(300, ge=1)
    batch_size: int = Field(32, ge=1, description="pairs (or rankings) per step")
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup: int = Field(10, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    loss: Literal["bt", "pl"] = Field("bt", description="Bradley–Terry on pairs, or Plackett–Luce on rankings")
    margin: float | None = Field(None, description="Bradley–Terry margin m: −log σ(r_c − r_r − m)")
    center_coef: float | None = Field(None, description="reward-centering coefficient: + c·mean((r_c + r_r)²)")
    label_smoothing: float = Field(0.0, ge=0, lt=0.5, description="conservative BT: a label is wrong w.p. ε")
    bootstrap: bool = Field(False, description="train on a resample (with replacement) of the data")


def batch_loss(model: RewardModel, batch: PairData | RankingData, cfg: RewardTrainConfig,
               device) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss, per-example margin r_c − r_r or r_best − r_2nd, detached) of one batch."""
    if isinstance(batch, RankingData):
        if cfg.loss != "pl":
            raise ValueError("rankings train with loss='pl' (or convert them with .to_pairs() for 'bt')")
        scores = model.list_scores(batch.prompts.to(device), batch.completions.to(device))  # (B, K) best first
        return plackett_luce_loss(scores), (scores[:, 0] - scores[:, 1]).detach()
    if cfg.loss != "bt":
        raise ValueError("pairs train with loss='bt'")
    if cfg.center_coef is None:
        r_c = chosen_margin(model, batch, device)  # as shown, so separate towers cannot read the label off position
        r_r = torch.zeros_like(r_c)
    elif model.architecture == "shared":  # TRL's centering term needs the two rewards themselves
        r_c, r_r = model.pair_scores(batch.prompts.to(device), batch.chosen.to(device), batch.rejected.to(device))
    else:
        raise ValueError("reward centering needs one reward scale: use the shared architecture")
    loss = bradley_terry_loss(r_c, r_r, margin=cfg.margin, center_coef=cfg.center_coef,
                              label_smoothing=cfg.label_smoothing)
    return loss, (r_c - r_r).detach()


def fit_reward_model(model: RewardModel, data: PairData | RankingData, cfg: RewardTrainConfig, seed: int,
                     device: str | torch.device = "cpu",
                     on_step: Callable[[int, dict[str, float]], None] | None = None) -> list[dict[str, float]]:
    """Train `model` in place for `cfg.steps` steps; returns per-step rows (loss, train accuracy, grad norm).

    The batches (and the bootstrap resample) come from generators seeded by `seed`, so a model is a function of
    (initial weights, data, cfg, seed)."""
    model.to(device).train()
    pool = torch.arange(len(data))
    if cfg.bootstrap:
        pool = torch.randint(0, len(data), (len(data),), generator=torch.Generator().manual_seed(seed + 99_991))
    order = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup)))
    history = []
    for step in range(1, cfg.steps + 1):
        idx = pool[torch.randint(0, len(pool), (min(cfg.batch_size, len(pool)),), generator=order)]
        loss, margin = batch_loss(model, data.subset(idx), cfg, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        sched.step()
        row = {"loss": float(loss.detach()), "train_accuracy": float(((margin > 0).float()
                                                                       + 0.5 * (margin == 0).float()).mean()),
               "grad_norm": float(grad_norm)}
        history.append(row)
        if on_step is not None:
            on_step(step, row)
    model.eval()
    return history


def train_ensemble(make_member: Callable[[int], RewardModel], data: PairData | RankingData, cfg: RewardTrainConfig,
                   n: int, seed: int, device: str | torch.device = "cpu",
                   on_step: Callable[[int, dict[str, float]], None] | None = None) -> RewardEnsemble:
    """n members, member i built by `make_member(seed_i)` and trained with seed_i = seed + 1000·i (and, with
    `cfg.bootstrap`, each on its own resample)."""
    members = []
    for i in range(n):
        member_seed = seed + 1000 * i
        torch.manual_seed(member_seed)  # the member's fresh head (and any fresh backbone) differ per member
        member = make_member(member_seed)
        fit_reward_model(member, data, cfg, member_seed, device, on_step)
        members.append(member)
    return RewardEnsemble(members)


# -------------------------------------------------------------------------------------------------
# Scoring and evaluation.


@torch.no_grad()
def score_pairs(model: RewardModel | RewardEnsemble, pairs: PairData, device: str | torch.device = "cpu",
                batch_size: int = 256) -> torch.Tensor:
    """The predicted margin r(chosen) − r(rejected) of every pair (`chosen_margin`): (N,) for a model, (E, N)
    for an ensemble. Each completion goes through each member exactly once (both completions of a batch in one
    pass for the shared architecture)."""
    model.eval()
    out = [chosen_margin(model, pairs.subset(torch.arange(lo, min(lo + batch_size, len(pairs)))), device).cpu()
           for lo in range(0, len(pairs), batch_size)]
    return torch.cat(out, dim=-1)


def pair_metrics(margin: torch.Tensor, pairs: PairData, weights: dict[str, float]) -> dict[str, float]:
    """Accuracy of a predicted margin r(chosen) − r(rejected) against the labels and against the gold utility
    under `weights`, and the calibration of P = σ(margin) against the gold outcome (decided pairs)."""
    from studyforge.experiments.preference.calibration import brier_score, expected_calibration_error

    gold = pairs.gold_margin(weights)
    decided = gold != 0
    prob = torch.sigmoid(margin)[decided]
    outcome = (gold[decided] > 0).float()
    return {"label_accuracy": float(((margin > 0).float() + 0.5 * (margin == 0).float()).mean()),
            "gold_accuracy": truth_accuracy(margin, gold),
            "ece": float(expected_calibration_error(prob, outcome, symmetric=True)) if len(prob) else math.nan,
            "brier": float(brier_score(prob, outcome)) if len(prob) else math.nan,
            "mean_margin": float(margin.mean())}


def evaluate(model: RewardModel | RewardEnsemble, pairs: PairData, weights: dict[str, float],
             device: str | torch.device = "cpu") -> dict[str, float]:
    """`pair_metrics` of the model (an ensemble: of its mean margin, plus the members' disagreement)."""
    margin = score_pairs(model, pairs, device)
    if margin.dim() == 1:
        return pair_metrics(margin, pairs, weights)
    out = pair_metrics(margin.mean(0), pairs, weights)
    out["disagreement"] = float(torch.sigmoid(margin).std(0).mean())
    return out


# -------------------------------------------------------------------------------------------------
# Checkpoints.


def export_reward_model(model: RewardModel | RewardEnsemble, tokenizer, **meta: Any) -> dict[str, Any]:
    """A `studyforge.rm/1` checkpoint dict (CPU tensors) — `meta` holds how it was made (annotator weights,
    training config, prompt/completion lengths, metrics), kept under "meta"."""
    members = list(model.members) if isinstance(model, RewardEnsemble) else [model]
    return {"format": FORMAT, "kind": "ensemble" if isinstance(model, RewardEnsemble) else "single",
            "backbone_config": members[0].config.model_dump(mode="json"), "architecture": members[0].architecture,
            "members": [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in members],
            "tokenizer": tokenizer.to_dict(), "meta": meta}


def load_reward_model(path: str | Path, device: str | torch.device = "cpu", name: str | None = None):
    """(RewardModel or RewardEnsemble in eval mode, tokenizer, meta) from a `studyforge.rm/1` file or a run folder."""
    from studyforge.experiments.language_modeling.checkpoint import find_checkpoint
    from studyforge.experiments.language_modeling.data import tokenizer_from_dict

    file = find_checkpoint(path, name, default="reward_model")
    ckpt = torch.load(file, map_location="cpu", weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise ValueError(f"{file} is not a {FORMAT} checkpoint")
    config = TransformerConfig.model_validate(ckpt["backbone_config"])
    members = []
    for state in ckpt["members"]:
        m = RewardModel(config, ckpt["architecture"])
        m.load_state_dict(state)
        members.append(m)
    model = RewardEnsemble(members) if ckpt["kind"] == "ensemble" else members[0]
    return model.to(device).eval(), tokenizer_from_dict(ckpt["tokenizer"]), ckpt.get("meta", {})


def clone_as_reward_model(lm: Transformer, architecture: Architecture = "shared") -> Callable[[int], RewardModel]:
    """A `make_member` for `train_ensemble`: each member starts from a copy of `lm` (fresh head per seed)."""
    frozen = copy.deepcopy(lm).cpu()

    def make(_seed: int) -> RewardModel:
        return RewardModel.from_language_model(frozen, architecture)

    return make
