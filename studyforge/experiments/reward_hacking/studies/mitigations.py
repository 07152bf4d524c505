"""`reward_hacking.mitigations`: what keeps RLHF from over-optimising its proxy — a stronger KL penalty, a
reward-model ensemble used conservatively, early stopping on a held-out gold check, a length penalty — compared
at equal compute over seeds, and at equal KL.

**The setting** (Gao, Schulman & Hilton 2022, "Scaling Laws for Reward Model Overoptimization", arXiv 2210.10760):
a gold reward (week 9's utility u = style + fluency, in code) labels pairs through a Bradley–Terry annotator; a
proxy reward model trained on few of those labels is what PPO optimises; the gold of the policy's text is
measured but never shown to it. Here the proxy is an *ensemble* of E reward models (`rm_members`, each from its
own seed, week 9's `train_ensemble`) and the data are few enough (`rm_pairs`) that plain PPO over-optimises the
mean of the ensemble: the gold rises, peaks and falls (or stalls) while the proxy keeps rising.

**The arms** — every RL arm runs the same number of PPO updates on the same prompt stream (equal compute), each
over `seeds` RL seeds with one world (reference and proxy ensemble; the seeds vary the RL run only):

- `baseline`: the ensemble mean r̄ = (1/E) Σ_e r_e, with the small KL penalty β = `rlhf.kl_coef`; per token the
  reward is −β·(log π − log π_ref) and r̄ arrives on the last token (`rlhf.ppo.token_rewards`);
- `large_beta`: the same with β = `large_beta` — the leash InstructGPT relies on;
- `ensemble_min` and `ensemble_mean_minus_std`: the conservative ensembles of Coste et al. 2023 ("Reward Model
  Ensembles Help Mitigate Overoptimization", arXiv 2310.02743): worst-case optimisation min_e r_e, and
  uncertainty-weighted optimisation r̄ − k·σ_e(r) with σ_e the members' standard deviation (`ensemble_k` = k).
  Where the members disagree — off the data they were trained on, where the policy goes when it exploits one
  member's error — the score is pulled down;
- `length_penalty`: r̄ − c·|y| with |y| the response length in tokens (`length_penalty` = c) — against the proxy's
  taste for long responses. The trainer whitens the scores per batch, so c counts against the batch's spread
  of r̄;
- `early_stop`: no RL run of its own — the baseline, stopped at the update where a **held-out gold check** peaks.
  The check is the gold utility of fresh responses to `check_prompts` held-out prompts, measured every
  `eval_every` updates: a budgeted oracle of check_prompts × checks gold labels per run (`early_stop.gold_labels`
  in the summary). The stop is chosen by the check's own noisy estimate, and the stopped policy's gold is read
  off the baseline's evaluation on *separate* prompts, so the choice does not flatter itself (`stop_index`:
  the argmax of the checks, or with `patience` the online rule "stop after `patience` checks without a new
  best and keep the best").

**Measured per arm and seed** (every `eval_every` updates, fresh responses to `eval_prompts` held-out prompts,
`World.evaluate`): KL from the reference (k1, nats per response), the ensemble-mean proxy r̄ (the same yardstick
for every arm, whatever the arm optimises), the gold utility and its parts. From that curve: the **gold peak**
(its maximum over the run — a maximum of noisy points, so biased upwards alike for every RL arm), the update and
KL at the peak, the **final gold**, and the **gold at a common KL** K, interpolated linearly on the first segment
of the curve that reaches K:

    g(K) = g_i + (K − KL_i) · (g_{i+1} − g_i) / (KL_{i+1} − KL_i),   the first i with KL_i ≤ K ≤ KL_{i+1}

(`gold_at_kl`; undefined when the run never reaches K). `common_kl` is the largest KL every run of every RL arm
reaches, so all arms are compared there.

**Confidence intervals** are Student-t intervals over seeds, x̄ ± t_{0.975, n−1} · s/√n (`t_interval`; none with one
seed). An arm *moves the gold peak* when its mean peak lies outside the baseline's interval (`verdict`); since
the arms share the seeds' prompt streams, the paired difference arm − baseline per seed gets its own t-interval
too (`paired_gain`) — the sharper test of the two.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.config import Seeds, Workers, names_in
from studyforge.experiments.keys import num_key
from studyforge.experiments.registry import register
from studyforge.experiments.reward_hacking import plots
from studyforge.experiments.rl.jobs import single_thread
from studyforge.experiments.rlhf.ppo import RLHFConfig, RLHFTrainer
from studyforge.experiments.rlhf.reward import ProxyReward
from studyforge.experiments.rlhf.studies.common import RLHFStudyConfig, World, setup, setup_total, value_at_kl

RL_ARMS = ("baseline", "large_beta", "ensemble_min", "ensemble_mean_minus_std", "length_penalty")
EARLY_STOP = "early_stop"
ARMS = (*RL_ARMS, EARLY_STOP)
EVAL_KEYS = ("kl", "kl_se", "proxy", "gold", "gold_style", "gold_fluency", "length")


class MitigationsRLHFConfig(RLHFConfig):
    """Week 10's PPO settings, smaller and faster than its defaults so that 5 arms × 5 seeds fit the budget: half
    the batch, shorter responses, two epochs per batch at a larger learning rate (a subclass rather than a
    default instance, so `--set rlhf.lr=…` keeps the others). β here is the baseline's, smaller than week 10's
    0.05 so that the baseline travels far enough to over-optimise within the updates."""

    batch_size: int = Field(32, ge=2, description="responses per rollout")
    minibatch_size: int = Field(32, ge=1, description="responses per gradient step")
    max_new_tokens: int = Field(16, ge=1, description="response length limit in tokens")
    update_epochs: int = Field(2, ge=1, description="passes over each rollout batch")
    lr: float = Field(5e-4, gt=0, description="Adam learning rate")
    kl_coef: float = Field(0.02, ge=0, description="β of the baseline (and of every arm but large_beta)")


class MitigationsConfig(RLHFStudyConfig):
    """Week 10's world with a proxy ensemble trained on few pairs, and the mitigations' knobs.

    Budget: the default preset is 5 RL arms × 5 seeds × (2 value warm-up + 24) updates of 32 responses, with an
    evaluation on 64 held-out prompts every 3 updates — measured with `forge run` on the shared 2-core machine
    (load about 2, `workers` 2): 4 min 33 s wall, 325 s of CPU (setup 44 s, RL 213 s)."""

    arms: Annotated[list[str], names_in(ARMS, "arms")] = Field(
        list(ARMS), description="arms to run (baseline is always run: the others are compared with it, and "
        "early_stop is read off it)")
    seeds: Seeds = 5
    workers: Workers = 2
    rm_members: int = Field(3, ge=3, description="reward models in the proxy ensemble (≥ 3: min and std need "
                            "several)")
    # 512 pairs × 80 steps gave members at chance on held-out gold (0.47 for the ensemble in one run): the arms
    # then compared optimisers of noise; week 10's measurements put 1024 × 250 near 0.58
    rm_pairs: int = Field(1024, ge=8, description="labelled pairs every ensemble member is trained on")
    rm_steps: int = Field(250, ge=1, description="training steps of each ensemble member")
    pretrain_steps: int = Field(400, ge=1, description="steps of next-token training for the reference")
    rl_updates: int = Field(24, ge=1, description="PPO updates of every RL arm (equal compute)")
    eval_every: int = Field(3, ge=1, description="evaluate (and run the gold check) every this many updates, "
                            "and at update 0")
    eval_prompts: int = Field(64, ge=8, description="held-out prompts of every evaluation")
    check_prompts: int = Field(16, ge=2, description="held-out prompts of the early-stopping gold check (other "
                               "prompts than the evaluation's)")
    patience: int | None = Field(None, ge=1, description="early stopping: stop after this many checks without a "
                                 "new best (None: at the best check of the whole run)")
    large_beta: float = Field(0.2, gt=0, description="β of the large_beta arm (the baseline's is rlhf.kl_coef)")
    ensemble_k: float = Field(1.0, ge=0, description="k of the ensemble_mean_minus_std arm: r̄ − k·σ")
    length_penalty: float = Field(0.05, gt=0, description="c of the length_penalty arm: r̄ − c·|y| (tokens)")
    kl_levels: list[float] = Field([2.0, 5.0, 10.0], description="KL levels (nats) the gold is also compared at, "
                                   "beside the common level every run reaches")
    samples: int = Field(3, ge=1, description="text samples shown per arm")
    rlhf: MitigationsRLHFConfig = Field(default_factory=MitigationsRLHFConfig,
                                        description="the PPO settings of every arm (β here is the baseline's)")
    presets: ClassVar = {
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "rm_pairs": 64, "rm_steps": 10, "rl_updates": 3, "eval_every": 1,
                  "eval_prompts": 16, "check_prompts": 8, "seeds": 1, "workers": 1, "kl_levels": [0.5, 1.0],
                  "samples": 2, "rlhf": {"batch_size": 16, "minibatch_size": 16, "max_new_tokens": 12,
                                         "value_warmup": 1}},
        "full": {"d_model": 128, "n_layers": 4, "pretrain_steps": 3000, "rm_pairs": 2048, "rm_steps": 1000,
                 "rm_members": 5, "rl_updates": 200, "eval_every": 10, "eval_prompts": 256, "check_prompts": 32,
                 "seeds": 5, "kl_levels": [2.0, 5.0, 10.0, 20.0],
                 "rlhf": {"batch_size": 128, "minibatch_size": 64, "max_new_tokens": 24, "update_epochs": 4,
                          "lr": 1e-4}},
    }


# -------------------------------------------------------------------------------------------------
# The measurements (pure functions; the tests check them against known answers).


def t_interval(values: np.ndarray | Sequence[float], confidence: float = 0.95) -> dict[str, np.ndarray]:
    """Mean and Student-t interval over seeds (axis 0), per column, ignoring NaN (a run that never reached a
    level): x̄ ± t_{(1+c)/2, n−1} · s/√n with s the sample standard deviation. With n < 2 there is no interval
    (lo = hi = NaN). Returns arrays {"mean", "lo", "hi", "half", "n"} of the columns' shape.

    >>> {k: np.round(v, 3).tolist() for k, v in t_interval([1.0, 2.0, 3.0]).items()}
    {'mean': 2.0, 'lo': -0.484, 'hi': 4.484, 'half': 2.484, 'n': 3}
    """
    from scipy.special import stdtrit  # the t quantile, without importing all of scipy.stats

    x = np.asarray(values, dtype=float)
    ok = np.isfinite(x)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(n > 0, np.where(ok, x, 0.0).sum(axis=0) / np.maximum(n, 1), np.nan)
        var = np.where(ok, (x - mean) ** 2, 0.0).sum(axis=0) / np.maximum(n - 1, 1)
        # half-width = t_{(1+c)/2, n−1} · s / √n
        half = np.where(n >= 2, stdtrit(np.maximum(n - 1, 1), (1 + confidence) / 2) * np.sqrt(var / n), np.nan)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "half": half, "n": n}


def ci_entry(values: Sequence[float]) -> dict[str, Any]:
    """One number per seed as a summary entry: mean, 95% t-interval (None without one) and the values;
    NaN values (not reached) are left out of the interval and written as None."""
    t = t_interval(values)

    def num(v) -> float | None:
        return float(v) if np.isfinite(v) else None

    return {"mean": num(t["mean"]), "lo": num(t["lo"]), "hi": num(t["hi"]), "n": int(t["n"]),
            "values": [num(v) for v in values]}


def verdict(arm: Sequence[float], baseline: Sequence[float]) -> dict[str, Any]:
    """Does `arm` (one number per seed) differ from `baseline` (the same seeds)? `beyond_baseline_ci`: "above" or
    "below" when the arm's mean lies outside the baseline's 95% t-interval, "within" when inside, "no_ci" with
    fewer than two baseline seeds; `paired_gain`: the t-interval of the per-seed differences arm − baseline, and
    `paired_significant` when it excludes 0.

    >>> v = verdict([2.0, 2.1, 2.2], [1.0, 1.1, 1.2])
    >>> v["beyond_baseline_ci"], round(v["paired_gain"]["mean"], 3), v["paired_significant"]
    ('above', 1.0, True)
    """
    a, b = np.asarray(arm, dtype=float), np.asarray(baseline, dtype=float)
    base = t_interval(b)
    mean = float(np.nanmean(a)) if np.isfinite(a).any() else math.nan
    if base["n"] < 2 or not np.isfinite(mean):
        where = "no_ci"
    else:
        where = "above" if mean > base["hi"] else "below" if mean < base["lo"] else "within"
    gain = ci_entry(list(a - b))
    significant = gain["lo"] is not None and (gain["lo"] > 0 or gain["hi"] < 0)
    return {"beyond_baseline_ci": where, "paired_gain": gain, "paired_significant": bool(significant)}


def stop_index(checks: Sequence[float], patience: int | None = None) -> int:
    """The checkpoint early stopping keeps: the best check (the first one on a tie). With `patience`, the checks
    are read in order and reading stops once `patience` checks in a row have not beaten the best — the online
    rule, which cannot see a later, higher peak.

    >>> stop_index([0.5, 0.7, 0.6, 0.8, 0.4]), stop_index([0.5, 0.7, 0.6, 0.8, 0.4], patience=1)
    (3, 1)
    >>> stop_index([0.5, 0.7, 0.6, 0.8, 0.4], patience=2)
    3
    """
    best = 0
    for i, value in enumerate(checks):
        if value > checks[best]:
            best = i
        elif patience is not None and i - best >= patience:
            break
    return best


def checks_read(n_checks: int, stop: int, patience: int | None) -> int:
    """How many checks the rule has paid for when it stops: all of them without patience; with it, up to the
    stop plus `patience` (fewer when the run ends first). `checks_read(9, 3, 2)` -> 6."""
    return n_checks if patience is None else min(n_checks, stop + patience + 1)


def gold_at_kl(kls: Sequence[float], golds: Sequence[float], level: float) -> float:
    """The gold where the curve first reaches KL = `level` (week 10's `value_at_kl`), NaN if it never does.

    >>> gold_at_kl([0.0, 2.0, 4.0], [0.5, 1.0, 0.5], 3.0), gold_at_kl([0.0, 2.0, 4.0], [0.5, 1.0, 0.5], 5.0)
    (0.75, nan)
    """
    value = value_at_kl(kls, golds, level)
    return math.nan if value is None else value


def curve_stats(evals: list[dict[str, float]]) -> dict[str, float]:
    """Peak, final and where the peak is, from one run's evaluation points (each with update, kl, gold, proxy)."""
    gold = np.array([e["gold"] for e in evals])
    i = int(np.argmax(gold))
    return {"peak_gold": float(gold[i]), "peak_update": float(evals[i]["update"]), "kl_at_peak": evals[i]["kl"],
            "final_gold": evals[-1]["gold"], "final_kl": evals[-1]["kl"], "final_proxy": evals[-1]["proxy"],
            "final_length": evals[-1]["length"], "peak_minus_final": float(gold[i] - gold[-1])}


# -------------------------------------------------------------------------------------------------
# One RL arm, one seed: a job a worker process can run.


@dataclass
class ArmJob:
    """Everything one run needs (picklable: a worker process receives it whole)."""

    arm: str
    seed: int  # the RL seed (sampling, minibatch order)
    world: World  # without its corpus (`prep`): reference, gold, ensemble-mean proxy, stop token
    proxy: ProxyReward  # what this arm optimises
    rlhf: RLHFConfig  # with this arm's β
    updates: int
    eval_every: int
    train_prompts: torch.Tensor  # ((warm-up + updates) · batch, P): this seed's prompt stream, every arm alike
    eval_prompts: torch.Tensor
    check_prompts: torch.Tensor | None  # the gold check's prompts (the baseline only)
    samples: int


@dataclass
class ArmRun:
    arm: str
    seed: int
    rows: list[dict[str, float]] = field(default_factory=list)  # the trainer's row of every update
    evals: list[dict[str, Any]] = field(default_factory=list)  # update, EVAL_KEYS, texts / proxy / gold samples
    checks: list[float] = field(default_factory=list)  # the gold check at each evaluation (baseline)
    seconds: float = 0.0


def eval_generator(seed: int, index: int, device) -> torch.Generator:
    """The sampling generator of evaluation `index` of a run with RL seed `seed`: the same for every arm (the
    arms' curves share their evaluation noise at update 0), different across seeds."""
    return torch.Generator(device=device).manual_seed(1_000_003 * (seed + 1) + index)


def run_arm(job: ArmJob, on_update: Callable[[dict[str, float]], None] | None = None) -> ArmRun:
    """PPO against `job.proxy` for `job.updates` updates (after the value warm-up), evaluated every `eval_every`
    updates and at update 0: fresh responses to the evaluation prompts (and to the check prompts when given)."""
    w, cfg = job.world, job.rlhf
    out = ArmRun(job.arm, job.seed)
    t0 = time.perf_counter()
    with single_thread():
        trainer = RLHFTrainer(w.reference, job.proxy, cfg, job.seed, w.stop_id, w.device, gold=w.gold)

        def evaluate() -> None:
            index = len(out.evals)
            ev = w.evaluate(trainer.policy.lm, job.eval_prompts, cfg.max_new_tokens,
                            eval_generator(job.seed, index, w.device))
            k = job.samples
            out.evals.append({"update": trainer.updates, **{key: ev[key] for key in EVAL_KEYS},
                              "texts": ev["texts"][:k], "proxy_scores": ev["proxy_scores"][:k],
                              "utility": ev["utility"][:k]})
            if job.check_prompts is not None:
                check = w.evaluate(trainer.policy.lm, job.check_prompts, cfg.max_new_tokens,
                                   eval_generator(job.seed + 7919, index, w.device))
                out.checks.append(check["gold"])

        evaluate()
        b = cfg.batch_size
        for i in range(cfg.value_warmup + job.updates):
            row = trainer.step(job.train_prompts[i * b:(i + 1) * b])
            out.rows.append(row)
            if on_update is not None:
                on_update(row)
            if not row["value_warmup"] and (trainer.updates % job.eval_every == 0 or trainer.updates == job.updates):
                evaluate()
    out.seconds = time.perf_counter() - t0
    return out


def eval_metrics(run: ArmRun, i: int, prefix: str) -> dict[str, float]:
    """Evaluation `i` of a run as logged metrics (`<prefix>eval/…`, with the gold check when there is one)."""
    out = {f"{prefix}eval/{k}": run.evals[i][k] for k in EVAL_KEYS}
    if run.checks:
        out[f"{prefix}eval/gold_check"] = run.checks[i]
    return out


def _init_worker() -> None:
    torch.set_num_threads(1)


def run_arms(jobs: list[ArmJob], workers: int, bar) -> dict[tuple[str, int], ArmRun]:
    """Every job, in `workers` processes when > 1 (and on the CPU); runs are seeded, so the results do not depend
    on the number of workers. The bar advances by one per update (in order), or by a run's updates when a
    worker returns it."""
    runs: dict[tuple[str, int], ArmRun] = {}
    if workers <= 1 or len(jobs) <= 1 or jobs[0].world.device.type != "cpu":
        for job in jobs:
            runs[job.arm, job.seed] = run_arm(job, lambda row, job=job: bar.advance(
                1, arm=job.arm, seed=job.seed, gold=round(row["gold"], 3), kl=round(row["kl"], 2)))
        return runs
    # spawn: a clean interpreter per worker, safe whatever threads the parent (W&B, torch) has started
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=mp.get_context("spawn"),
                             initializer=_init_worker) as pool:
        futures = {pool.submit(run_arm, job): job for job in jobs}
        for future in as_completed(futures):
            job = futures[future]
            run = future.result()
            runs[job.arm, job.seed] = run
            bar.advance(len(run.rows), arm=job.arm, seed=job.seed, gold=round(run.evals[-1]["gold"], 3))
    return runs


def arm_setting(arm: str, cfg: MitigationsConfig, world: World) -> tuple[ProxyReward, RLHFConfig]:
    """What the arm optimises and with which β."""
    ensemble = world.proxy.model
    if arm == "large_beta":
        return ProxyReward(ensemble), cfg.rlhf.model_copy(update={"kl_coef": cfg.large_beta})
    if arm == "ensemble_min":
        return ProxyReward(ensemble, combine="min"), cfg.rlhf
    if arm == "ensemble_mean_minus_std":
        return ProxyReward(ensemble, combine="mean_minus_std", k=cfg.ensemble_k), cfg.rlhf
    if arm == "length_penalty":
        return ProxyReward(ensemble, length_penalty=cfg.length_penalty), cfg.rlhf
    return ProxyReward(ensemble), cfg.rlhf


def describe_arm(arm: str, cfg: MitigationsConfig) -> str:
    return {"baseline": f"ensemble mean, β {cfg.rlhf.kl_coef:g}",
            "large_beta": f"ensemble mean, β {cfg.large_beta:g}",
            "ensemble_min": f"min over {cfg.rm_members} members, β {cfg.rlhf.kl_coef:g}",
            "ensemble_mean_minus_std": f"mean − {cfg.ensemble_k:g}·std, β {cfg.rlhf.kl_coef:g}",
            "length_penalty": f"mean − {cfg.length_penalty:g}·|y|, β {cfg.rlhf.kl_coef:g}",
            EARLY_STOP: f"baseline stopped at its gold check's {'best' if cfg.patience is None else 'online'} "
                        f"peak ({cfg.check_prompts} prompts/check)"}[arm]


# -------------------------------------------------------------------------------------------------
# The study.


@register("reward_hacking.mitigations", week=12, config=MitigationsConfig, headline="best_peak_gain")
def mitigations(ctx, cfg: MitigationsConfig) -> None:
    """Mitigations of over-optimisation against a small-data proxy ensemble, at equal compute over seeds: a larger
    β, the ensemble's min and mean − k·std, a length penalty, early stopping on a held-out gold check.

    Logged per update (one global step across all runs): the trainer's row under `<arm>/s<seed>/…`, and at each
    evaluation `<arm>/s<seed>/eval/…` (kl, proxy, gold, …) and the baseline's `gold_check`. Tables: `arms` (peak,
    final, KL at the peak, with 95% t-intervals and the verdict against the baseline), `curves` (every
    evaluation point, mean and interval over seeds), `equal_kl`, `samples`. Figures: `mitigation_curves` (gold
    and proxy against updates and KL, per arm, mean ± CI), `mitigation_gold_vs_kl` (one panel per arm, every
    seed), `mitigation_peaks` (peak and final gold with intervals against the baseline's band).

    Summary: `arms.<arm>` with `peak_gold`, `final_gold`, `kl_at_peak`, `peak_update`, `final_kl`, `final_proxy`
    (each mean, lo, hi, n, values) and `peak_vs_baseline` / `final_vs_baseline` (`verdict`); `moves_peak` (the
    arms whose mean peak lies above the baseline's interval) and `lowers_peak`; `best_peak_gain` (the headline:
    the largest paired mean gain in gold peak of any mitigation over the baseline) and `best_arm`; `equal_kl`;
    `early_stop` (its gold labels, stop updates); `over_optimisation` (the baseline's peak − final and proxy
    gain); `ci_method`; `timing_s`."""
    arms = [a for a in ARMS if a in cfg.arms or a == "baseline"]
    rl_arms = [a for a in arms if a in RL_ARMS]
    rl = cfg.rlhf
    seeds = [ctx.seed * 1000 + s for s in range(cfg.seeds)]
    steps_per_run = rl.value_warmup + cfg.rl_updates
    total = setup_total(cfg) + len(rl_arms) * len(seeds) * steps_per_run
    timing: dict[str, float] = {}
    clock = time.perf_counter()
    with ctx.progress(total=total, description="mitigations of over-optimisation") as bar, single_thread():
        world = setup(ctx, cfg, bar)
        timing["setup"] = round(time.perf_counter() - clock, 1)
        # prompts: one held-out set for evaluation, another for the gold check, a training stream per seed
        g = torch.Generator(device=world.device).manual_seed(ctx.seed + 3)
        held = world.prompts("val", cfg.eval_prompts + cfg.check_prompts, cfg.prompt_len, g)
        eval_prompts, check_prompts = held[:cfg.eval_prompts], held[cfg.eval_prompts:]
        stream = world.prompts("train", len(seeds) * steps_per_run * rl.batch_size, cfg.prompt_len, g)
        streams = stream.view(len(seeds), steps_per_run * rl.batch_size, -1)
        light = replace(world, prep=None)  # what a worker needs: not the corpus
        jobs = []
        for arm in rl_arms:
            proxy, rcfg = arm_setting(arm, cfg, world)
            for i, seed in enumerate(seeds):
                jobs.append(ArmJob(arm, seed, light, proxy, rcfg, cfg.rl_updates, cfg.eval_every, streams[i],
                                   eval_prompts, check_prompts if arm == "baseline" else None, cfg.samples))
        clock = time.perf_counter()
        runs = run_arms(jobs, cfg.workers, bar)
        timing["rl"] = round(time.perf_counter() - clock, 1)
        timing["rl_run_mean"] = round(sum(r.seconds for r in runs.values()) / len(runs), 1)

    # -- logs: every run's updates and evaluations, one global step --------------------------------------------
    step = 0
    for arm in rl_arms:
        for seed in seeds:
            run = runs[arm, seed]
            pre = f"{arm}/s{seed}/"
            step += 1  # the reference's evaluation (update 0) gets a step of its own
            ctx.log({f"{pre}update": 0, **eval_metrics(run, 0, pre)}, step=step)
            later = {e["update"]: i for i, e in enumerate(run.evals) if i > 0}
            for row in run.rows:
                step += 1
                metrics = {f"{pre}{k}": v for k, v in row.items()}
                if not row["value_warmup"] and row["update"] in later:
                    metrics.update(eval_metrics(run, later[row["update"]], pre))
                ctx.log(metrics, step=step)

    # -- per run: the curve's figures; early stopping read off the baseline --------------------------------------
    per_run: dict[str, list[dict]] = {a: [] for a in arms}
    curves: dict[str, list[list[dict]]] = {a: [] for a in arms}
    stops: list[dict] = []
    for seed in seeds:
        base = runs["baseline", seed]
        for arm in rl_arms:
            run = runs[arm, seed]
            curves[arm].append(run.evals)
            per_run[arm].append(curve_stats(run.evals))
        if EARLY_STOP in arms:
            i = stop_index(base.checks, cfg.patience)
            curves[EARLY_STOP].append(base.evals[:i + 1])
            per_run[EARLY_STOP].append({**curve_stats(base.evals[:i + 1]), "final_gold": base.evals[i]["gold"],
                                        "final_kl": base.evals[i]["kl"], "final_proxy": base.evals[i]["proxy"],
                                        "final_length": base.evals[i]["length"]})
            read = checks_read(len(base.checks), i, cfg.patience)
            stops.append({"seed": seed, "stop_update": base.evals[i]["update"], "stop_kl": base.evals[i]["kl"],
                          "check_gold": base.checks[i],
                          "eval_gold": base.evals[i]["gold"], "checks_read": read,
                          "gold_labels": read * cfg.check_prompts})

    metrics = ("peak_gold", "final_gold", "kl_at_peak", "peak_update", "final_kl", "final_proxy", "final_length",
               "peak_minus_final")
    values = {a: {m: [r[m] for r in per_run[a]] for m in metrics} for a in arms}
    summary_arms: dict[str, dict] = {}
    for arm in arms:
        entry: dict[str, Any] = {"setting": describe_arm(arm, cfg)}
        entry.update({m: ci_entry(values[arm][m]) for m in metrics})
        if arm != "baseline":
            entry["peak_vs_baseline"] = verdict(values[arm]["peak_gold"], values["baseline"]["peak_gold"])
            entry["final_vs_baseline"] = verdict(values[arm]["final_gold"], values["baseline"]["final_gold"])
        summary_arms[arm] = entry
    mitigation_arms = [a for a in rl_arms if a != "baseline"]  # early stopping cannot raise the peak: it truncates
    moves = [a for a in mitigation_arms if summary_arms[a]["peak_vs_baseline"]["beyond_baseline_ci"] == "above"]
    lowers = [a for a in mitigation_arms if summary_arms[a]["peak_vs_baseline"]["beyond_baseline_ci"] == "below"]
    gains = {a: summary_arms[a]["peak_vs_baseline"]["paired_gain"]["mean"] for a in mitigation_arms}
    best_arm = max(gains, key=gains.get) if gains else None

    # -- equal KL: the common level every RL run reaches, and the configured levels ----------------------------------
    reached = [max(e["kl"] for e in run) for a in rl_arms for run in curves[a]]
    common = max(0.0, min(reached))
    levels = {"common": common, **{num_key(k): k for k in cfg.kl_levels}}
    equal_kl: dict[str, dict] = {}
    equal_rows = []
    for name, level in levels.items():
        by_arm = {}
        for arm in arms:
            at = [gold_at_kl([e["kl"] for e in run], [e["gold"] for e in run], level) for run in curves[arm]]
            by_arm[arm] = ci_entry(at)
            equal_rows.append({"level": name, "kl": level, "arm": arm, "gold": by_arm[arm]["mean"],
                               "lo": by_arm[arm]["lo"], "hi": by_arm[arm]["hi"], "seeds_reached": by_arm[arm]["n"]})
        if "baseline" in by_arm:
            for arm in arms:
                if arm != "baseline":
                    at = by_arm[arm]["values"]
                    base_at = by_arm["baseline"]["values"]
                    paired = [a - b if a is not None and b is not None else math.nan
                              for a, b in zip(at, base_at, strict=True)]
                    by_arm[arm]["paired_gain"] = ci_entry(paired)
        equal_kl[name] = {"kl": level, "arms": by_arm}

    # -- curves for the figures and the table: mean and interval over seeds at each evaluation point --------------
    bands: dict[str, dict[str, Any]] = {}
    curve_rows = []
    for arm in arms:
        n_points = min(len(c) for c in curves[arm])  # early stopping's runs end at different evaluations
        band = {"update": [float(np.mean([c[j]["update"] for c in curves[arm]])) for j in range(n_points)]}
        for key in ("gold", "proxy", "kl"):
            t = t_interval(np.array([[c[j][key] for j in range(n_points)] for c in curves[arm]]))
            band[key] = {k: t[k].tolist() for k in ("mean", "lo", "hi")}
        band["runs"] = [[(e["kl"], e["gold"]) for e in c] for c in curves[arm]]
        bands[arm] = band
        for j in range(n_points):
            curve_rows.append({"arm": arm, "update": band["update"][j],
                               **{f"{k}_{s}": band[k][s][j] for k in ("gold", "proxy", "kl") for s in ("mean", "lo",
                                                                                                      "hi")}})
    peaks = {a: {"peak_gold": summary_arms[a]["peak_gold"], "final_gold": summary_arms[a]["final_gold"]} for a in arms}

    # -- samples: the first seed's final responses per arm (early stopping: the baseline at its stop) -------------
    sample_rows = [{"setting": "reference", "text": t, "gold": round(u, 3), "proxy": round(p, 3)}
                   for t, u, p in zip(runs["baseline", seeds[0]].evals[0]["texts"],
                                      runs["baseline", seeds[0]].evals[0]["utility"],
                                      runs["baseline", seeds[0]].evals[0]["proxy_scores"], strict=True)]
    for arm in arms:
        last = curves[arm][0][-1]
        sample_rows += [{"setting": f"{arm} (update {last['update']})", "text": t, "gold": round(u, 3),
                         "proxy": round(p, 3)}
                        for t, u, p in zip(last["texts"], last["utility"], last["proxy_scores"], strict=True)]

    table = []
    for arm in arms:
        s = summary_arms[arm]
        v = s.get("peak_vs_baseline", {})
        table.append({"arm": arm, "setting": s["setting"], "peak_gold": s["peak_gold"]["mean"],
                      "peak_lo": s["peak_gold"]["lo"], "peak_hi": s["peak_gold"]["hi"],
                      "final_gold": s["final_gold"]["mean"], "final_lo": s["final_gold"]["lo"],
                      "final_hi": s["final_gold"]["hi"], "kl_at_peak": s["kl_at_peak"]["mean"],
                      "final_kl": s["final_kl"]["mean"], "final_proxy": s["final_proxy"]["mean"],
                      "final_length": s["final_length"]["mean"],
                      "peak_vs_baseline": v.get("beyond_baseline_ci", "—"),
                      "paired_peak_gain": v.get("paired_gain", {}).get("mean")})
    ctx.log_table("arms", table, caption="Per arm over seeds: the held-out gold peak (max over the run) and final "
                  "gold with their 95% Student-t intervals, the mean KL at the peak and at the end, the final "
                  "ensemble-mean proxy, and whether the arm's mean peak lies outside the baseline's interval "
                  "(with the paired per-seed gain).")
    ctx.log_table("curves", curve_rows, caption="Every evaluation point: gold, proxy (ensemble mean) and KL, mean "
                  "and 95% t-interval over seeds (early stopping up to its earliest stop).")
    ctx.log_table("equal_kl", equal_rows, caption="Gold at equal KL, interpolated on each run's curve where it "
                  "first reaches the level (mean and 95% t-interval over the seeds that reach it); `common` is "
                  "the largest KL every RL run reaches.")
    ctx.log_table("samples", sample_rows, caption="Held-out responses of the first seed: the reference, each arm "
                  "at its end (early stopping: the baseline at its stop), with their gold utility and "
                  "ensemble-mean proxy.")
    if stops:
        ctx.log_table("early_stop", stops, caption="Early stopping per seed: the update the gold check chose, the "
                      "check's gold there and the evaluation's (separate prompts), and the gold labels it used.")
    ctx.log_figure("mitigation_curves", plots.mitigation_curves(bands, stops),
                   caption="Gold and ensemble-mean proxy on held-out prompts against PPO updates and against KL "
                   "from the reference, per arm: mean over seeds with its 95% t-band.")
    ctx.log_figure("mitigation_gold_vs_kl", plots.mitigation_gold_vs_kl(bands, stops),
                   caption="Gold against KL, one panel per arm: every seed's run (thin) and the mean (thick), the "
                   "peaks marked; the baseline's panel also marks where early stopping stopped.")
    ctx.log_figure("mitigation_peaks", plots.mitigation_peaks(peaks),
                   caption="Gold peak and final gold per arm with 95% t-intervals over seeds; the band is the "
                   "baseline's peak interval.")

    baseline = summary_arms["baseline"]
    ctx.summary(
        arms=summary_arms,
        moves_peak=moves,
        lowers_peak=lowers,
        best_peak_gain=gains[best_arm] if best_arm else None,
        best_arm=best_arm,
        equal_kl=equal_kl,
        early_stop={"check_prompts": cfg.check_prompts, "checks": len(runs["baseline", seeds[0]].checks),
                    "patience": cfg.patience,
                    "gold_labels": ci_entry([s["gold_labels"] for s in stops]) if stops else None,
                    "stop_update": ci_entry([s["stop_update"] for s in stops]) if stops else None,
                    "per_seed": stops},
        over_optimisation={"baseline_peak_minus_final": baseline["peak_minus_final"],
                           "baseline_proxy_gain": ci_entry([r[-1]["proxy"] - r[0]["proxy"]
                                                            for r in curves["baseline"]]),
                           "baseline_gold_gain": ci_entry([r[-1]["gold"] - r[0]["gold"] for r in curves["baseline"]])},
        ci_method="Student-t 95% interval over seeds (mean ± t·s/√n); paired gains: t-interval of per-seed "
                  "differences",
        compute={"updates": cfg.rl_updates, "value_warmup": rl.value_warmup, "batch_size": rl.batch_size,
                 "max_new_tokens": rl.max_new_tokens, "seeds": len(seeds), "eval_every": cfg.eval_every,
                 "eval_prompts": cfg.eval_prompts},
        timing_s=timing,
    )
