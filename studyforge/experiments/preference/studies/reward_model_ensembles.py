"""`preference.reward_model_ensembles`: reward-model architectures, ensembles and their uncertainty, calibration,
scaling — and the reward model weeks 10–12 load.

One set of labelled pairs, many reward models, every figure against the gold truth behind the labels:

- pairs: the reference model (week 8's transformer) writes two completions per prompt; a Bradley–Terry
  annotator labels them by the `style` gold reward (P(y₁ ≻ y₂) = σ(s·(u₁ − u₂))), so labels are noisy but the
  truth is known. Held-out pairs have prompts from the validation split; a calibration split (train prompts,
  never trained on) fits the temperature.
- **architectures** (`reward_model.RewardModel`): shared tower vs separate towers, each started from the
  reference (InstructGPT, arXiv:2203.02155, §3.5). Besides accuracy and parameters, the *position
  consistency* on swapped pairs: P(a ≻ b) + P(b ≻ a) − 1, which is 0 when the prediction does not depend on
  the order the pair is shown in — exactly 0 for a shared tower by construction, free for separate towers.
- **ensembles** (Lakshminarayanan et al. 2017, arXiv:1612.01474; for reward models Coste et al. 2023,
  arXiv:2310.02743): E members from independent seeds, and E from bootstrap resamples of the pairs (each
  member also has its own seed, as `train_ensemble` builds them). The ensemble's margin is the members' mean
  (what `RewardEnsemble.reward` ranks by); its disagreement on a pair is the standard deviation of the
  members' P(chosen ≻ rejected). Does disagreement flag the pairs the ensemble gets wrong? Accuracy by
  disagreement quintile, and the AUROC of disagreement as a detector of errors (`auroc`) — beside the AUROC
  of the ensemble's own low confidence (−|margin|), the detector one gets without an ensemble.
- **calibration** (`calibration.py`, symmetric ECE; Guo et al. 2017, arXiv:1706.04599): a reliability diagram of
  P(chosen ≻ rejected) = σ(margin) against the gold outcome, for one model, the ensemble, and the ensemble
  with temperature scaling (σ(margin / T), T fitted on the calibration split's *labels* by `fit_temperature`:
  gold is never used to fit anything). A model trained on noisy labels learns P(label), which is less sure
  than the gold outcome it is scored against, so "calibrated to the labels" can read as underconfident here.
- **scaling**: gold accuracy against backbone size (freshly initialised llama-style backbones of growing
  width and depth — not pretrained, so the pretrained reference's own point sits beside them) and against
  the number of training pairs (reference-initialised shared models on nested subsets; the same steps each).
- **checkpoint**: the seed ensemble is saved as `reward_model` (and its first member as
  `reward_model_single`) in the `studyforge.rm/1` format, with its annotator, lengths, gold names and held-out
  metrics; `load_reward_model(run_dir)` gives it back.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import Field

from studyforge.experiments.preference import plots
from studyforge.experiments.preference.calibration import (
    brier_score,
    expected_calibration_error,
    reliability_bins,
)
from studyforge.experiments.preference.data import Annotator, PairData, truth_accuracy
from studyforge.experiments.preference.reward_model import (
    RewardEnsemble,
    RewardModel,
    RewardTrainConfig,
    clone_as_reward_model,
    export_reward_model,
    fit_reward_model,
    pair_metrics,
    score_pairs,
    train_ensemble,
)
from studyforge.experiments.preference.studies.common import PreferenceStudyConfig, pretrain_total, setup
from studyforge.experiments.registry import register
from studyforge.experiments.transformer.config import TransformerConfig


class RewardModelEnsemblesConfig(PreferenceStudyConfig):
    gold_weights: dict[str, float] = Field({"style": 1.0}, description="the annotator's utility Σ w_m·gold_m "
                                           "(the truth every accuracy is measured against)")
    bt_scale: float = Field(30.0, gt=0, description="Bradley–Terry annotator scale s: P(y₁ ≻ y₂) = σ(s·(u₁ − u₂))")
    train_pairs: int = Field(1024, ge=8, description="labelled pairs to train on (prompts from the train split)")
    calib_pairs: int = Field(256, ge=4, description="labelled pairs held back to fit the temperature (train split)")
    heldout_pairs: int = Field(512, ge=8, description="held-out pairs (prompts from the validation split)")
    steps: int = Field(120, ge=1, description="optimizer steps per reward model")
    batch_size: int = Field(32, ge=2, description="pairs per step")
    lr: float = Field(1e-3, gt=0, description="AdamW learning rate (after 10 warm-up steps)")
    ensemble_size: int = Field(5, ge=2, description="members per ensemble (seed and bootstrap)")
    backbone_sizes: list[tuple[int, int]] = Field([(16, 1), (32, 1), (64, 2)], min_length=3,
                                                  description="(d_model, n_layers) of the fresh backbones scaled")
    data_fractions: list[float] = Field([0.125, 0.25, 0.5, 1.0], min_length=3,
                                        description="shares of the training pairs for the data-scaling curve")
    bins: int = Field(10, ge=2, description="reliability-diagram bins over [0, 1]")
    presets: ClassVar = {
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "completion_len": 12, "train_pairs": 64, "calib_pairs": 32, "heldout_pairs": 64,
                  "steps": 6, "batch_size": 16, "ensemble_size": 3, "backbone_sizes": [(8, 1), (16, 1), (32, 1)],
                  "data_fractions": [0.25, 0.5, 1.0]},
        "full": {"d_model": 128, "n_layers": 4, "pretrain_steps": 3000, "train_pairs": 8192, "calib_pairs": 1024,
                 "heldout_pairs": 2048, "steps": 1500, "batch_size": 64,
                 "backbone_sizes": [(16, 1), (32, 2), (64, 2), (128, 4), (256, 4)],
                 "data_fractions": [0.03125, 0.0625, 0.125, 0.25, 0.5, 1.0]},
    }


# -------------------------------------------------------------------------------------------------
# The measurements (pure functions of margins; the tests check them against known answers).


def auroc(scores: torch.Tensor, positives: torch.Tensor) -> float:
    """Area under the ROC curve of `scores` as a detector of `positives`: P(s⁺ > s⁻) + ½ P(s⁺ = s⁻) over every
    (positive, negative) pair — the Mann–Whitney U statistic divided by n⁺·n⁻ (Hanley & McNeil 1982). 0.5 is
    a useless detector, 1 a perfect one. NaN when either class is empty.

    >>> auroc(torch.tensor([0.9, 0.4, 0.4, 0.1]), torch.tensor([True, True, False, False]))
    0.875
    """
    pos, neg = scores[positives].double(), scores[~positives].double()
    if not len(pos) or not len(neg):
        return math.nan
    # (n⁺, n⁻) comparisons: 1 when the positive scores higher, ½ on a tie
    wins = (pos[:, None] > neg[None]).double() + 0.5 * (pos[:, None] == neg[None]).double()
    return float(wins.mean())


def accuracy_by_quantile(score: torch.Tensor, margin: torch.Tensor, gold_margin: torch.Tensor,
                         q: int = 5) -> list[dict[str, float]]:
    """Gold accuracy of `margin` within q equal-count groups of pairs sorted by `score` (lowest first): one
    row per group with its mean score and accuracy (`truth_accuracy`, decided pairs only)."""
    order = torch.argsort(score, stable=True)
    return [{"quantile": i + 1, "mean_score": float(score[g].mean()),
             "gold_accuracy": truth_accuracy(margin[g], gold_margin[g]), "pairs": len(g)}
            for i, g in enumerate(torch.tensor_split(order, q)) if len(g)]


def fit_temperature(margin: torch.Tensor) -> float:
    """Temperature scaling (Guo et al. 2017): the T > 0 minimising the Bradley–Terry loss of the labels,
    mean softplus(−m / T) — `margin` is r(chosen) − r(rejected) with the labelled choice as "chosen". One
    parameter, so the ranking (and accuracy) is unchanged; T > 1 softens an overconfident model.
    Searched over log T ∈ [−5, 5] (bounded: on separable labels the loss keeps falling as T → 0)."""
    from scipy.optimize import minimize_scalar

    m = margin.double()
    res = minimize_scalar(lambda log_t: float(torch.nn.functional.softplus(-m / math.exp(log_t)).mean()),
                          bounds=(-5.0, 5.0), method="bounded", options={"xatol": 1e-6})
    return math.exp(res.x)


@torch.no_grad()
def position_consistency(model: RewardModel, pairs: PairData, device) -> dict[str, float]:
    """Each pair shown both ways round: gap = P(a ≻ b) + P(b ≻ a) − 1 (0 when the order shown does not matter;
    > 0 favours the first slot) — its mean, its mean absolute value, and the share of pairs whose predicted
    winner changes with the order (`flip_rate`)."""
    model.eval()
    a, b = pairs.presented()
    x, a, b = pairs.prompts.to(device), a.to(device), b.to(device)
    r1, r2 = model.pair_scores(x, a, b)
    s1, s2 = model.pair_scores(x, b, a)
    p_ab, p_ba = torch.sigmoid(r1 - r2), torch.sigmoid(s1 - s2)
    gap = (p_ab + p_ba - 1).cpu()
    return {"position_gap": float(gap.mean()), "position_abs_gap": float(gap.abs().mean()),
            "position_flip_rate": float(((p_ab > 0.5) == (p_ba > 0.5)).float().mean())}


def calibration_row(margin: torch.Tensor, pairs: PairData, weights: dict[str, float], bins: int) -> dict:
    """Symmetric ECE, Brier score and the reliability bins of σ(margin) against the gold outcome (decided pairs)."""
    gold = pairs.gold_margin(weights)
    decided = gold != 0
    prob, outcome = torch.sigmoid(margin[decided]), (gold[decided] > 0).float()
    return {"ece": expected_calibration_error(prob, outcome, bins, symmetric=True),
            "brier": brier_score(prob, outcome),
            "bins": reliability_bins(prob, outcome, bins, symmetric=True)}


def ensemble_report(margins: torch.Tensor, pairs: PairData, weights: dict[str, float]) -> dict:
    """What an (E, N) matrix of member margins says on held-out pairs: the ensemble's (mean margin) and each
    member's gold accuracy, the disagreement std_e σ(m_e) and how well it flags the ensemble's errors."""
    gold = pairs.gold_margin(weights)
    mean = margins.mean(0)
    disagreement = torch.sigmoid(margins).std(0)
    decided = gold != 0
    wrong = (mean * gold.sign() <= 0)[decided]  # a zero margin is not a confident right answer
    members = [truth_accuracy(m, gold) for m in margins]
    return {"ensemble_gold_accuracy": truth_accuracy(mean, gold),
            "member_gold_accuracy": members,
            "member_gold_accuracy_mean": sum(members) / len(members),
            "gain_over_member": truth_accuracy(mean, gold) - sum(members) / len(members),
            "disagreement_mean": float(disagreement.mean()),
            "disagreement_auroc": auroc(disagreement[decided], wrong),
            "low_confidence_auroc": auroc(-mean.abs()[decided], wrong),
            "by_disagreement_quintile": accuracy_by_quantile(disagreement, mean, gold, 5)}


# -------------------------------------------------------------------------------------------------
# The study.


@register("preference.reward_model_ensembles", week=9, config=RewardModelEnsemblesConfig,
          headline="ensemble_gold_accuracy")
def reward_model_ensembles(ctx, cfg: RewardModelEnsemblesConfig) -> None:
    """Shared vs separate towers, seed vs bootstrap ensembles, calibration and scaling of reward models, all
    scored against the gold reward; the seed ensemble is saved for weeks 10–12.

    Logged per reward model: training loss, train accuracy and gradient norm (`<model>/…`, one global step
    across models). Tables: every model's held-out metrics; accuracy by disagreement quintile; the scaling
    points. Figures: architectures and ensembles, reliability diagram, scaling. Summary: the headline
    `ensemble_gold_accuracy` (the seed ensemble on held-out pairs), `ece_gain` (ECE of one model − of the
    seed ensemble; the temperature-scaled ECE is under `calibration`) and
    the nested `architectures`, `ensembles`, `calibration`, `scaling`, `checkpoint`."""
    device = ctx.torch_device
    e = cfg.ensemble_size
    n_models = 2 * e + 1 + len(cfg.backbone_sizes) + len([f for f in cfg.data_fractions if f < 1.0])
    total = pretrain_total(cfg) + cfg.steps * n_models
    weights = cfg.gold_weights
    annotator = Annotator(weights=weights, scale=cfg.bt_scale)
    train_cfg = RewardTrainConfig(steps=cfg.steps, batch_size=cfg.batch_size, lr=cfg.lr)
    global_step = 0

    with ctx.progress(total=total, description="reference + reward models") as bar:
        s = setup(ctx, cfg, bar)
        g = torch.Generator().manual_seed(ctx.seed)
        sample_gen = torch.Generator(device=device).manual_seed(ctx.seed)
        labelled = annotator.label_pairs(s.comparisons("train", cfg.train_pairs + cfg.calib_pairs, 2, cfg, g,
                                                       sample_gen), g)
        train = labelled.subset(torch.arange(cfg.train_pairs))
        calib = labelled.subset(torch.arange(cfg.train_pairs, len(labelled)))
        heldout = annotator.label_pairs(s.comparisons("val", cfg.heldout_pairs, 2, cfg, g, sample_gen), g)

        def logger(name: str, members: bool = False):
            """An `on_step` logging under `name/…` (with `members`, `name/member<i>/…`: one model per cfg.steps)."""
            calls = 0

            def on_step(step: int, row: dict[str, float]) -> None:
                nonlocal global_step, calls
                model = f"{name}/member{calls // cfg.steps}" if members else name
                calls += 1
                global_step += 1
                ctx.log({f"{model}/{k}": v for k, v in row.items()}, step=global_step)
                bar.advance(1, model=model)
            return on_step

        rows: list[dict] = []

        def record(name: str, model, margin: torch.Tensor, **extra) -> dict:
            row = {"model": name, **pair_metrics(margin, heldout, weights), **extra}
            rows.append(row)
            ctx.log({f"{name}/heldout_{k}": v for k, v in row.items() if isinstance(v, float)}, step=global_step)
            return row

        # 1–2. Ensembles of reference-initialised shared towers: independent seeds, then bootstrap resamples.
        ensembles: dict[str, RewardEnsemble] = {}
        margins: dict[str, torch.Tensor] = {}
        for kind in ("seed", "bootstrap"):
            kcfg = train_cfg.model_copy(update={"bootstrap": kind == "bootstrap"})
            ensembles[kind] = train_ensemble(clone_as_reward_model(s.reference, "shared"), train, kcfg, e, ctx.seed,
                                             device, logger(kind, members=True))
            members = list(ensembles[kind].members)
            margins[kind] = score_pairs(ensembles[kind], heldout, device)  # (E, N)
            for i, m in enumerate(margins[kind]):
                record(f"{kind}/member{i}", members[i], m, params=members[i].num_params())
            record(f"{kind}/ensemble", ensembles[kind], margins[kind].mean(0),
                   params=sum(m.num_params() for m in members))

        # 1. Architectures: the seed ensemble's first member is the shared tower; separate towers trained alike.
        shared = ensembles["seed"].members[0]
        torch.manual_seed(ctx.seed)
        separate = clone_as_reward_model(s.reference, "separate")(ctx.seed)
        fit_reward_model(separate, train, train_cfg, ctx.seed, device, logger("separate"))
        architectures = {}
        for name, model in (("shared", shared), ("separate", separate)):
            margin = score_pairs(model, heldout, device)
            row = record(f"architecture/{name}", model, margin, params=model.num_params(),
                         **position_consistency(model, heldout, device))
            architectures[name] = {k: v for k, v in row.items() if k != "model"}

        # 2. Does disagreement flag the ensemble's errors?
        ens_reports = {kind: ensemble_report(margins[kind], heldout, weights) for kind in ensembles}

        # 3. Calibration: one model, the ensemble, the ensemble with a temperature fitted on the calibration labels.
        temperature = fit_temperature(score_pairs(ensembles["seed"], calib, device).mean(0))
        single_margin, ens_margin = margins["seed"][0], margins["seed"].mean(0)
        calibration = {"single": calibration_row(single_margin, heldout, weights, cfg.bins),
                       "ensemble": calibration_row(ens_margin, heldout, weights, cfg.bins),
                       "ensemble_temperature": calibration_row(ens_margin / temperature, heldout, weights, cfg.bins)}
        calibration["ensemble_temperature"]["temperature"] = temperature

        # 4. Scaling: fresh backbones of growing size, and the reference-initialised shared tower on more data.
        backbone_points = []
        for d_model, n_layers in cfg.backbone_sizes:
            config = TransformerConfig.preset("llama", vocab_size=s.data.vocab_size,
                                              max_len=cfg.prompt_len + cfg.completion_len, d_model=d_model,
                                              n_layers=n_layers, n_heads=max(1, min(4, d_model // 8)),
                                              ffn_multiple_of=8)
            torch.manual_seed(ctx.seed)
            model = RewardModel(config, "shared")
            name = f"scaling/d{d_model}x{n_layers}"
            fit_reward_model(model, train, train_cfg, ctx.seed, device, logger(name))
            row = record(name, model, score_pairs(model, heldout, device), params=model.num_params())
            backbone_points.append({"d_model": d_model, "n_layers": n_layers, "params": model.num_params(),
                                    "gold_accuracy": row["gold_accuracy"]})
        data_points = []
        for frac in sorted(cfg.data_fractions):
            n = max(2, round(frac * len(train)))
            if frac >= 1.0:
                model = shared  # the full-data point is the seed ensemble's first member, trained the same way
            else:
                torch.manual_seed(ctx.seed)
                model = clone_as_reward_model(s.reference, "shared")(ctx.seed)
                fit_reward_model(model, train.subset(torch.arange(n)), train_cfg, ctx.seed, device,
                                 logger(f"scaling/pairs{n}"))
                record(f"scaling/pairs{n}", model, score_pairs(model, heldout, device), params=model.num_params())
            data_points.append({"pairs": n, "gold_accuracy": truth_accuracy(score_pairs(model, heldout, device),
                                                                             heldout.gold_margin(weights))})

    # 5. The checkpoint weeks 10–12 load: the seed ensemble (and its first member on its own).
    label_agreement = {"train": train.label_accuracy(weights), "heldout": heldout.label_accuracy(weights)}
    meta = {"annotator": {"weights": weights, "scale": cfg.bt_scale, "flip_rate": 0.0},
            "prompt_len": cfg.prompt_len, "completion_len": cfg.completion_len, "gold_names": s.gold.names,
            "gold_rewards": s.gold.describe(), "train_config": train_cfg.model_dump(), "train_pairs": len(train),
            "labels_agree_with_gold": label_agreement, "temperature": temperature}
    seed_metrics = {"gold_accuracy": ens_reports["seed"]["ensemble_gold_accuracy"],
                    "ece": calibration["ensemble"]["ece"], "disagreement_mean": ens_reports["seed"]["disagreement_mean"]}
    path = ctx.save_checkpoint("reward_model", export_reward_model(ensembles["seed"], s.tokenizer, **meta,
                                                                    metrics=seed_metrics))
    ctx.save_checkpoint("reward_model_single", export_reward_model(shared, s.tokenizer, **meta,
                                                                    metrics=architectures["shared"]))

    ctx.log_table("reward_models", rows, caption="Every reward model on the held-out pairs: accuracy against the "
                  "labels and against gold, symmetric ECE and Brier score of σ(margin) against the gold outcome, "
                  "parameters; the architectures also with their position consistency on swapped pairs.")
    ctx.log_table("disagreement_quintiles",
                  [{"ensemble": k, **q} for k, r in ens_reports.items() for q in r["by_disagreement_quintile"]],
                  caption="Held-out pairs in five equal groups by the ensemble's disagreement (std of the members' "
                  "P(chosen ≻ rejected)), lowest first: the ensemble's gold accuracy in each.")
    ctx.log_table("scaling", [{"axis": "backbone", **p} for p in backbone_points]
                  + [{"axis": "data", **p} for p in data_points],
                  caption="Gold accuracy against backbone size (fresh llama-style backbones) and against the "
                  "number of training pairs (reference-initialised shared towers).")
    ctx.log_figure("reward_model_ensembles", plots.reward_model_ensembles(architectures, ens_reports),
                   caption="Held-out gold accuracy of shared and separate towers, of each ensemble member and of the "
                   "seed and bootstrap ensembles; the ensembles' accuracy by disagreement quintile.")
    ctx.log_figure("reward_model_reliability", plots.reward_model_reliability(
        {"single model": calibration["single"], "seed ensemble": calibration["ensemble"],
         f"ensemble, T = {temperature:.2f}": calibration["ensemble_temperature"]}),
        caption="Reliability diagram of P(chosen ≻ rejected) against the gold outcome (symmetric: every pair "
        "counted both ways round), with the symmetric ECE of each predictor.")
    pretrained = {"params": shared.num_params(), "gold_accuracy": architectures["shared"]["gold_accuracy"]}
    ctx.log_figure("reward_model_scaling", plots.reward_model_scaling(backbone_points, data_points, pretrained),
                   caption="Held-out gold accuracy against backbone parameters (fresh backbones; the star is the "
                   "pretrained reference as backbone) and against training pairs.")

    ctx.summary(
        ensemble_gold_accuracy=ens_reports["seed"]["ensemble_gold_accuracy"],
        ece_gain=calibration["single"]["ece"] - calibration["ensemble"]["ece"],
        labels_agree_with_gold=label_agreement,
        architectures=architectures,
        ensembles=ens_reports,
        calibration={k: {kk: vv for kk, vv in r.items() if kk != "bins"} for k, r in calibration.items()},
        scaling={"backbone": backbone_points, "data": data_points, "pretrained_reference": pretrained,
                 "backbones": "fresh (randomly initialised) llama-style backbones"},
        checkpoint={"name": "reward_model", "kind": "ensemble", "members": e, "file": path.name,
                    "single": "reward_model_single"},
    )
