"""`rlhf.kl_reward_tradeoff`: the KL–reward frontier — what each nat of KL from the reference buys in proxy and
in gold reward, across a sweep of the KL coefficient β, and Ziegler et al.'s adaptive controller holding a target.

RLHF maximises E_x E_{y~π}[r_φ(x, y)] − β·KL(π ‖ π_ref) (Ziegler et al. 2019, arXiv 1909.08593; InstructGPT,
Ouyang et al. 2022, arXiv 2203.02155). Its optimum is the reference tilted by the reward,

    π*(y|x) ∝ π_ref(y|x) · exp(r_φ(x, y) / β)

(Korbak, Perez & Buckley 2022, arXiv 2205.11275; the DPO paper's eq. 4, arXiv 2305.18290), so β is an exchange
rate: the smaller it is, the further the policy may travel for the same reward. But r_φ is a proxy. Gao,
Schulman & Hilton (2022, arXiv 2210.10760) plot the gold reward against d = √KL and find it rising, peaking and
falling while the proxy keeps rising — over-optimisation. Every (β, update) is one policy, so one point
(KL, reward); the *frontier* is the most reward any policy measured reaches within a KL budget.

What is measured:

- **one world** (`common.setup`): the reference, the gold utility (style + fluency), the proxy reward model.
- **the sweep**: PPO at each fixed β of `betas` from the same reference, with the same training prompts and
  seed, and one run with the **adaptive controller** (`kl.AdaptiveKLController`: starting at `rlhf.kl_coef`,
  steering the rollouts' KL towards `kl_target` with horizon `kl_horizon`).
- **held-out evaluation** every `eval_every` updates (`World.evaluate`): fresh responses of the policy to the
  validation prompts — the same prompts and the same sampling seed at every evaluation, so two policies are
  compared on common random numbers — and their KL from the reference per response (k1, Σ_t log π − log π_ref
  over the response: its mean and standard error), proxy score and gold utility (each with its standard error),
  gold style and fluency, length. The reference is the point (0, r_ref) every run starts from.
- **the frontier** (`pareto_frontier`): the points that no other point beats at equal or lower KL — sorted by
  KL, each one whose gold exceeds every gold before it: the upper envelope of gold against KL.
- **the gold peak** (`gold_peak`): the point of highest gold, and what lies beyond it — the gold falls (the
  point of largest KL is more than 2 standard errors below the peak), stays flat, or is still rising at the
  largest KL measured. The maximum of many noisy points is biased upwards: the peak's gold is optimistic; its
  KL is the figure to cite.
- **the adaptive run** (`kl_tracking`): β per update against the rollouts' KL and the target; over the last
  third of the updates, the mean KL and its ratio to the target.

Ziegler et al.'s horizon is 10 000 responses over ~4 000 updates of 512; our runs are a few dozen updates of a
few dozen responses, so the default horizon is scaled down with them: 32 responses, one batch, so
K_β = 1 and β moves by up to 20 % per update (the clipped error).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import ClassVar

import torch
from pydantic import Field

from studyforge.experiments.keys import num_key
from studyforge.experiments.registry import register
from studyforge.experiments.rl.jobs import single_thread
from studyforge.experiments.rlhf import plots
from studyforge.experiments.rlhf.ppo import RLHFConfig, RLHFTrainer
from studyforge.experiments.rlhf.studies.common import RLHFStudyConfig, mean_se, setup, setup_total

# the PPO settings of every run (the default preset's; presets list them whole, so `--set rlhf.x=…` keeps the rest):
# a smaller batch and fewer epochs than RLHFConfig's defaults, at a higher learning rate — six runs must fit the
# week's budget, and each must travel far enough from the reference for the sweep to span the KL axis
RLHF = {"batch_size": 32, "minibatch_size": 32, "update_epochs": 2, "lr": 3e-4, "kl_coef": 0.05}


class KLRewardTradeoffConfig(RLHFStudyConfig):
    betas: list[float] = Field([0.3, 0.1, 0.03, 0.0], min_length=2,
                               description="the fixed KL coefficients β of the sweep (one PPO run each)")
    adaptive: bool = Field(True, description="also run the adaptive KL controller (from rlhf.kl_coef towards "
                           "kl_target)")
    kl_target: float = Field(6.0, gt=0, description="the adaptive run's target KL per response (nats)")
    kl_horizon: float = Field(32, gt=0, description="the adaptive controller's horizon (responses)")
    rl_updates: int = Field(30, ge=1, description="PPO updates per run (after the value warm-up)")
    eval_every: int = Field(5, ge=1, description="updates between held-out evaluations of each policy")
    eval_prompts: int = Field(96, ge=8, description="held-out (validation) prompts of every evaluation")
    samples: int = Field(2, ge=0, description="text samples shown per final policy")
    rlhf: RLHFConfig = Field(default_factory=lambda: RLHFConfig(**RLHF), description="the PPO settings of every "
                             "run (kl_coef: the adaptive run's starting β)")
    presets: ClassVar = {
        "default": {"rlhf": RLHF},
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "rm_pairs": 64, "rm_steps": 10, "betas": [1.0, 0.0], "rl_updates": 4,
                  "eval_every": 2, "eval_prompts": 16, "samples": 1, "kl_target": 2.0, "kl_horizon": 32,
                  "rlhf": {**RLHF, "batch_size": 16, "minibatch_size": 16, "max_new_tokens": 12,
                           "lr": 3e-3, "value_warmup": 1}},
        "full": {"d_model": 128, "n_layers": 4, "pretrain_steps": 3000, "rm_pairs": 4096, "rm_steps": 1000,
                 "betas": [1.0, 0.3, 0.1, 0.03, 0.01, 0.003, 0.0], "rl_updates": 300, "eval_every": 20,
                 "eval_prompts": 512, "kl_horizon": 10_000,
                 "rlhf": {"batch_size": 256, "minibatch_size": 64, "update_epochs": 4, "lr": 1e-4,
                          "kl_coef": 0.05}},
    }


# -------------------------------------------------------------------------------------------------
# The measurements (pure functions of the evaluated points; the tests check them against known answers).


def pareto_frontier(points: Sequence[dict], x: str = "kl", y: str = "gold") -> list[dict]:
    """The upper envelope of `y` against `x`: sorted by x (ties: highest y first), every point whose y beats all
    the points before it — the best y any measured policy reaches within an x budget.

    >>> pts = [{"kl": 0, "gold": 1}, {"kl": 2, "gold": 3}, {"kl": 1, "gold": 0.5}, {"kl": 3, "gold": 2},
    ...        {"kl": 4, "gold": 3.5}]
    >>> [p["kl"] for p in pareto_frontier(pts)]
    [0, 2, 4]
    """
    out: list[dict] = []
    for p in sorted(points, key=lambda p: (p[x], -p[y])):
        if not out or p[y] > out[-1][y]:
            out.append(p)
    return out


def gold_peak(points: Sequence[dict], z: float = 2.0) -> dict:
    """Where the gold peaks along KL, and what lies beyond: `verdict` is

    - "still rising at the largest KL measured" when no point of larger KL than the peak was measured;
    - "falls past the peak" when the point of largest KL has gold more than z standard errors below the peak
      (SE of the difference: √(se_peak² + se_last²));
    - "flat past the peak" otherwise.

    How sharp the peak is: `near_peak_kl` is the KL range of the points whose gold is within z standard errors
    of the peak's (by the same SE of the difference) — the peak could be anywhere in it.

    `points` carry `kl`, `gold` and `gold_se` (and anything else, copied: `setting`, `step`, `proxy`).

    >>> p = gold_peak([{"kl": 0.0, "gold": 0.5, "gold_se": 0.01}, {"kl": 4.0, "gold": 0.9, "gold_se": 0.01},
    ...                {"kl": 6.0, "gold": 0.88, "gold_se": 0.01}, {"kl": 9.0, "gold": 0.6, "gold_se": 0.01}])
    >>> p["verdict"], p["near_peak_kl"]
    ('falls past the peak', [4.0, 6.0])
    """
    peak = max(points, key=lambda p: p["gold"])
    last = max(points, key=lambda p: p["kl"])
    near = [p["kl"] for p in points if peak["gold"] - p["gold"] <= z * math.hypot(peak["gold_se"], p["gold_se"])]
    out = {**peak, "sqrt_kl": math.sqrt(max(peak["kl"], 0.0)), "largest_kl": last["kl"],
           "gold_at_largest_kl": last["gold"], "near_peak_kl": [min(near), max(near)]}
    if last["kl"] <= peak["kl"]:
        return {**out, "drop": 0.0, "drop_se": 0.0, "verdict": "still rising at the largest KL measured"}
    drop = peak["gold"] - last["gold"]
    drop_se = math.hypot(peak["gold_se"], last["gold_se"])
    verdict = "falls past the peak" if drop > z * drop_se else "flat past the peak"
    return {**out, "drop": drop, "drop_se": drop_se, "verdict": verdict}


def kl_tracking(kls: Sequence[float], betas: Sequence[float], target: float, tail: float = 1 / 3) -> dict:
    """How the adaptive controller held its target: β at the start, end, lowest and highest; over the last `tail`
    share of the updates, the rollouts' mean KL, its ratio to the target and the mean relative error
    |KL / target − 1|.

    >>> t = kl_tracking([0.0, 3.0, 6.0, 9.0, 5.0, 7.0], [0.1, 0.09, 0.08, 0.08, 0.09, 0.085], target=6.0)
    >>> t["tail_kl"], t["tail_kl_over_target"], round(t["tail_rel_error"], 4), t["beta_min"]
    (6.0, 1.0, 0.1667, 0.08)
    """
    n = max(1, round(len(kls) * tail))
    last = list(kls[-n:])
    mean = sum(last) / n
    return {"target": target, "beta_start": betas[0], "beta_final": betas[-1], "beta_min": min(betas),
            "beta_max": max(betas), "tail_updates": n, "tail_kl": mean, "tail_kl_over_target": mean / target,
            "tail_rel_error": sum(abs(k / target - 1) for k in last) / n}


def heldout_point(ev: dict) -> dict:
    """One frontier point from `World.evaluate`'s output: means and standard errors (proxy and gold from the
    per-response scores), and Gao's d = √KL (of the mean KL, floored at 0: k1 can dip below 0 near the start)."""
    proxy, proxy_se = mean_se(ev["proxy_scores"])
    gold, gold_se = mean_se(ev["utility"])
    return {"kl": ev["kl"], "kl_se": ev["kl_se"], "sqrt_kl": math.sqrt(max(ev["kl"], 0.0)), "proxy": proxy,
            "proxy_se": proxy_se, "gold": gold, "gold_se": gold_se, "gold_style": ev["gold_style"],
            "gold_fluency": ev["gold_fluency"], "length": ev["length"]}


def setting_name(beta: float | None) -> str:
    """A run's name and summary key: `beta0_03` for a fixed β = 0.03, `adaptive` for the controller."""
    return "adaptive" if beta is None else "beta" + num_key(beta)


# -------------------------------------------------------------------------------------------------
# The study.


@register("rlhf.kl_reward_tradeoff", week=10, config=KLRewardTradeoffConfig, headline="gold_optimal_kl")
def kl_reward_tradeoff(ctx, cfg: KLRewardTradeoffConfig) -> None:
    """The KL–reward frontier: PPO at a sweep of fixed β and with the adaptive controller, every policy evaluated
    on held-out prompts every few updates — proxy and gold against KL, one point per (β, update).

    Logged per update (one global step over the runs): each run's training row under `<run>/…` (score, gold,
    KL, β, …) and its held-out evaluations under `<run>/heldout/…`. Tables: every (β, update) point; text samples
    of each final policy. Figures: the frontier (proxy and gold against KL, √ scale), the adaptive run.
    Summary: `reference` (the starting point), per run (`beta0_1`, …, `adaptive`) the final held-out point and its
    best gold; `frontier` (the upper envelope), `gold_peak` with its verdict, the headline `gold_optimal_kl`
    (the peak's KL), `adaptive_tracking` (β against the target KL)."""
    settings: list[tuple[str, RLHFConfig]] = [
        (setting_name(b), cfg.rlhf.model_copy(update={"kl_coef": b, "adaptive_kl": False})) for b in cfg.betas]
    if cfg.adaptive:
        settings.append((setting_name(None), cfg.rlhf.model_copy(update={
            "adaptive_kl": True, "kl_target": cfg.kl_target, "kl_horizon": cfg.kl_horizon})))
    steps_per_run = cfg.rlhf.value_warmup + cfg.rl_updates
    total = setup_total(cfg) + len(settings) * steps_per_run
    points: list[dict] = []
    histories: dict[str, list[dict]] = {}
    finals: dict[str, dict] = {}

    # every model here is small: one intra-op thread does the work of two on a shared 2-core machine
    with single_thread(), ctx.progress(total=total, description="reference, proxy, PPO β sweep") as bar:
        world = setup(ctx, cfg, bar)
        eval_prompts = world.prompts("val", cfg.eval_prompts, cfg.prompt_len,
                                     torch.Generator(device=world.device).manual_seed(ctx.seed + 3))

        def evaluate(lm) -> dict:
            """The held-out evaluation, always with the same sampling seed (common random numbers)."""
            return world.evaluate(lm, eval_prompts, cfg.rlhf.max_new_tokens,
                                  torch.Generator(device=world.device).manual_seed(ctx.seed + 4))

        ref_eval = evaluate(world.reference)
        reference = heldout_point(ref_eval)
        points.append({"setting": "reference", "beta": 0.0, "step": 0, **reference})
        step = 0
        for name, rcfg in settings:
            trainer = RLHFTrainer(world.reference, world.proxy, rcfg, ctx.seed, world.stop_id, world.device,
                                  gold=world.gold)
            prompt_gen = torch.Generator(device=world.device).manual_seed(ctx.seed + 5)  # same prompts every run
            rows = []
            for _ in range(steps_per_run):
                row = trainer.step(world.prompts("train", rcfg.batch_size, cfg.prompt_len, prompt_gen))
                step += 1
                ctx.log({f"{name}/{k}": v for k, v in row.items()}, step=step)
                bar.advance(1, run=name, kl=round(row["kl"], 2), gold=round(row["gold"], 3))
                if row["value_warmup"]:
                    continue
                rows.append(row)
                if trainer.updates % cfg.eval_every == 0 or trainer.updates == cfg.rl_updates:
                    ev = evaluate(trainer.policy.lm)
                    point = {"setting": name, "beta": trainer.beta, "step": trainer.updates, **heldout_point(ev)}
                    points.append(point)
                    ctx.log({f"{name}/heldout/{k}": v for k, v in point.items() if k != "setting"}, step=step)
            histories[name] = rows
            finals[name] = ev

    # -- the frontier, its peak, the adaptive run ---------------------------------------------------------
    frontier = pareto_frontier(points)
    peak = gold_peak(points)
    runs = {}
    for name, rcfg in settings:
        mine = [p for p in points if p["setting"] == name]
        best = max(mine, key=lambda p: p["gold"])
        runs[name] = {"beta": rcfg.kl_coef, "adaptive": rcfg.adaptive_kl, "final": mine[-1],
                      "best_gold": {k: best[k] for k in ("step", "kl", "gold", "gold_se", "proxy")}}
    tracking = None
    if cfg.adaptive:
        hist = histories["adaptive"]
        tracking = {**kl_tracking([r["kl"] for r in hist], [r["beta"] for r in hist], cfg.kl_target),
                    "beta_init": cfg.rlhf.kl_coef, "horizon": cfg.kl_horizon,
                    "heldout_final_kl": runs["adaptive"]["final"]["kl"],
                    "heldout_final_kl_se": runs["adaptive"]["final"]["kl_se"]}

    ctx.log_table("frontier_points", [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in p.items()}
                                      for p in points],
                  caption="Every (β, update) policy on the held-out prompts: KL from the reference per response "
                  "(k1, mean and standard error), Gao's d = √KL, proxy score and gold utility (mean and standard "
                  "error), gold style and fluency, response length; `beta` is the adaptive run's β at that update.")
    sample_rows = []
    prompt_texts = [world.tokenizer.decode(p.tolist()) for p in eval_prompts.cpu()]
    for name, ev in [("reference", ref_eval), *finals.items()]:
        for i in range(min(cfg.samples, len(ev["texts"]))):
            sample_rows.append({"setting": name, "prompt": prompt_texts[i], "response": ev["texts"][i],
                                "gold": round(ev["utility"][i], 3), "proxy": round(ev["proxy_scores"][i], 3)})
    if sample_rows:
        ctx.log_table("samples", sample_rows, caption="The first held-out prompts and each final policy's response "
                      "(the same prompts and sampling seed for every policy), with its gold utility and proxy score.")
    ctx.log_figure("kl_reward_frontier", plots.kl_reward_frontier(points, frontier, peak),
                   caption="Proxy score and gold utility on held-out prompts against the KL from the reference "
                   "(√ scale: Gao et al.'s d = √KL), one point per (β, update), each run's points joined in update "
                   "order; the black steps are the gold frontier (the best gold within each KL budget), the ring "
                   "its peak.")
    if cfg.adaptive:
        ctx.log_figure("adaptive_kl", plots.adaptive_kl(histories["adaptive"],
                                                         [p for p in points if p["setting"] == "adaptive"],
                                                         cfg.kl_target),
                       caption="The adaptive KL controller: β per update (log scale), and the KL of each rollout "
                       "and of the held-out evaluations (± 1 standard error) against the target.")

    ctx.summary(
        reference={k: reference[k] for k in ("kl", "proxy", "gold", "gold_style", "gold_fluency", "length")},
        runs=runs,
        frontier=[{k: p[k] for k in ("setting", "step", "kl", "sqrt_kl", "gold", "gold_se", "proxy")}
                  for p in frontier],
        gold_peak={k: peak[k] for k in ("setting", "step", "kl", "sqrt_kl", "gold", "gold_se", "proxy",
                                        "near_peak_kl", "largest_kl", "gold_at_largest_kl", "drop", "drop_se",
                                        "verdict")},
        gold_optimal_kl=peak["kl"],
        kl_range={"min": min(p["kl"] for p in points), "max": max(p["kl"] for p in points)},
        betas=list(cfg.betas), eval_prompts=cfg.eval_prompts, updates=cfg.rl_updates,
        **({"adaptive_tracking": tracking} if tracking else {}),
    )
