"""`preference.preference_learning_algorithms`: pairwise vs listwise, Elo vs Bradley–Terry, and two objectives.

Three measurements of the ranking models in `ranking.py`, each against a known truth (the gold rewards of
`gold.py`, or planted strengths):

1. **Pairwise vs listwise** (Bradley–Terry vs Plackett–Luce). For each train prompt the reference writes K
   completions; a listwise annotator ranks them (Plackett–Luce noise of scale s on the gold utility). From the
   same prompts, three reward models start from the reference (`RewardModel.from_language_model`) and train with
   `fit_reward_model` for the same steps on the same prompts per step:
   (a) `pl_rankings` — PL on the K-way rankings, B rankings a step;
   (b) `bt_all_pairs` — BT on the K(K−1)/2 pairs each ranking implies (`RankingData.to_pairs`), B·K(K−1)/2
       pairs a step (the same rankings' worth of labels a step, but ~K/2× the forward passes of (a));
   (c) `bt_one_pair` — BT on one pair per prompt, what a pairwise annotator (Bradley–Terry noise, same s)
       gives for the same prompts: completions 1 and 2, B pairs a step.
   Scored by gold accuracy on held-out pairs (every pair of K completions of validation prompts, against the
   gold utility), over `seeds` annotation sets. The tabular version (`tabular.compare_designs`) fits one score
   per item to rankings or pairs from items of planted strengths — no network — and adds a fourth design, BT
   on K − 1 fresh pairs per query (pairs at the price of a ranking).
2. **Elo vs BT-MLE ratings of checkpoints**. Snapshots of one week-8 training run at increasing steps (or
   `checkpoints=[...]`) each write one completion per validation prompt; every pair of models battles on every
   prompt, judged by a Bradley–Terry judge on a gold reward (`judge`, fluency by default — it rises with
   training); `ranking.elo_ratings` in battle order and over `elo_orders` shuffled orders, and
   `ranking.bradley_terry_ratings` with bootstrap intervals, against each model's mean gold reward
   (Spearman's ρ). The gold means are of the same completions that battled.
3. **Multi-objective preferences**. The same train pairs are labelled by three annotators who weigh the gold
   rewards differently (style only, fluency only, 50/50); a reward model trained on each is scored against each
   gold objective — a (train weighting × gold objective) matrix of held-out gold accuracies — beside the
   measured correlation of the two golds over samples and how often they disagree on a pair.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import ClassVar, Literal

import torch
from pydantic import Field
from scipy import stats

from studyforge.errors import ForgeError
from studyforge.experiments.preference import arena, plots, tabular
from studyforge.experiments.preference.data import Annotator
from studyforge.experiments.preference.ranking import bradley_terry_ratings, elo_ratings
from studyforge.experiments.preference.reward_model import (
    RewardModel,
    RewardTrainConfig,
    evaluate,
    fit_reward_model,
)
from studyforge.experiments.preference.studies.common import PreferenceStudyConfig, pretrain_total, setup
from studyforge.experiments.registry import register

DESIGNS = ("pl_rankings", "bt_all_pairs", "bt_one_pair")
WEIGHTINGS = {"style_only": {"style": 1.0}, "fluency_only": {"fluency": 1.0},
              "half_half": {"style": 0.5, "fluency": 0.5}}


class PreferenceLearningAlgorithmsConfig(PreferenceStudyConfig):
    # 1. pairwise vs listwise
    k: int = Field(4, ge=3, description="completions ranked per prompt by the listwise annotator")
    train_prompts: int = Field(256, ge=2, description="annotated train prompts per seed (the annotation budget)")
    heldout_prompts: int = Field(64, ge=2, description="validation prompts; all K(K−1)/2 pairs of each are scored")
    seeds: int = Field(2, ge=1, description="annotation sets (fresh prompts, samples, labels, reward-model seeds)")
    weights: dict[str, float] = Field({"style": 1.0}, description="the annotators' utility Σ w_m gold_m in part 1")
    annotator_scale: float = Field(20.0, gt=0, description="annotator noise s: P(y₁ ≻ y₂) = σ(s (u₁ − u₂))")
    rm_steps: int = Field(200, ge=1, description="reward-model optimizer steps (every design and weighting)")
    rm_batch: int = Field(16, ge=1, description="prompts per step: rankings for PL, their pairs for BT")
    rm_lr: float = Field(3e-4, gt=0, description="reward-model AdamW learning rate")
    # 1b. tabular
    tabular_items: int = Field(100, ge=4, description="items with planted strengths u ~ N(0, 1)")
    tabular_budgets: list[int] = Field([50, 200, 800], description="annotation queries per design")
    tabular_seeds: int = Field(3, ge=1, description="planted strength sets")
    tabular_scale: float = Field(1.0, gt=0, description="annotator scale on the planted strengths")
    # 2. arena
    checkpoints: list[str] | None = Field(None, description="week-8 run folders or .pt files to rate (same "
                                          "tokenizer as the reference); None: snapshots of a run trained here")
    ladder_steps: int = Field(150, ge=1, description="steps of the week-8 run whose snapshots battle")
    ladder_snapshots: list[int] = Field([5, 15, 40, 80, 150], description="steps at which the run is copied")
    battle_prompts: int = Field(32, ge=1, description="validation prompts; every pair of models meets on each")
    judge: Literal["style", "fluency"] = Field("fluency", description="the gold reward the battle judge uses")
    judge_scale: float = Field(20.0, gt=0, description="judge noise s: P(a wins) = σ(s (u_a − u_b))")
    elo_k: float = Field(4.0, gt=0, description="Elo's K (Chatbot Arena: 4)")
    elo_orders: int = Field(100, ge=2, description="shuffled battle orders for Elo's spread")
    bootstrap: int = Field(200, ge=0, description="bootstrap resamples for the BT ratings' 95% intervals")
    presets: ClassVar = {
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "completion_len": 8, "train_prompts": 24, "heldout_prompts": 16, "seeds": 1,
                  "rm_steps": 6, "rm_batch": 4, "tabular_items": 30, "tabular_budgets": [40, 160],
                  "tabular_seeds": 1, "ladder_steps": 40, "ladder_snapshots": [2, 10, 40], "battle_prompts": 8,
                  "elo_orders": 10, "bootstrap": 20},
        "full": {"d_model": 96, "n_layers": 3, "pretrain_steps": 1500, "train_prompts": 1024, "heldout_prompts": 256,
                 "seeds": 3, "rm_steps": 300, "rm_batch": 16, "tabular_budgets": [25, 50, 100, 200, 400, 800, 1600],
                 "tabular_seeds": 10, "ladder_steps": 1500, "ladder_snapshots": [10, 40, 100, 250, 600, 1500],
                 "battle_prompts": 128, "elo_orders": 500, "bootstrap": 1000},
    }


def rm_config(cfg: PreferenceLearningAlgorithmsConfig, loss: str, batch_size: int) -> RewardTrainConfig:
    return RewardTrainConfig(steps=cfg.rm_steps, batch_size=batch_size, lr=cfg.rm_lr, loss=loss,
                             warmup=min(10, cfg.rm_steps))


def train_reward_model(ctx, reference, data, train_cfg: RewardTrainConfig, seed: int, name: str, bar):
    """A reward model started from the reference, trained by `fit_reward_model`, its loss logged as `name/…`."""
    torch.manual_seed(seed)
    model = RewardModel.from_language_model(reference)

    def log(step: int, row: dict[str, float]) -> None:
        ctx.log({f"{name}/loss": row["loss"], f"{name}/train_accuracy": row["train_accuracy"]}, step=step)
        bar.advance(1)

    fit_reward_model(model, data, train_cfg, seed, ctx.torch_device, on_step=log)
    return model


def mean_se(values: list[float]) -> dict[str, float]:
    t = torch.tensor(values, dtype=torch.float64)
    return {"mean": float(t.mean()), "se": float(t.std() / math.sqrt(len(t))) if len(t) > 1 else 0.0}


def ladder(ctx, cfg: PreferenceLearningAlgorithmsConfig, s, bar) -> dict[str, torch.nn.Module]:
    """The contestants: `checkpoints` loaded, or snapshots of one week-8 run (`train_logged`) at `ladder_snapshots`."""
    if cfg.checkpoints:
        from studyforge.experiments.language_modeling.checkpoint import load_model

        models = {}
        for path in cfg.checkpoints:
            model, tokenizer, _ = load_model(path, ctx.torch_device)
            if tokenizer.to_dict() != s.tokenizer.to_dict():
                raise ForgeError(f"checkpoint {path} has another tokenizer than the reference",
                                 hint="rate checkpoints trained on the same corpus as the reference")
            if model.config.max_len < cfg.prompt_len + cfg.completion_len:
                raise ForgeError(f"checkpoint {path} holds {model.config.max_len} tokens < prompt_len + "
                                 "completion_len", hint="lower them with --set")
            name = Path(path).stem if Path(path).is_file() else Path(path).name
            models[name.replace(".", "_").replace(" ", "_")] = model.eval()  # one summary-key part
        return models
    from studyforge.experiments.language_modeling.harness import train_logged
    from studyforge.experiments.language_modeling.trainer import TrainConfig
    from studyforge.experiments.transformer.config import TransformerConfig

    snapshots = sorted({min(step, cfg.ladder_steps) for step in cfg.ladder_snapshots})
    models: dict[str, torch.nn.Module] = {}

    def keep(trainer, _row) -> None:
        if trainer.step in snapshots:
            models[f"step{trainer.step}"] = copy.deepcopy(trainer.model).eval().requires_grad_(False)  # a key part

    model_cfg = TransformerConfig.preset("llama", vocab_size=s.data.vocab_size,
                                         max_len=cfg.prompt_len + cfg.completion_len, d_model=cfg.d_model,
                                         n_layers=cfg.n_layers, n_heads=cfg.n_heads, ffn_multiple_of=32)
    train_cfg = TrainConfig(steps=cfg.ladder_steps, batch_size=16, lr=1e-3, warmup=min(100, cfg.ladder_steps // 10),
                            eval_every=0, eval_windows=20, seed=ctx.seed + 1)
    train_logged(ctx, s.data, model_cfg, train_cfg, "ladder", bar, on_step=keep)
    return models


@register("preference.preference_learning_algorithms", week=9, config=PreferenceLearningAlgorithmsConfig,
          headline="listwise.pl_minus_bt_one_pair")
def preference_learning_algorithms(ctx, cfg: PreferenceLearningAlgorithmsConfig) -> None:
    """Pairwise vs listwise reward models (and their tabular twins), Elo vs BT-MLE ratings of week-8 checkpoints,
    and reward models trained under three weightings of two conflicting gold rewards."""
    n_rm = cfg.seeds * len(DESIGNS) + len(WEIGHTINGS)
    ladder_total = 0 if cfg.checkpoints else cfg.ladder_steps
    total = pretrain_total(cfg) + ladder_total + n_rm * cfg.rm_steps
    with ctx.progress(total=total, description="reference, ladder, reward models") as bar:
        s = setup(ctx, cfg, bar)
        for name in {*cfg.weights, "style", "fluency"}:
            s.gold.index(name)  # an unknown objective fails before anything trains
        models = ladder(ctx, cfg, s, bar)  # the arena's contestants (loaded checkpoints fail fast here)
        if len(models) < 2:
            raise ForgeError("the arena needs at least two models", hint="give two or more checkpoints or snapshots")
        g = torch.Generator().manual_seed(ctx.seed)
        sample_gen = torch.Generator(device=s.device).manual_seed(ctx.seed)
        heldout = s.comparisons("val", cfg.heldout_prompts, cfg.k, cfg, g, sample_gen)
        heldout_pairs = Annotator(weights=cfg.weights).rank(heldout, g).to_pairs()  # gold accuracy ignores labels

        # ---- 1. pairwise vs listwise, with networks -------------------------------------------------------
        listwise_rows, first_train, label_agreement = [], None, {}
        for seed in range(cfg.seeds):
            train = s.comparisons("train", cfg.train_prompts, cfg.k, cfg, g, sample_gen)
            first_train = first_train or train
            annotator = Annotator(weights=cfg.weights, scale=cfg.annotator_scale)
            rankings = annotator.rank(train, g)
            one_pair = annotator.label_pairs(train, g)
            if seed == 0:
                label_agreement = {"ranking_pairs": rankings.to_pairs().label_accuracy(cfg.weights),
                                   "one_pair": one_pair.label_accuracy(cfg.weights)}
            data = {"pl_rankings": (rankings, rm_config(cfg, "pl", cfg.rm_batch)),
                    "bt_all_pairs": (rankings.to_pairs(),
                                     rm_config(cfg, "bt", cfg.rm_batch * cfg.k * (cfg.k - 1) // 2)),
                    "bt_one_pair": (one_pair, rm_config(cfg, "bt", cfg.rm_batch))}
            for design, (labelled, train_cfg) in data.items():
                rm_seed = 1000 * ctx.seed + seed
                model = train_reward_model(ctx, s.reference, labelled, train_cfg, rm_seed, f"listwise/{design}/{seed}",
                                           bar)
                ev = evaluate(model, heldout_pairs, cfg.weights, s.device)
                listwise_rows.append({"seed": seed, "design": design, "labelled_rows": len(labelled),
                                      "gold_accuracy": ev["gold_accuracy"], "ece": ev["ece"],
                                      "forward_passes": model.forward_passes})
                ctx.log({f"listwise/{design}/gold_accuracy": ev["gold_accuracy"]}, step=seed)
        listwise = {d: mean_se([r["gold_accuracy"] for r in listwise_rows if r["design"] == d]) for d in DESIGNS}
        gaps = {f"pl_minus_{d}": listwise["pl_rankings"]["mean"] - listwise[d]["mean"] for d in DESIGNS[1:]}

        # ---- 3. multi-objective preferences (the first seed's train completions 1 and 2) ------------------
        objective_rows, matrix = [], {}
        for name, weights in WEIGHTINGS.items():
            labelled = Annotator(weights=weights, scale=cfg.annotator_scale).label_pairs(first_train, g)
            model = train_reward_model(ctx, s.reference, labelled, rm_config(cfg, "bt", cfg.rm_batch),
                                       1000 * ctx.seed + 7, f"objectives/{name}", bar)
            margin_row = {gold_name: evaluate(model, heldout_pairs, gold_w, s.device)["gold_accuracy"]
                          for gold_name, gold_w in WEIGHTINGS.items()}
            matrix[name] = margin_row
            objective_rows.append({"trained_on": name, **{f"gold_{k}": v for k, v in margin_row.items()}})
    # ---- 2. the arena ---------------------------------------------------------------------------------------
    battle_prompts = s.prompts("val", cfg.battle_prompts, cfg.prompt_len, g)
    entries = arena.sample_entries(models, battle_prompts, cfg.completion_len, sample_gen)
    gold_of = {name: s.gold.score(s.tokenizer.decode(y.tolist()) for y in ys) for name, ys in entries.items()}
    utility = {name: gs[:, s.gold.index(cfg.judge)] for name, gs in gold_of.items()}
    gold_mean = {name: float(u.mean()) for name, u in utility.items()}
    battles = arena.judge_battles(utility, cfg.judge_scale, g)
    elo = elo_ratings(battles, k=cfg.elo_k)
    spread = arena.elo_order_spread(battles, cfg.elo_orders, ctx.seed, k=cfg.elo_k)
    bt = bradley_terry_ratings(battles, bootstrap=cfg.bootstrap, seed=ctx.seed)
    correlation = {"elo_battle_order": arena.rank_correlation(elo, gold_mean),
                   "elo_mean_over_orders": arena.rank_correlation({m: v["mean"] for m, v in spread.items()}, gold_mean),
                   "bradley_terry": arena.rank_correlation(bt.ratings, gold_mean)}
    ratings_table = [{"model": m, f"gold_{cfg.judge}": gold_mean[m],
                      **{f"gold_{o}": float(gold_of[m][:, s.gold.index(o)].mean()) for o in s.gold.names
                         if o != cfg.judge},
                      "elo": elo[m], "elo_order_mean": spread[m]["mean"], "elo_order_std": spread[m]["std"],
                      "elo_order_min": spread[m]["min"], "elo_order_max": spread[m]["max"], "bt": bt.ratings[m],
                      "bt_low": bt.lower[m] if bt.lower else None, "bt_high": bt.upper[m] if bt.upper else None}
                     for m in models]

    # ---- 1b. the tabular version ----------------------------------------------------------------------------
    tab_rows = tabular.compare_designs(cfg.tabular_items, cfg.tabular_budgets, cfg.k,
                                       [ctx.seed * 1000 + i for i in range(cfg.tabular_seeds)], cfg.tabular_scale)
    tab = tabular.mean_by(tab_rows, ("budget", "design"), ("spearman", "slope", "heldout_accuracy"))

    # ---- how much the two gold rewards conflict ------------------------------------------------------------
    all_gold = first_train.gold.reshape(-1, len(s.gold.names))
    style, fluency = all_gold[:, s.gold.index("style")].numpy(), all_gold[:, s.gold.index("fluency")].numpy()
    d_style = heldout_pairs.gold_margin({"style": 1.0})
    d_fluency = heldout_pairs.gold_margin({"fluency": 1.0})
    both = (d_style != 0) & (d_fluency != 0)
    conflict = {"pearson": float(stats.pearsonr(style, fluency).statistic) if style.std() and fluency.std() else None,
                "spearman": float(stats.spearmanr(style, fluency).statistic) if style.std() and fluency.std() else None,
                "samples": int(len(style)), "style_std": float(style.std()), "fluency_std": float(fluency.std()),
                "pairs_where_golds_disagree": float((d_style[both].sign() != d_fluency[both].sign()).float().mean())
                if bool(both.any()) else None}

    # ---- tables, figures, summary --------------------------------------------------------------------------
    ctx.log_table("listwise", listwise_rows, caption="Reward models from the same K-way annotations: PL on the "
                  "rankings, BT on all implied pairs, BT on one pair per prompt (same steps, same prompts per step); "
                  "gold accuracy on held-out pairs of validation prompts.")
    ctx.log_table("tabular", tab, caption="One score per item fitted to rankings or pairs of items with planted "
                  "strengths: Spearman ρ with the truth, slope of fitted on true scores, held-out pair accuracy "
                  "(mean and standard error over seeds) per annotation budget (queries).")
    ctx.log_table("arena_ratings", ratings_table, caption=f"Models in the arena: mean gold {cfg.judge} of their "
                  "battle completions, Elo in battle order and over shuffled orders, BT-MLE with 95% bootstrap "
                  "intervals.")
    ctx.log_table("objectives", objective_rows, caption="Held-out gold accuracy of reward models trained on "
                  "annotators with different weightings (rows) against each gold objective (columns).")
    ctx.log_figure("listwise_vs_pairwise", plots.listwise_vs_pairwise(listwise_rows, tab),
                   caption="Left: gold accuracy of reward models trained on the same K-way annotations three ways "
                   "(dots: seeds). Right: tabular BT/PL fits to planted strengths — held-out accuracy against "
                   "the annotation budget.")
    ctx.log_figure("arena_ratings", plots.arena_ratings(ratings_table, cfg.judge),
                   caption="Ratings against each model's mean gold reward: BT-MLE with 95% bootstrap intervals, "
                   "Elo in battle order and its range over shuffled orders.")
    ctx.log_figure("objective_matrix", plots.objective_matrix(matrix), caption="Gold accuracy of reward models "
                   "(rows: the annotators' weighting) against each gold objective (columns).")
    ctx.summary(
        listwise={**listwise, **gaps, "seeds": cfg.seeds, "k": cfg.k, "heldout_pairs": len(heldout_pairs),
                  "train_labels_agree_with_gold": label_agreement},
        tabular={f"{r['design']}@{r['budget']}": {k: r[k] for k in ("spearman", "slope", "heldout_accuracy")}
                 for r in tab},
        arena={"models": list(models), "battles": len(battles), "judge": cfg.judge,
               "bt_spearman": correlation["bradley_terry"]["spearman"],
               "elo_spearman": correlation["elo_battle_order"]["spearman"],
               "correlation": correlation,
               "elo_max_order_std": max(v["std"] for v in spread.values()),
               "ratings": {r["model"]: {k: v for k, v in r.items() if k != "model"} for r in ratings_table}},
        objectives={"matrix": matrix, "gold_conflict": conflict},
    )
