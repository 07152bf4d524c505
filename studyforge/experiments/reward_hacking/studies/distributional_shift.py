"""`reward_hacking.distributional_shift`: how right the proxy reward model stays on the policy's own samples as
RLHF moves the policy away from the reference it was trained on — the proxy's accuracy against KL.

A reward model is fitted on responses of the reference (SFT) policy π_ref. RLHF then optimises a policy π
against it, and π's responses drift off that training distribution — the regime Gao, Schulman & Hilton (2022,
"Scaling Laws for Reward Model Overoptimization", arXiv 2210.10760) call the source of over-optimisation and
Casper et al. (2023, "Open Problems and Fundamental Limitations of RLHF", arXiv 2307.15217, §3.2) list as
"reward models can be misgeneralised / exploited under distribution shift". Here the truth is known (week 9's
gold `style` and `fluency`), so the proxy's quality can be *measured* on the shifted distribution instead of
inferred from a falling gold curve.

One world (`rlhf.studies.common.setup`: reference, gold, a proxy trained on reference pairs), PPO against the
proxy with a small β, and every `eval_every` updates, on the same held-out prompts (validation split):

- **pairs from the current policy**: two responses y₁, y₂ per prompt from π_t; their proxy scores r(x, y) and
  gold utilities u(y) = Σ_m w_m·gold_m(y).
- **pairwise accuracy** against gold: the share of decided pairs (u₁ ≠ u₂) on which sign(r₁ − r₂) = sign(u₁ − u₂)
  (`preference.data.truth_accuracy`; a tie in r counts ½), with a percentile-bootstrap 95% interval over pairs;
  and the same on *clear* pairs only, |u₁ − u₂| ≥ `clear_margin`.
- **calibration**: the symmetric expected calibration error of P(y₁ ≻ y₂) = σ(r₁ − r₂) against the gold outcome
  1[u₁ > u₂] (`preference.calibration`, Guo et al. 2017, arXiv 1706.04599).
- **rank correlation** over single responses: Spearman's ρ(r, u) = Pearson correlation of the ranks, with a
  bootstrap interval that resamples prompts (both of a prompt's responses together).
- **KL** of π_t from π_ref on these samples: KL ≈ mean_y Σ_t [log π_t(y_t|·) − log π_ref(y_t|·)] (k1, nats per
  response) — the x axis of every figure.
- **where the proxy goes wrong** (`conflict_breakdown`): a pair is *aligned* when no gold objective favours the
  response with the lower utility, and a *conflict* when style and fluency point opposite ways (one response
  more vowel-rich, the other more made of real words). On conflict pairs: accuracy when gold's winner is the
  higher-style one vs when it is the higher-fluency one, and the share of conflicts in which the proxy prefers
  the higher-style / lower-fluency response against the share in which gold does. `longer_preference`: the
  same for length (how often the proxy, and gold, prefer the longer of two responses).

Expectation (Gao et al.; week 9's self-rewarding study saw a judge's agreement fall 0.69 → 0.55 as its policy
left its data): accuracy and ρ fall as KL grows, towards the point where the proxy is no better than chance on
what the policy now writes. Text samples of the reference and the final policy, and the final policy's pairs the
proxy gets most confidently wrong, show what the shift looks like.

Two things fall for reasons other than a worse proxy, so they are measured beside it: an optimised policy's
responses are more alike (the spread `gold_sd` shrinks), which lowers any rank correlation and puts more pairs
near a gold tie, where any predictor is close to a coin; the accuracy on clear pairs and `gold_sd` tell that
*range restriction* apart from the proxy's own decline.
"""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.language_modeling.harness import finite_or_none
from studyforge.experiments.preference.calibration import expected_calibration_error
from studyforge.experiments.preference.data import truth_accuracy
from studyforge.experiments.preference.gold import weights_vector
from studyforge.experiments.registry import register
from studyforge.experiments.reward_hacking import plots
from studyforge.experiments.rl.curves import bootstrap_ci
from studyforge.experiments.rl.jobs import single_thread
from studyforge.experiments.rlhf.ppo import RLHFConfig, RLHFTrainer
from studyforge.experiments.rlhf.studies.common import RLHFStudyConfig, World, setup, setup_total


class ShiftRLHFConfig(RLHFConfig):
    """Week 10's PPO settings with a small β by default, so the policy travels far from the reference (a subclass
    rather than a default instance, so `--set rlhf.lr=…` keeps this β)."""

    kl_coef: float = Field(0.01, ge=0, description="β: the KL penalty coefficient")


class DistributionalShiftConfig(RLHFStudyConfig):
    """The shared RLHF world, a small β, and how often and on how many pairs the proxy is re-examined."""

    rlhf: ShiftRLHFConfig = Field(default_factory=ShiftRLHFConfig, description="the PPO settings")
    rl_updates: int = Field(40, ge=1, description="PPO updates (rollout + optimisation)")
    eval_every: int = Field(4, ge=1, description="policy updates between two examinations of the proxy")
    eval_prompts: int = Field(256, ge=8, description="held-out prompts per examination (one pair each)")
    n_boot: int = Field(1000, ge=100, description="bootstrap resamples per confidence interval")
    clear_margin: float = Field(0.25, gt=0, description="a pair is 'clear' when its gold utilities differ by at "
                                "least this much (accuracy on clear pairs is not diluted by near-ties)")
    samples: int = Field(4, ge=1, description="text samples shown per stage (reference, final)")
    presets: ClassVar = {
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "rm_pairs": 64, "rm_steps": 10, "rl_updates": 6, "eval_every": 2,
                  "eval_prompts": 32, "n_boot": 200, "samples": 2,
                  "rlhf": {"batch_size": 16, "minibatch_size": 16, "max_new_tokens": 12,
                           "update_epochs": 2, "value_warmup": 1}},
        "full": {"d_model": 128, "n_layers": 4, "pretrain_steps": 3000, "rm_pairs": 8192, "rm_steps": 1500,
                 "rl_updates": 400, "eval_every": 20, "eval_prompts": 1024, "n_boot": 2000, "samples": 6,
                 "rlhf": {"batch_size": 256, "minibatch_size": 64}},
    }


# -------------------------------------------------------------------------------------------------
# The measurements (pure functions of scores and gold; the tests check them against known answers).


def pair_correct(margin: torch.Tensor, gold_margin: torch.Tensor) -> torch.Tensor:
    """Per decided pair (gold margin ≠ 0): 1 when the predicted margin has the gold margin's sign, ½ when it is
    0, else 0 — the terms whose mean is `truth_accuracy`.

    >>> pair_correct(torch.tensor([1.0, -2.0, 0.0, 5.0]), torch.tensor([0.3, 0.1, 0.2, 0.0])).tolist()
    [1.0, 0.0, 0.5]
    """
    decided = gold_margin != 0
    agree = margin[decided] * gold_margin[decided].sign()
    return (agree > 0).float() + 0.5 * (agree == 0).float()


def mean_ci(values: torch.Tensor | np.ndarray, n_boot: int, seed: int = 0) -> tuple[float, float, float]:
    """(mean, lo, hi): the mean and its 95% percentile-bootstrap interval over the values (week 7's
    `rl.curves.bootstrap_ci` with the plain mean). NaNs for no values."""
    v = np.asarray(values, dtype=float).reshape(-1, 1)
    if len(v) == 0:
        return math.nan, math.nan, math.nan
    lo, hi = bootstrap_ci(v, statistic=np.mean, n_boot=n_boot, seed=seed)
    return float(v.mean()), float(lo[0]), float(hi[0])


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman's ρ of each row pair: Pearson's correlation of the ranks (ties get their average rank, as in
    scipy's `spearmanr`), x, y (R, n) -> (R,); NaN for a row with no spread.

    >>> spearman_rows(np.array([[1.0, 2.0, 3.0, 4.0]]), np.array([[10.0, 30.0, 20.0, 40.0]])).round(6).tolist()
    [0.8]
    """
    from scipy.stats import rankdata

    rx, ry = rankdata(x, axis=1), rankdata(y, axis=1)
    rx, ry = rx - rx.mean(1, keepdims=True), ry - ry.mean(1, keepdims=True)
    # ρ = Σ (R_x − R̄_x)(R_y − R̄_y) / √(Σ (R_x − R̄_x)² · Σ (R_y − R̄_y)²)
    denom = np.sqrt((rx**2).sum(1) * (ry**2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, (rx * ry).sum(1) / denom, np.nan)


def spearman_ci(x, y, n_boot: int, seed: int = 0) -> tuple[float, float, float]:
    """(ρ, lo, hi): Spearman's ρ of x and y and its 95% percentile-bootstrap interval. x, y are (n,) or (n, k):
    rows (prompts) are resampled with all their k entries (a prompt's responses) together, so responses that
    share a prompt are not counted as independent evidence."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = len(x)
    x2, y2 = x.reshape(n, -1), y.reshape(n, -1)
    rho = float(spearman_rows(x2.reshape(1, -1), y2.reshape(1, -1))[0])
    picks = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    boot = spearman_rows(x2[picks].reshape(n_boot, -1), y2[picks].reshape(n_boot, -1))
    if np.isnan(boot).all():
        return rho, math.nan, math.nan
    return rho, float(np.nanquantile(boot, 0.025)), float(np.nanquantile(boot, 0.975))


def conflict_breakdown(margin: torch.Tensor, gold_1: torch.Tensor, gold_2: torch.Tensor, names: list[str],
                       weights: dict[str, float], a: str = "style", b: str = "fluency") -> dict[str, float]:
    """Where a pairwise predictor (margin = r₁ − r₂, (N,)) goes wrong, by what the gold objectives say about
    each pair (gold_1, gold_2: (N, M) over `names`; utility u = Σ w_m·gold_m with `weights`).

    - `aligned`: decided pairs where no objective favours the lower-utility response; `accuracy_aligned`.
    - `conflict`: objectives `a` and `b` point opposite ways (Δa·Δb < 0); `accuracy_conflict`, split by gold's
      winner: `accuracy_<a>_wins` (gold prefers the higher-`a` response), `accuracy_<b>_wins`.
    - `proxy_prefers_<a>`: the share of conflict pairs in which the predictor prefers the higher-`a`,
      lower-`b` response (a zero margin counts ½), beside `gold_prefers_<a>`, the share in which gold does.
    Shares of all N pairs: `share_aligned`, `share_conflict`. Accuracies are NaN where a group is empty.

    >>> g1 = torch.tensor([[0.9, 0.2], [0.5, 0.9], [0.6, 0.6]])  # (style, fluency) of the first response
    >>> g2 = torch.tensor([[0.4, 0.9], [0.5, 0.5], [0.5, 0.5]])
    >>> out = conflict_breakdown(torch.tensor([1.0, -1.0, 1.0]), g1, g2, ["style", "fluency"],
    ...                          {"style": 1.0, "fluency": 1.0})
    >>> out["share_conflict"], out["accuracy_fluency_wins"], out["proxy_prefers_style"], out["accuracy_aligned"]
    (0.3333333333333333, 0.0, 1.0, 0.5)
    """
    d = gold_1 - gold_2  # (N, M) per-objective gold differences
    du = d @ weights_vector(names, weights)  # (N,) utility difference
    da, db = d[:, names.index(a)], d[:, names.index(b)]
    decided = du != 0
    # aligned: every objective's difference is 0 or has the utility difference's sign
    aligned = decided & ((d * du.sign()[:, None]) >= 0).all(1)
    conflict = decided & (da * db < 0)
    a_wins = conflict & (du.sign() == da.sign())

    def acc(group: torch.Tensor) -> float:
        return truth_accuracy(margin[group], du[group]) if bool(group.any()) else math.nan

    # with Δa > 0 the first response is the higher-a one: the predictor prefers it when margin·sign(Δa) > 0
    toward_a = margin[conflict] * da[conflict].sign()
    n = len(margin)
    return {"pairs": n, "share_aligned": float(aligned.sum()) / n, "share_conflict": float(conflict.sum()) / n,
            "accuracy_aligned": acc(aligned), "accuracy_conflict": acc(conflict),
            f"accuracy_{a}_wins": acc(a_wins), f"accuracy_{b}_wins": acc(conflict & ~a_wins),
            f"proxy_prefers_{a}": _share(toward_a),
            f"gold_prefers_{a}": float(a_wins.sum()) / float(conflict.sum()) if bool(conflict.any()) else math.nan}


def longer_preference(margin: torch.Tensor, gold_margin: torch.Tensor, len_1: torch.Tensor,
                      len_2: torch.Tensor) -> dict[str, float]:
    """Among pairs whose responses differ in length: how often the predictor (margin = r₁ − r₂) prefers the
    longer one (a zero margin counts ½), and how often gold does (decided pairs only; NaN for no pair).

    >>> longer_preference(torch.tensor([1.0, -1.0, 2.0, 3.0]), torch.tensor([-1.0, 1.0, 1.0, 0.0]),
    ...                   torch.tensor([5, 2, 9, 4]), torch.tensor([3, 4, 4, 4]))
    {'proxy_prefers_longer': 1.0, 'gold_prefers_longer': 0.3333333333333333, 'pairs_differing': 3}
    """
    dl = (len_1 - len_2).sign().to(margin.dtype)
    differ = dl != 0
    # > 0 where the side with the larger margin (resp. gold utility) is the longer response
    toward = margin[differ] * dl[differ]
    gold_toward = gold_margin[differ] * dl[differ]
    decided = gold_toward != 0
    return {"proxy_prefers_longer": _share(toward),
            "gold_prefers_longer": _share(gold_toward[decided]),
            "pairs_differing": int(differ.sum())}


def _share(toward: torch.Tensor) -> float:
    """The share of entries > 0, an entry of exactly 0 counting ½ (NaN for none): `[2, -1, 0, 3]` -> 0.625."""
    if not len(toward):
        return math.nan
    return (float((toward > 0).sum()) + 0.5 * float((toward == 0).sum())) / len(toward)


def least_squares_slope(x, y) -> float:
    """The slope of the least-squares line through (x, y): Σ(x − x̄)(y − ȳ) / Σ(x − x̄)² (NaN with no spread in x).

    >>> round(least_squares_slope([0.0, 1.0, 2.0], [1.0, 0.8, 0.6]), 6)
    -0.2
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    sxx = float(((x - x.mean()) ** 2).sum()) if len(x) else 0.0
    return float(((x - x.mean()) * (y - y.mean())).sum()) / sxx if sxx > 0 else math.nan


# -------------------------------------------------------------------------------------------------
# One examination of the proxy on the current policy's samples.


@torch.no_grad()
def examine(policy_lm, world: World, prompts: torch.Tensor, cfg: DistributionalShiftConfig,
            generator: torch.Generator, seed: int) -> dict:
    """Two responses per held-out prompt from `policy_lm` (two draws of `World.evaluate`, the one measurement
    every week-10/12 study makes), scored by the proxy and by gold: accuracy, ECE, Spearman (with bootstrap
    intervals), KL from the reference, the conflict and length breakdowns; and, under "raw", the per-response
    texts, gold and scores (for the figures and the sample tables)."""
    draws = [world.evaluate(policy_lm, prompts, cfg.rlhf.max_new_tokens, generator) for _ in range(2)]
    names = world.gold.gold.names
    proxy = [torch.tensor(d["proxy_scores"]) for d in draws]  # 2 × (N,)
    util = [torch.tensor(d["utility"]) for d in draws]
    gold = [world.gold.gold.score(d["texts"]).float() for d in draws]  # 2 × (N, M), per objective
    lengths = [torch.tensor([len(t) for t in d["tokens"]]) for d in draws]
    margin, gold_margin = proxy[0] - proxy[1], util[0] - util[1]
    decided = gold_margin != 0
    clear = gold_margin.abs() >= cfg.clear_margin
    acc, acc_lo, acc_hi = mean_ci(pair_correct(margin, gold_margin), cfg.n_boot, seed)
    clear_acc, clear_lo, clear_hi = mean_ci(pair_correct(margin[clear], gold_margin[clear]), cfg.n_boot, seed)
    rho, rho_lo, rho_hi = spearman_ci(torch.stack(proxy, 1).numpy(), torch.stack(util, 1).numpy(), cfg.n_boot, seed)
    prob, outcome = torch.sigmoid(margin[decided]), (gold_margin[decided] > 0).float()
    out = {"kl": (draws[0]["kl"] + draws[1]["kl"]) / 2,
           "kl_se": ((draws[0]["kl_se"] ** 2 + draws[1]["kl_se"] ** 2) ** 0.5) / 2,
           "gold_accuracy": acc, "gold_accuracy_lo": acc_lo, "gold_accuracy_hi": acc_hi,
           "ece": expected_calibration_error(prob, outcome, symmetric=True) if len(prob) else math.nan,
           "spearman": rho, "spearman_lo": rho_lo, "spearman_hi": rho_hi,
           "decided_pairs": int(decided.sum()),
           "accuracy_clear": clear_acc, "accuracy_clear_lo": clear_lo, "accuracy_clear_hi": clear_hi,
           "clear_pairs": int(clear.sum()),
           "gold_sd": float(torch.cat(util).std()), "gold_margin_abs": float(gold_margin[decided].abs().mean()),
           "proxy": float(torch.cat(proxy).mean()), "gold": float(torch.cat(util).mean()),
           **{f"gold_{m}": float(torch.cat(gold)[:, i].mean()) for i, m in enumerate(names)},
           "length": float(torch.cat(lengths).float().mean()),
           "entropy": (draws[0]["entropy"] + draws[1]["entropy"]) / 2,
           **conflict_breakdown(margin, gold[0], gold[1], names, world.gold.weights),
           **longer_preference(margin, gold_margin, lengths[0], lengths[1])}
    out["raw"] = {"texts": [d["texts"] for d in draws], "proxy": proxy, "gold": gold, "utility": util,
                  "margin": margin}
    return out


def sample_rows(stage: str, ex: dict, world: World, k: int) -> list[dict]:
    """k text samples of one examination (first responses of the first k prompts): text, gold, proxy."""
    raw = ex["raw"]
    names = world.gold.gold.names
    texts = raw["texts"][0][:k]
    return [{"stage": stage, "kl": round(ex["kl"], 2), "text": t,
             **{m: round(float(raw["gold"][0][i, j]), 3) for j, m in enumerate(names)},
             "gold": round(float(raw["utility"][0][i]), 3), "proxy": round(float(raw["proxy"][0][i]), 3)}
            for i, t in enumerate(texts)]


def confident_mistakes(ex: dict, world: World, k: int) -> list[dict]:
    """The k decided pairs the proxy ranks most confidently against gold: the response it prefers and the
    one gold prefers, with their gold objectives and the proxy's margin."""
    raw = ex["raw"]
    names = world.gold.gold.names
    margin, gold_margin = raw["margin"], raw["utility"][0] - raw["utility"][1]
    wrong = torch.nonzero((margin * gold_margin.sign() < 0) & (gold_margin != 0)).flatten()
    wrong = wrong[torch.argsort(margin[wrong].abs(), descending=True)][:k]
    texts = raw["texts"]
    rows = []
    for i in wrong.tolist():
        p, g = (0, 1) if bool(margin[i] > 0) else (1, 0)  # which response the proxy / gold prefers
        rows.append({"proxy_margin": round(abs(float(margin[i])), 3), "proxy_prefers": texts[p][i],
                     **{f"{m}_proxy_pick": round(float(raw["gold"][p][i, j]), 3) for j, m in enumerate(names)},
                     "gold_prefers": texts[g][i],
                     **{f"{m}_gold_pick": round(float(raw["gold"][g][i, j]), 3) for j, m in enumerate(names)},
                     "gold_margin": round(abs(float(gold_margin[i])), 3)})
    return rows


def point(ex: dict) -> dict:
    """An examination's figures without the raw tensors (a table row, a summary entry)."""
    return {k: v for k, v in ex.items() if k != "raw"}


# -------------------------------------------------------------------------------------------------
# The study.


@register("reward_hacking.distributional_shift", week=12, config=DistributionalShiftConfig,
          headline="accuracy_drop")
def distributional_shift(ctx, cfg: DistributionalShiftConfig) -> None:
    """The proxy reward model's gold accuracy, calibration and rank correlation on the PPO policy's own samples,
    against the policy's KL from the reference it was trained on.

    Logged per update (one global step): the trainer's row (`train/score`, `train/gold`, `train/kl`, …) and at
    each examination `shift/gold_accuracy`, `shift/ece`, `shift/spearman`, `shift/kl`, the conflict shares.
    Tables: `examinations` (one row per examination), `samples` (reference and final policy text with gold and
    proxy), `confident_mistakes` (the final policy's pairs the proxy gets most confidently wrong). Figures:
    `accuracy_vs_kl` (accuracy, ρ and ECE against KL with bootstrap intervals), `score_distributions`
    (reference vs final: proxy and gold histograms and their scatter), `where_it_goes_wrong` (accuracy by
    kind of pair; how often the proxy and gold prefer the higher-style response of a conflict, against KL).
    Summary: `at_reference` and `at_final` (the first and last examinations' figures with intervals),
    `accuracy_drop` and `spearman_drop` (reference − final), `accuracy_slope_per_nat` and
    `spearman_slope_per_nat` (least squares over all examinations), `proxy_heldout_accuracy` (setup's accuracy
    on reference pairs labelled by the annotator) and `points`."""
    rl = cfg.rlhf
    examinations = 1 + math.ceil(cfg.rl_updates / cfg.eval_every)
    total = setup_total(cfg) + (rl.value_warmup if rl.algo == "ppo" else 0) + cfg.rl_updates + examinations
    # one torch thread: these small models lose far more to thread contention on a busy 2-core machine than
    # they gain from a second thread
    with ctx.progress(total=total, description="reference + proxy + PPO") as bar, single_thread():
        world = setup(ctx, cfg, bar)
        g = torch.Generator(device=world.device).manual_seed(ctx.seed + 101)
        eval_prompts = world.prompts("val", cfg.eval_prompts, cfg.prompt_len, g)
        eval_gen = torch.Generator(device=world.device).manual_seed(ctx.seed + 202)
        trainer = RLHFTrainer(world.reference, world.proxy, rl, ctx.seed, world.stop_id, world.device,
                              gold=world.gold)
        global_step = 0
        points: list[dict] = []

        def examine_now() -> dict:
            ex = examine(trainer.policy.lm, world, eval_prompts, cfg, eval_gen, ctx.seed + len(points))
            row = {"update": trainer.updates, **point(ex)}
            points.append(row)
            ctx.log({f"shift/{k}": v for k, v in row.items() if isinstance(v, int | float)}, step=global_step)
            bar.advance(1, accuracy=f"{ex['gold_accuracy']:.2f}", kl=f"{ex['kl']:.1f}")
            return ex

        first = examine_now()
        last = first
        while trainer.updates < cfg.rl_updates:
            prompts = world.prompts("train", rl.batch_size, cfg.prompt_len, g)
            row = trainer.step(prompts)
            global_step += 1
            ctx.log({f"train/{k}": v for k, v in row.items()}, step=global_step)
            bar.advance(1, kl=f"{row['kl']:.1f}", score=f"{row['score']:.2f}")
            if row["value_warmup"] == 0.0 and (trainer.updates % cfg.eval_every == 0
                                              or trainer.updates == cfg.rl_updates):
                last = examine_now()

    ctx.log_table("examinations", points, caption="the proxy examined on the policy's own samples, per update")
    ctx.log_table("samples", sample_rows("reference", first, world, cfg.samples)
                  + sample_rows("final", last, world, cfg.samples),
                  caption="responses of the reference and the final policy to the same held-out prompts")
    ctx.log_table("confident_mistakes", confident_mistakes(last, world, cfg.samples),
                  caption="final policy: pairs the proxy ranks most confidently against gold")
    ctx.log_figure("accuracy_vs_kl", plots.shift_accuracy_vs_kl(points, world.rm_metrics["gold_accuracy"],
                                                                 cfg.clear_margin))
    ctx.log_figure("score_distributions", plots.shift_score_distributions(
        {"reference": _scores(first), "final": _scores(last)}))
    ctx.log_figure("where_it_goes_wrong", plots.shift_where_wrong(points))

    keep = ("kl", "gold_accuracy", "gold_accuracy_lo", "gold_accuracy_hi", "accuracy_clear", "accuracy_clear_lo",
            "accuracy_clear_hi", "clear_pairs", "ece", "spearman", "spearman_lo", "spearman_hi", "proxy", "gold",
            "gold_sd", "gold_style", "gold_fluency", "length", "entropy", "share_conflict",
            "accuracy_aligned", "accuracy_conflict", "accuracy_style_wins", "accuracy_fluency_wins",
            "proxy_prefers_style", "gold_prefers_style", "proxy_prefers_longer", "gold_prefers_longer")
    ref, fin = points[0], points[-1]
    # a group of pairs that did not occur (no conflict, say) has no accuracy: null in the summary, not NaN
    ctx.summary(at_reference={k: finite_or_none(ref[k]) for k in keep},
                at_final={k: finite_or_none(fin[k]) for k in keep}, final_update=fin["update"],
                accuracy_drop=finite_or_none(ref["gold_accuracy"] - fin["gold_accuracy"]),
                spearman_drop=finite_or_none(ref["spearman"] - fin["spearman"]),
                accuracy_slope_per_nat=finite_or_none(least_squares_slope([p["kl"] for p in points],
                                                                          [p["gold_accuracy"] for p in points])),
                spearman_slope_per_nat=finite_or_none(least_squares_slope([p["kl"] for p in points],
                                                                          [p["spearman"] for p in points])),
                proxy_heldout_accuracy=world.rm_metrics["gold_accuracy"], points=len(points),
                pairs_per_point=cfg.eval_prompts, beta=rl.kl_coef)


def _scores(ex: dict) -> dict[str, list[float]]:
    raw = ex["raw"]
    return {"proxy": torch.cat(raw["proxy"]).tolist(), "gold": torch.cat(raw["utility"]).tolist()}
