"""`preference.dataset_quality`: is the data any good, what does bad data cost, and which labels to buy.

Three questions about preference data, answered on synthetic pairs whose truth is known (`gold.py`), and
— with `--set data=PATH_or_hf:NAME` — the first one on the user's own file too:

(a) **Does the quality toolkit see the noise?** The reference model writes two completions per prompt; an
    annotator that always prefers the higher gold utility labels them, then flips each label with a known
    probability ρ (`data.Annotator(flip_rate=ρ)`). The labelled pairs are written as HH-RLHF JSON lines
    (`formats.write_jsonl`) and read back (`formats.iter_records`) by `quality.inspect_preferences` — the
    code path `forge prefs inspect` takes on a user's file. Its label-noise estimate should track ρ: the
    table and figure put estimated against injected noise beside the line y = x, with the share of labels
    that really go against the gold (ρ's realisation, plus annotator ties), and the duplicates and length
    bias the toolkit finds in the same files.
(b) **What does noise cost a reward model, and what protects it?** Reward models (`reward_model.RewardModel`,
    shared tower started from the reference, trained by `fit_reward_model`) learn from pairs with each
    injected ρ and are scored on held-out pairs against the gold: plain Bradley–Terry; conservative label
    smoothing (−(1 − ε) log σ(d) − ε log σ(−d); ε = ρ, the noise rate when it is known, and a fixed ε; the
    "cDPO"/robust-BT idea of Mitchell 2023 and Chowdhury et al. 2024, arXiv:2403.00409); and a margin
    (−log σ(d − m), Llama 2's margin loss, Touvron et al. 2023, arXiv:2307.09288, here a fixed m since
    these labels carry no strength).
(c) **Which pairs should be labelled?** Active elicitation (`elicitation.py`): from a pool of unlabelled
    pairs, an ensemble of small heads on the reference's frozen features buys labels batch by batch by
    ensemble disagreement, predictive entropy, BALD or at random; gold accuracy on held-out pairs against
    labels spent, mean and Student-t 95% interval over seeds.

Held-out pairs always have prompts from the validation split. Headline: `noise_estimate.max_abs_error`,
the largest |estimated − injected| noise over the injected rates.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import ClassVar, Literal

import torch
from pydantic import Field

from studyforge.experiments.keys import num_key
from studyforge.experiments.preference import plots
from studyforge.experiments.preference.data import Annotator, PairData, pairs_to_texts
from studyforge.experiments.preference.elicitation import (
    RULES,
    ElicitationConfig,
    HeadConfig,
    PairPool,
    area_under_curve,
    compare_rules,
)
from studyforge.experiments.preference.formats import PreferencePair, iter_records, write_jsonl
from studyforge.experiments.preference.quality import QualityReport, inspect_preferences
from studyforge.experiments.preference.reward_model import (
    RewardModel,
    RewardTrainConfig,
    evaluate,
    fit_reward_model,
)
from studyforge.experiments.preference.studies.common import PreferenceStudyConfig, pretrain_total, setup
from studyforge.experiments.registry import register
from studyforge.experiments.rl.jobs import single_thread

Variant = Literal["plain", "smoothing_rate", "smoothing_fixed", "margin"]


class DatasetQualityConfig(PreferenceStudyConfig):
    """Noise levels, the toolkit's input size, the robustness grid and the elicitation runs."""

    weights: dict[str, float] = Field({"style": 1.0}, description="the annotator's weights over the gold rewards")
    flip_rates: list[float] = Field([0.0, 0.1, 0.2, 0.3], description="injected label-flip rates ρ")
    quality_pairs: int = Field(2000, ge=10, description="pairs per noise level written and inspected (a)")
    file_format: Literal["hh", "trl"] = Field("hh", description="layout the synthetic pairs are written in (a)")
    robust_pairs: int = Field(512, ge=4, description="training pairs per reward model (b)")
    heldout_pairs: int = Field(256, ge=4, description="held-out pairs, validation prompts (b and c)")
    variants: list[Variant] = Field(["plain", "smoothing_rate", "margin"],
                                    description="reward-model losses compared under noise (b)")
    smoothing: float = Field(0.1, ge=0, lt=0.5, description="ε of the smoothing_fixed variant")
    margin: float = Field(1.0, gt=0, description="m of the margin variant")
    rm_steps: int = Field(100, ge=1, description="training steps per reward model (b)")
    rm_batch_size: int = Field(16, ge=1, description="pairs per reward-model step (b)")
    rm_lr: float = Field(1e-3, gt=0, description="reward-model AdamW learning rate (b)")
    robust_seeds: int = Field(2, ge=1, description="reward models per (noise rate, variant), seeds averaged (b)")
    pool_pairs: int = Field(1024, ge=4, description="unlabelled pool the elicitation buys labels from (c)")
    rules: list[Literal["random", "disagreement", "uncertainty", "bald"]] = Field(
        list(RULES), description="acquisition rules compared (c)")
    elicitation_flip_rate: float = Field(0.0, ge=0, lt=0.5, description="label flips of the pool's annotator (c)")
    seed_size: int = Field(16, ge=2, description="pairs labelled at random before the first round (c)")
    acquire_batch: int = Field(16, ge=1, description="pairs bought per round (c)")
    budget: int = Field(256, ge=2, description="labels in all per elicitation run (c)")
    elicitation_seeds: int = Field(5, ge=1, description="seeds per rule; 95% t-intervals need two or more (c)")
    head_members: int = Field(5, ge=2, description="heads in the elicitation ensemble (c)")
    head_hidden: int = Field(0, ge=0, description="0: linear heads; > 0: one tanh hidden layer this wide (c)")
    head_steps: int = Field(100, ge=1, description="Adam steps per round for the heads (c)")
    data: str | None = Field(None, description="also inspect this preference file (.jsonl / .jsonl.gz / .json) "
                             "or hf:NAME[:split] with the toolkit (d)")
    data_format: Literal["auto", "hh", "trl", "kto"] = Field("auto", description="layout of `data`")
    data_limit: int | None = Field(None, ge=1, description="inspect only the first this many records of `data`")
    presets: ClassVar = {
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "completion_len": 16, "quality_pairs": 400, "robust_pairs": 64,
                  "heldout_pairs": 64, "rm_steps": 8, "rm_batch_size": 16, "robust_seeds": 1,
                  "flip_rates": [0.0, 0.3], "variants": ["plain", "smoothing_rate", "margin"],
                  "pool_pairs": 128, "seed_size": 8, "acquire_batch": 8, "budget": 32, "elicitation_seeds": 2,
                  "head_members": 3, "head_steps": 40},
        "full": {"variants": ["plain", "smoothing_rate", "smoothing_fixed", "margin"], "d_model": 128, "n_layers": 4, "pretrain_steps": 2000, "quality_pairs": 8000,
                 "robust_pairs": 2048, "heldout_pairs": 1024, "rm_steps": 400, "rm_batch_size": 32, "robust_seeds": 3,
                 "pool_pairs": 4096, "budget": 512, "acquire_batch": 32, "elicitation_seeds": 10},
    }


def variant_config(variant: Variant, rate: float, cfg: DatasetQualityConfig) -> RewardTrainConfig:
    """The reward-model training of one robustness cell: Bradley–Terry, with ε = ρ (capped below ½) or the fixed
    ε as label smoothing, or the fixed margin m."""
    extra: dict = {}
    if variant == "smoothing_rate":
        extra["label_smoothing"] = min(rate, 0.49)
    elif variant == "smoothing_fixed":
        extra["label_smoothing"] = cfg.smoothing
    elif variant == "margin":
        extra["margin"] = cfg.margin
    return RewardTrainConfig(steps=cfg.rm_steps, batch_size=cfg.rm_batch_size, lr=cfg.rm_lr, **extra)


def inspect_file(spec: str | Path, format: str = "auto", limit: int | None = None, seed: int = 0) -> QualityReport:
    """The toolkit's report of a file or `hf:NAME` (streamed, as `forge prefs inspect` reads it)."""
    return inspect_preferences(iter_records(spec, format=format, limit=limit), seed=seed)


def report_row(report: QualityReport) -> dict:
    """The figures of a report a table row carries (flat)."""
    d = report.duplicates
    row = {"records": report.records, "exact_duplicates": d.exact, "near_duplicates": d.near,
           "identical_pairs": d.identical_pairs, "conflicts": d.conflicts}
    if report.length_bias is not None:
        row.update(chosen_longer=report.length_bias.chosen_longer,
                   length_classifier_accuracy=report.length_bias.classifier_accuracy)
    if report.noise is not None:
        row.update(noise_estimate=report.noise.estimate, progressive_accuracy=report.noise.progressive_accuracy)
    return row


def quality_vs_injected(pairs_at: dict[float, PairData], decode, cfg: DatasetQualityConfig, seed: int,
                        folder: Path) -> list[dict]:
    """(a) Each noise level's pairs written as text, read back and inspected; one row per rate."""
    rows = []
    for rate, pairs in pairs_at.items():
        path = folder / f"synthetic_flip{rate:g}.jsonl"
        write_jsonl((PreferencePair(**t) for t in pairs_to_texts(pairs, decode)), path, cfg.file_format)
        report = inspect_file(path, cfg.file_format, seed=seed)
        # the labels that really go against the gold utility: ρ's realisation, plus the pairs the gold ties
        realised = 1.0 - pairs.label_accuracy(cfg.weights)
        rows.append({"injected": rate, "flipped_share": float(pairs.flipped.float().mean()),
                     "label_error_vs_gold": realised, **report_row(report),
                     "error": (report.noise.estimate - rate) if report.noise and report.noise.estimate is not None
                     else math.nan})
    return rows


@register("preference.dataset_quality", week=9, config=DatasetQualityConfig, headline="noise_estimate.max_abs_error")
def dataset_quality(ctx, cfg: DatasetQualityConfig) -> None:
    """The toolkit's noise estimate against injected noise, reward models' robustness to it, and active
    elicitation curves (see the module docstring); with `data=`, the toolkit's report of that file too.

    Logged: `quality/*` per injected rate, `robust/<variant>/gold_accuracy` per rate, `elicit/<rule>/…` per
    round; tables `noise_estimate`, `robustness`, `elicitation` (and `data_report`); figures of each.

    Torch runs on one intra-op thread throughout (`rl.jobs.single_thread`): every model here is small, and
    on a busy 2-core machine two threads spent 5–24× the CPU time of one (the quick preset through `forge run`:
    53 s of CPU with two threads, 17 s with one)."""
    with single_thread():
        _dataset_quality(ctx, cfg)


def _dataset_quality(ctx, cfg: DatasetQualityConfig) -> None:
    from studyforge.tracking.stats import mean_ci

    user_report = None
    if cfg.data is not None:  # first, so a wrong path fails before any training
        user_report = inspect_file(cfg.data, cfg.data_format, cfg.data_limit, seed=ctx.seed)
        ctx.log_table("data_report", [{"data": cfg.data, **report_row(user_report)}],
                      caption=f"The dataset-quality toolkit on {cfg.data}: records, duplicates, length bias and "
                      "estimated label noise (the share of confident records an n-gram ensemble contradicts).")
        ctx.summary(data_report=user_report.model_dump(mode="json"), data=cfg.data)

    n_cells = len(cfg.flip_rates) * len(cfg.variants) * cfg.robust_seeds
    n_rounds = len(cfg.rules) * cfg.elicitation_seeds * (1 + math.ceil(max(0, cfg.budget - cfg.seed_size)
                                                                       / cfg.acquire_batch))
    total = pretrain_total(cfg) + n_cells * cfg.rm_steps + n_rounds
    with ctx.progress(total=total, description="reference, toolkit, reward models, elicitation") as bar:
        s = setup(ctx, cfg, bar)
        g = torch.Generator().manual_seed(ctx.seed)
        sample_gen = torch.Generator(device=s.device).manual_seed(ctx.seed)
        n_train = max(cfg.quality_pairs, cfg.robust_pairs, cfg.pool_pairs)
        train = s.comparisons("train", n_train, 2, cfg, g, sample_gen)
        heldout = Annotator(cfg.weights).label_pairs(s.comparisons("val", cfg.heldout_pairs, 2, cfg, g, sample_gen), g)

        # (a) the toolkit against known injected noise
        quality_comps = train.subset(slice(0, cfg.quality_pairs))
        labelled = {rate: Annotator(cfg.weights, flip_rate=rate).label_pairs(quality_comps, g)
                    for rate in cfg.flip_rates}
        with tempfile.TemporaryDirectory(prefix="forge-prefs-") as tmp:
            noise_rows = quality_vs_injected(labelled, s.tokenizer.decode, cfg, ctx.seed, Path(tmp))
        for i, row in enumerate(noise_rows):
            ctx.log({f"quality/{k}": v for k, v in row.items()}, step=i)
        errors = [abs(r["error"]) for r in noise_rows if not math.isnan(r["error"])]

        # (b) reward models trained through the noise
        robust: dict[str, dict[float, dict]] = {v: {} for v in cfg.variants}
        cache: dict[tuple, float] = {}
        for rate in cfg.flip_rates:
            pairs = Annotator(cfg.weights, flip_rate=rate).label_pairs(train.subset(slice(0, cfg.robust_pairs)), g)
            for variant in cfg.variants:
                train_cfg = variant_config(variant, rate, cfg)
                accs = []
                for k in range(cfg.robust_seeds):
                    seed = ctx.seed * 1000 + k
                    key = (rate, train_cfg.model_dump_json(), seed)
                    if key not in cache:  # e.g. smoothing ε = ρ at ρ = 0 is the plain model
                        torch.manual_seed(seed)
                        model = RewardModel.from_language_model(s.reference)
                        fit_reward_model(model, pairs, train_cfg, seed, s.device)
                        cache[key] = evaluate(model, heldout, cfg.weights, s.device)["gold_accuracy"]
                    accs.append(cache[key])
                    bar.advance(cfg.rm_steps, **{"noise": rate, "variant": variant})
                robust[variant][rate] = mean_ci(accs)
                ctx.log({f"robust/{variant}/gold_accuracy": robust[variant][rate]["mean"], "robust/flip_rate": rate})

        # (c) active elicitation on the reference's frozen features
        pool_pairs = Annotator(cfg.weights, flip_rate=cfg.elicitation_flip_rate).label_pairs(
            train.subset(slice(0, cfg.pool_pairs)), g)
        pool = PairPool.from_pairs(pool_pairs, s.reference, cfg.weights)
        mean, std = pool.feature_stats()
        pool, held = pool.standardised(mean, std), PairPool.from_pairs(heldout, s.reference, cfg.weights).standardised(
            mean, std)
        el_cfg = ElicitationConfig(seed_size=cfg.seed_size, batch_size=cfg.acquire_batch, budget=cfg.budget,
                                   heads=HeadConfig(members=cfg.head_members, hidden=cfg.head_hidden,
                                                    steps=cfg.head_steps))

        def on_round(rule: str, seed: int, row: dict) -> None:
            ctx.log({f"elicit/{rule}/gold_accuracy": row["gold_accuracy"], "elicit/labels": row["labels"],
                     "elicit/seed": seed})
            bar.advance(1, **{"rule": rule})

        seeds = [ctx.seed * 1000 + k for k in range(cfg.elicitation_seeds)]
        curves = compare_rules(pool, held, cfg.rules, el_cfg, seeds, on_round)

    # -- tables, figures, summary
    ctx.log_table("noise_estimate", noise_rows, caption="The toolkit (quality.inspect_preferences) on synthetic "
                  "pairs written as text at each injected flip rate: its noise estimate beside the share of labels "
                  "actually flipped and the share that go against the gold (flips plus gold ties), and the "
                  "duplicates and length bias it found.")
    ctx.log_figure("noise_estimate", plots.noise_estimate_vs_injected(noise_rows),
                   caption="Estimated label noise against the injected flip rate; the dashed line is y = x. Open "
                   "squares: the share of labels that go against the gold utility in the same files.")
    robust_rows = [{"flip_rate": rate, "variant": v, "gold_accuracy": robust[v][rate]["mean"],
                    "ci95": robust[v][rate]["ci95"], "seeds": robust[v][rate]["n"]}
                   for rate in cfg.flip_rates for v in cfg.variants]
    ctx.log_table("robustness", robust_rows, caption="Held-out gold accuracy of reward models trained on labels with "
                  "each injected flip rate: plain Bradley–Terry, label smoothing (ε = the flip rate, or fixed) and "
                  "a fixed margin; mean over seeds with the 95% t half-width.")
    ctx.log_figure("noise_robustness", plots.noise_robustness(robust_rows),
                   caption="Reward-model gold accuracy on held-out pairs against the injected label-flip rate, per "
                   "training loss (error bars: 95% t-intervals over seeds, where there are two or more).")
    el_rows = [{"rule": rule, "labels": n, "gold_accuracy": c["mean"][i], "ci95": c["ci95"][i]}
               for rule, c in curves.items() for i, n in enumerate(c["labels"])]
    ctx.log_table("elicitation", el_rows, caption="Active elicitation: held-out gold accuracy of the head ensemble "
                  "after each round, per acquisition rule; mean over seeds and 95% t half-width.")
    ctx.log_figure("elicitation", plots.elicitation_curves(curves),
                   caption="Gold accuracy on held-out pairs against labels bought, per acquisition rule (bands: 95% "
                   "t-intervals over seeds; every rule starts from the same random seed set).")

    auc = {rule: area_under_curve(c["labels"], c["mean"]) for rule, c in curves.items()}
    final = {rule: c["mean"][-1] for rule, c in curves.items()}
    gains = {rule: final[rule] - final["random"] for rule in curves if rule != "random"} if "random" in curves else {}
    ctx.summary(
        noise_estimate={"max_abs_error": max(errors) if errors else math.nan,
                        "by_rate": {"rate" + num_key(r["injected"]): {k: v for k, v in r.items() if k != "injected"}
                                    for r in noise_rows},
                        "records_per_rate": cfg.quality_pairs, "file_format": cfg.file_format},
        robustness={v: {"rate" + num_key(rate): {"mean": robust[v][rate]["mean"], "ci95": robust[v][rate]["ci95"]}
                        for rate in cfg.flip_rates} for v in cfg.variants},
        elicitation={"budget": curves[cfg.rules[0]]["labels"][-1], "seeds": cfg.elicitation_seeds,
                     "final_gold_accuracy": final, "area_under_curve": auc, "final_gain_over_random": gains,
                     "curves": {rule: {k: c[k] for k in ("labels", "mean", "ci95")} for rule, c in curves.items()}},
        labels_agree_with_truth={"heldout": heldout.label_accuracy(cfg.weights)},
        annotator={"weights": cfg.weights}, pairs={"train": n_train, "heldout": len(heldout)},
    )
