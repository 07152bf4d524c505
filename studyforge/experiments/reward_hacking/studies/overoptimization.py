"""`reward_hacking.overoptimization`: Goodhart's law measured — the gold reward of a policy optimised against a
learned proxy rises, then falls, as it moves away from the reference; Gao, Schulman & Hilton, 2022, "Scaling Laws
for Reward Model Overoptimization", arXiv 2210.10760, at a size two CPU cores train.

The world: week 10's reference model and gold truth (`rlhf.studies.common`: the annotator's utility u = style +
fluency). What is measured:

- **Proxies of growing data.** One set of reference responses in pairs, labelled by the Bradley–Terry annotator
  of u (scale s = `bt_scale`); a proxy reward model (`rlhf.reward.train_proxy`, started from the reference) is
  trained on the first n of them for each n in `rm_sizes` (nested subsets, the same steps each), and scored
  on held-out pairs (validation prompts) by its accuracy against the gold utility.
- **Best-of-n.** `bon_samples` = N responses of the reference to each of `eval_prompts` held-out prompts, each
  scored by gold and by every proxy. The gold and proxy of best-of-n by each proxy, for n = 1 … N on a log
  grid (`overoptimization.bon_grid`), by Gao et al.'s unbiased estimator over all n-subsets
  (`rlhf.best_of_n.expected_best_of_n`), at d = √KL_BoN(n) = √(log n − (n − 1)/n).
- **RL.** PPO (week 10's `RLHFTrainer`, a small β = `rlhf.kl_coef`) against each proxy for `rl_updates` updates;
  every `eval_every` updates the policy answers the same held-out prompts (`eval_repeats` fresh responses each):
  KL per response from the reference (k1) → d = √KL, proxy and gold (`World.evaluate`).
- **Fits.** Gold relative to the reference's gold on those prompts (R(0) = 0) against d, fitted by least squares
  with R_BoN(d) = d(α − β d) and R_RL(d) = d(α − β log d) (`overoptimization.fit_overoptimization`): α, β, R²,
  and the d* where the fitted gold peaks. The proxy is put on the gold's scale as (r − r_ref)/k, k the ratio of
  the proxy's to the gold's within-prompt spread on the reference's samples (`overoptimization.units_per_gold`)
  — what it believes the gold gain is — so "proxy − gold" is the gap Goodhart's law opens.
- **The exploit.** The RL policy whose proxy most overstates its gold at its last evaluation ("the most
  over-optimised") is read: samples with proxy, gold style, gold fluency and length beside the reference's and
  best-of-N's, and measured text statistics (share of responses without a stop, vowel share, longest vowel run,
  repeated character 3-grams, entropy per token) against the reference's.

The proxy is never told about the gold; the policy never sees it. Everything is from one seed: how the curves
move with the proxy's data is a measurement at that seed, not a law (`--seeds` repeats it).
"""

from __future__ import annotations

import math
import time
from typing import ClassVar

import torch
from pydantic import Field

from studyforge.errors import ForgeError
from studyforge.experiments.keys import num_key
from studyforge.experiments.preference.data import Annotator
from studyforge.experiments.preference.gold import weights_vector
from studyforge.experiments.preference.reward_model import RewardTrainConfig, evaluate
from studyforge.experiments.preference.studies.common import setup as preference_setup
from studyforge.experiments.registry import register
from studyforge.experiments.reward_hacking import plots
from studyforge.experiments.reward_hacking.overoptimization import (
    bon_grid,
    fit_overoptimization,
    proxy_in_gold_units,
    text_stats,
    units_per_gold,
)
from studyforge.experiments.rl.jobs import single_thread
from studyforge.experiments.rlhf.best_of_n import best_of_n_curve, best_of_n_kl
from studyforge.experiments.rlhf.ppo import RLHFTrainer
from studyforge.experiments.rlhf.reward import GoldScore, ProxyReward, sample_labelled_pairs, train_proxy
from studyforge.experiments.rlhf.rollout import sample_responses
from studyforge.experiments.rlhf.studies.common import RLHFStudyConfig, World, stop_token

SCORE_CHUNK = 1024  # responses per reward-model forward pass when scoring the best-of-n pool


class OveroptimizationConfig(RLHFStudyConfig):
    """Week 10's world; `rm_sizes` replaces `rm_pairs` (one proxy per size), `eval_prompts` are the held-out
    prompts best-of-n and the RL evaluations answer."""

    rm_sizes: list[int] = Field([128, 512, 2048], min_length=3, description="labelled pairs of each proxy "
                                "(nested subsets of one labelled set)")
    rm_steps: int = Field(200, ge=1, description="training steps of every proxy (the same for each size)")
    heldout_pairs: int = Field(512, ge=8, description="held-out labelled pairs (validation prompts) scoring each "
                               "proxy against the gold")
    eval_prompts: int = Field(64, ge=2, description="held-out prompts of best-of-n and the RL evaluations")
    bon_samples: int = Field(256, ge=2, description="N: reference responses per held-out prompt (best-of-n up to N)")
    eval_every: int = Field(4, ge=1, description="RL: evaluate every this many policy updates (and at 0 and the end)")
    eval_repeats: int = Field(4, ge=1, description="RL: fresh responses per held-out prompt at each evaluation")
    samples: int = Field(6, ge=1, description="text samples shown per setting in the exploit table")
    rl_updates: int = Field(40, ge=1, description="PPO updates against each proxy")
    presets: ClassVar = {
        "default": {"rlhf": {"kl_coef": 0.01}},
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "rm_sizes": [16, 32, 64], "rm_steps": 10, "heldout_pairs": 32,
                  "eval_prompts": 8, "bon_samples": 32, "rl_updates": 4, "eval_every": 2, "eval_repeats": 2,
                  "samples": 2, "rlhf": {"kl_coef": 0.01, "batch_size": 16, "minibatch_size": 16,
                                         "max_new_tokens": 12, "update_epochs": 2, "value_warmup": 1}},
        "full": {"d_model": 128, "n_layers": 4, "pretrain_steps": 3000, "rm_sizes": [256, 1024, 4096, 16384],
                 "rm_steps": 2000, "heldout_pairs": 2048, "eval_prompts": 256, "bon_samples": 1024,
                 "rl_updates": 400, "eval_every": 20,
                 "rlhf": {"kl_coef": 0.01, "batch_size": 256, "minibatch_size": 64}},
    }


def size_key(pairs: int) -> str:
    """The summary key of the proxy trained on `pairs` pairs: `pairs512`."""
    return f"pairs{num_key(pairs)}"


@torch.no_grad()
def score_pool(proxy: ProxyReward, prompts: torch.Tensor, responses: torch.Tensor,
               lengths: torch.Tensor) -> torch.Tensor:
    """The proxy's scores (B,) of a large pool of responses, SCORE_CHUNK at a time."""
    return torch.cat([proxy(prompts[i:i + SCORE_CHUNK], responses[i:i + SCORE_CHUNK], lengths[i:i + SCORE_CHUNK])
                      for i in range(0, len(prompts), SCORE_CHUNK)]).float().cpu()


def rl_point(pairs: int, update: int, ev: dict, ref_gold: float, ref_proxy: float, units: float) -> dict:
    """One RL evaluation (`World.evaluate`'s figures) as a point of the curves: d = √KL (a k1 mean that noise
    puts just below 0 counts as 0), the gold gain over the reference (with the standard error of the mean over
    responses) and the proxy's belief (r − r_ref)/k."""
    utility = torch.tensor(ev["utility"], dtype=torch.float64)
    return {"pairs": pairs, "update": update, "kl": ev["kl"], "kl_se": ev["kl_se"], "d": math.sqrt(max(ev["kl"], 0.0)),
            "proxy": ev["proxy"], "gold": ev["gold"], "gold_gain": ev["gold"] - ref_gold,
            "gold_se": float(utility.std() / math.sqrt(len(utility))),
            "proxy_gain": proxy_in_gold_units(ev["proxy"], ref_proxy, units), "gold_style": ev["gold_style"],
            "gold_fluency": ev["gold_fluency"], "length": ev["length"], "entropy": ev["entropy"]}


@register("reward_hacking.overoptimization", week=12, config=OveroptimizationConfig, headline="gold_drop")
def overoptimization(ctx, cfg: OveroptimizationConfig) -> None:
    """Best-of-n and PPO against proxies trained on growing data: gold and proxy against d = √KL, Gao et al.'s
    functional forms fitted to the gold, and the text of the exploit.

    Logged: each proxy's training (`rm/pairs<n>/…`), each PPO update (`rl/pairs<n>/…`: the trainer's row) and each
    RL evaluation (`rl/pairs<n>/eval/…`: kl, d, proxy and gold, raw and relative), one global step. Tables:
    `proxies` (held-out accuracy and fits), `best_of_n` and `rl` (every point of every curve), `fits`,
    `exploit_samples`, `exploit_stats`. Figures: `overoptimization` (gold points, fitted line and dashed proxy
    against d; BoN and RL panels), `overoptimization_by_size`.

    Summary: per proxy (`proxies.pairs<n>`) its held-out accuracy and, under `bon` and `rl`, the fit
    (α, β, R², d*, R(d*)), the measured gold peak and the end point (d, proxy, gold, gap); `by_size` lists the
    same figures in size order; `exploit` the chosen policy and the text statistics beside the reference's;
    `gold_drop` (the headline) is the RL run against the smallest proxy: its best measured gold minus its final
    gold (> 0: the gold turned down — compare with `gold_drop_se`: the best of several noisy points is biased up); `reference`; `bon` (N, n_max, d_max); `timing_s` (wall) and `cpu_s`
    (this process's CPU time) per phase."""
    if cfg.reward_model:
        raise ForgeError("reward_hacking.overoptimization trains its own proxies (one per rm_sizes entry)",
                         hint="drop --set reward_model=…; a week-9 reward model fits rlhf.* studies")
    sizes = sorted(set(cfg.rm_sizes))
    rl = cfg.rlhf
    n_evals = 2 + (cfg.rl_updates - 1) // cfg.eval_every  # at 0, every eval_every updates, at the end
    total = ((0 if cfg.reference else cfg.pretrain_steps) + len(sizes) * cfg.rm_steps * cfg.rm_members + 1
             + len(sizes) * (rl.value_warmup + cfg.rl_updates + n_evals))
    timing: dict[str, float] = {}  # wall seconds per phase
    cpu: dict[str, float] = {}  # this process's CPU seconds per phase (what a shared machine does not inflate)
    clock = {"wall": time.perf_counter(), "cpu": time.process_time()}

    def lap(phase: str) -> None:
        now = {"wall": time.perf_counter(), "cpu": time.process_time()}
        timing[phase] = round(now["wall"] - clock["wall"], 2)
        cpu[phase] = round(now["cpu"] - clock["cpu"], 2)
        clock.update(now)

    global_step = 0
    # one torch thread: on a shared 2-core machine two threads per process mostly wait for each other
    with ctx.progress(total=total, description="over-optimisation") as bar, single_thread():
        # -- the world: reference, gold, held-out prompts ------------------------------------------------------
        prep = preference_setup(ctx, cfg, bar)
        device = prep.device
        stop_id = stop_token(prep.tokenizer, rl.stop)
        gold = GoldScore(prep.gold, cfg.gold_weights, prep.tokenizer.decode)
        annotator = Annotator(weights=cfg.gold_weights, scale=cfg.bt_scale)
        lap("reference")

        # -- proxies on nested subsets of one labelled set ------------------------------------------------------
        g = torch.Generator(device=device).manual_seed(ctx.seed + 17)
        heldout = sample_labelled_pairs(prep.reference, prep.prompts("val", cfg.heldout_pairs, cfg.prompt_len, g),
                                        rl.max_new_tokens, stop_id, gold, annotator, g)
        pool = sample_labelled_pairs(prep.reference, prep.prompts("train", sizes[-1], cfg.prompt_len, g),
                                     rl.max_new_tokens, stop_id, gold, annotator, g)
        rm_cfg = RewardTrainConfig(steps=cfg.rm_steps, batch_size=32, lr=3e-4)
        proxies: dict[int, ProxyReward] = {}
        summary: dict[str, dict] = {}
        for n in sizes:
            def on_step(step: int, row: dict[str, float], n=n) -> None:
                nonlocal global_step
                global_step += 1
                ctx.log({f"rm/{size_key(n)}/{k}": v for k, v in row.items()}, step=global_step)
                bar.advance(1, proxy=f"{n} pairs")

            rm = train_proxy(prep.reference, pool.subset(torch.arange(n)), rm_cfg, ctx.seed, cfg.rm_members,
                             device, on_step)
            proxies[n] = ProxyReward(rm)
            metrics = evaluate(rm, heldout, cfg.gold_weights, device)
            summary[size_key(n)] = {"pairs": n, "heldout_gold_accuracy": metrics["gold_accuracy"],
                                    "heldout_label_accuracy": metrics["label_accuracy"]}
        lap("proxies")

        # -- best-of-n: N reference responses per held-out prompt, every proxy and the gold ---------------------
        eval_gen = torch.Generator(device=device).manual_seed(ctx.seed + 3)
        prompts = prep.prompts("val", cfg.eval_prompts, cfg.prompt_len, eval_gen)  # (P, L)
        big_n = cfg.bon_samples
        pool_prompts = prompts.repeat_interleave(big_n, 0)  # (P·N, L)
        responses, _, lengths = sample_responses(prep.reference, pool_prompts, rl.max_new_tokens, eval_gen, stop_id)
        gold_parts, utility = gold.scores(responses, lengths)  # (P·N, M), (P·N,)
        ref_gold = float(utility.mean())
        bon_gold = utility.view(cfg.eval_prompts, big_n)
        ns = bon_grid(big_n)
        bon_rows: list[dict] = []
        bon_scores: dict[int, torch.Tensor] = {}
        ref_proxy: dict[int, float] = {}
        units: dict[int, float] = {}
        for n in sizes:
            scores = score_pool(proxies[n], pool_prompts, responses, lengths)
            bon_scores[n] = scores.view(cfg.eval_prompts, big_n)
            ref_proxy[n] = float(scores.mean())
            units[n] = units_per_gold(bon_scores[n], bon_gold)
            summary[size_key(n)]["units_per_gold"] = units[n]
            for row in best_of_n_curve(bon_scores[n], bon_gold, ns):
                bon_rows.append({"pairs": n, **row, "gold_gain": row["gold"] - ref_gold,
                                 "proxy_gain": proxy_in_gold_units(row["proxy"], ref_proxy[n], units[n])})
        bar.advance(1, phase="best-of-n")
        lap("best_of_n")

        # -- RL: PPO against each proxy, evaluated on the held-out prompts ---------------------------------------
        eval_prompts = prompts.repeat_interleave(cfg.eval_repeats, 0)
        rl_rows: list[dict] = []
        finals: dict[int, dict] = {}
        firsts: dict[int, dict] = {}
        for n in sizes:
            world = World(prep.reference, prep.tokenizer, gold, proxies[n], stop_id, device, prep, {})
            trainer = RLHFTrainer(prep.reference, proxies[n], rl, ctx.seed, stop_id, device, gold=gold)
            prompt_gen = torch.Generator(device=device).manual_seed(ctx.seed + 5)  # the same prompts per proxy
            # evaluations at update 0, every eval_every updates and at the end
            due = [0, *range(cfg.eval_every, cfg.rl_updates, cfg.eval_every), cfg.rl_updates]
            for i in range(rl.value_warmup + cfg.rl_updates + 1):
                if i > 0:
                    row = trainer.step(prep.prompts("train", rl.batch_size, cfg.prompt_len, prompt_gen))
                    global_step += 1
                    ctx.log({f"rl/{size_key(n)}/{k}": v for k, v in row.items()}, step=global_step)
                    bar.advance(1, proxy=f"{n} pairs", gold=round(row["gold"], 3), kl=round(row["kl"], 2))
                    if row["value_warmup"]:
                        continue
                if trainer.updates not in due:
                    continue
                ev = world.evaluate(trainer.policy.lm, eval_prompts, rl.max_new_tokens,
                                    torch.Generator(device=device).manual_seed(ctx.seed + 4))
                point = rl_point(n, trainer.updates, ev, ref_gold, ref_proxy[n], units[n])
                rl_rows.append(point)
                ctx.log({f"rl/{size_key(n)}/eval/{k}": v for k, v in point.items() if k != "pairs"},
                        step=global_step)
                bar.advance(1)
                if trainer.updates == 0:
                    firsts[n] = ev
                finals[n] = ev
        lap("rl")

    # -- fits and what changes with the proxy's data --------------------------------------------------------------
    curves: dict[str, dict] = {}
    fit_rows: list[dict] = []
    for n in sizes:
        entry = summary[size_key(n)]
        label = f"{n} pairs (acc {entry['heldout_gold_accuracy']:.2f})"
        curves[label] = {}
        for method, rows in (("bon", [r for r in bon_rows if r["pairs"] == n]),
                             ("rl", [r for r in rl_rows if r["pairs"] == n])):
            fit = fit_overoptimization([r["d"] for r in rows], [r["gold_gain"] for r in rows], method)
            best = max(rows, key=lambda r: r["gold_gain"])
            end = rows[-1]
            entry[method] = {
                "fit": {k: v for k, v in fit.as_dict().items() if k != "method"},
                "measured_peak": {"gold_gain": best["gold_gain"], "gold_se": best["gold_se"], "d": best["d"],
                                  ("n" if method == "bon" else "update"): best["n" if method == "bon" else "update"]},
                "end": {"d": end["d"], "proxy_gain": end["proxy_gain"], "gold_gain": end["gold_gain"],
                        "gold_se": end["gold_se"], "gap": end["proxy_gain"] - end["gold_gain"]},
                "gold_drop": best["gold_gain"] - end["gold_gain"],
                # the two estimates share prompts (and, for best-of-n, samples), so errors correlate positively:
                # the independent-errors standard error of their difference is an upper bound
                "gold_drop_se": math.hypot(best["gold_se"], end["gold_se"]) if best is not end else 0.0}
            curves[label][method] = {"d": [r["d"] for r in rows], "gold": [r["gold_gain"] for r in rows],
                                     "proxy": [r["proxy_gain"] for r in rows], "fit": fit}
            fit_rows.append({"pairs": n, "method": method, **{k: v for k, v in fit.as_dict().items()
                                                              if k != "method"},
                             "measured_peak_gold": best["gold_gain"], "measured_peak_d": best["d"],
                             "end_d": end["d"], "end_gap": end["proxy_gain"] - end["gold_gain"]})

    by_size = {"pairs": sizes,
               "heldout_gold_accuracy": [summary[size_key(n)]["heldout_gold_accuracy"] for n in sizes]}
    for method in ("bon", "rl"):
        by_size[method] = {
            "end_gap": [summary[size_key(n)][method]["end"]["gap"] for n in sizes],
            "end_gold_gain": [summary[size_key(n)][method]["end"]["gold_gain"] for n in sizes],
            "measured_peak_gold": [summary[size_key(n)][method]["measured_peak"]["gold_gain"] for n in sizes],
            "measured_peak_d": [summary[size_key(n)][method]["measured_peak"]["d"] for n in sizes],
            "fit_d_peak": [summary[size_key(n)][method]["fit"]["d_peak"] for n in sizes]}
        gaps = by_size[method]["end_gap"]
        by_size[method]["gap_shrinks_with_data"] = all(a > b for a, b in zip(gaps, gaps[1:], strict=False))

    # -- the exploit: the RL policy whose proxy most overstates its gold -------------------------------------------
    worst = max(sizes, key=lambda n: summary[size_key(n)]["rl"]["end"]["gap"])
    reference_ev, policy_ev = firsts[worst], finals[worst]
    best_idx = bon_scores[worst].argmax(1)  # best-of-N's pick per prompt, by this proxy
    pick = torch.arange(cfg.eval_prompts) * big_n + best_idx
    bon_texts = gold.texts(responses[pick], lengths[pick])
    weights = weights_vector(prep.gold.names, cfg.gold_weights)
    sample_rows = []
    for setting, texts, proxy_scores in (
            ("reference", reference_ev["texts"], reference_ev["proxy_scores"]),
            (f"best-of-{big_n}", bon_texts, bon_scores[worst].max(1).values.tolist()),
            (f"PPO, {cfg.rl_updates} updates", policy_ev["texts"], policy_ev["proxy_scores"])):
        texts = texts[:cfg.samples]
        parts = prep.gold.score(texts)
        for i, text in enumerate(texts):
            sample_rows.append({"setting": setting, "text": text, "proxy": round(proxy_scores[i], 3),
                                "gold": round(float(parts[i] @ weights), 3),
                                **{f"gold_{name}": round(float(parts[i, j]), 3)
                                   for j, name in enumerate(prep.gold.names)},
                                "chars": len(text)})
    stats = {name: {**text_stats(ev["texts"], rl.stop), "length_tokens": ev["length"], "entropy": ev["entropy"],
                    "gold_style": ev["gold_style"], "gold_fluency": ev["gold_fluency"]}
             for name, ev in (("reference", reference_ev), ("policy", policy_ev))}
    stats["best_of_n"] = {**text_stats(bon_texts, rl.stop), "length_tokens": float(lengths[pick].float().mean()),
                          **{f"gold_{name}": float(gold_parts[pick, i].mean())
                             for i, name in enumerate(prep.gold.names)}}

    ctx.log_table("proxies", [{"pairs": n, **{k: v for k, v in summary[size_key(n)].items()
                                              if k in ("heldout_gold_accuracy", "heldout_label_accuracy")}}
                              for n in sizes],
                  caption="Each proxy reward model: labelled pairs trained on, held-out accuracy against the gold "
                  "utility and against the annotator's (noisy) labels.")
    ctx.log_table("best_of_n", bon_rows, caption=f"Best-of-n by each proxy from {big_n} reference responses per "
                  f"held-out prompt ({cfg.eval_prompts} prompts): d = √KL_BoN, the expected proxy and gold of the "
                  "pick, and both as gains over the reference on the gold's scale.")
    ctx.log_table("rl", rl_rows, caption="PPO against each proxy, evaluated on the held-out prompts: KL per "
                  "response (k1, with its standard error), d = √KL, proxy and gold, gains over the reference.")
    ctx.log_table("fits", fit_rows, caption="Least-squares fits of R_BoN(d) = d(α − βd) and R_RL(d) = "
                  "d(α − β log d) to the gold gains: α, β, R², the d* and R(d*) of the fitted peak (empty: β ≤ 0, no "
                  "peak), beside the measured best point and the proxy − gold gap at the last point.")
    ctx.log_table("exploit_samples", sample_rows,
                  caption=f"Text of the most over-optimised setting — PPO against the {worst}-pair proxy, whose "
                  f"proxy most overstates its gold — beside the reference's and best-of-{big_n}'s by that proxy "
                  "(proxy: its raw score; gold: the utility, with its parts; chars: length in characters).")
    ctx.log_table("exploit_stats", [{"setting": k, **v} for k, v in stats.items()],
                  caption="Measured text statistics of the reference, best-of-N and the over-optimised PPO policy on "
                  "the held-out prompts (means over responses).")
    ctx.log_figure("overoptimization", plots.overoptimization(curves),
                   caption="Gold gain over the reference (points) with the fitted functional form (line) and the "
                   "proxy's belief (r − r_ref)/k (dashed), against d = √KL: best-of-n (left), PPO (right), one colour "
                   "per proxy size.")
    ctx.log_figure("overoptimization_by_size", plots.overoptimization_by_size(by_size),
                   caption="Against the proxy's training pairs: held-out gold accuracy, the proxy − gold gap at the "
                   "largest n and at the end of RL, and the best gold gain measured.")
    smallest = summary[size_key(sizes[0])]["rl"]
    ctx.summary(
        proxies=summary, by_size=by_size,
        gold_drop=smallest["gold_drop"], gold_drop_se=smallest["gold_drop_se"],
        reference={"gold": ref_gold, **{f"gold_{name}": float(gold_parts[:, i].mean())
                                        for i, name in enumerate(prep.gold.names)},
                   "length_tokens": float(lengths.float().mean()),
                   "proxy": {size_key(n): ref_proxy[n] for n in sizes}},
        bon={"samples_per_prompt": big_n, "prompts": cfg.eval_prompts, "n_max": big_n,
             "d_max": math.sqrt(best_of_n_kl(big_n))},
        rl={"updates": cfg.rl_updates, "kl_coef": rl.kl_coef, "batch_size": rl.batch_size,
            "eval_responses": len(eval_prompts)},
        exploit={"pairs": worst, "setting": f"PPO against the {worst}-pair proxy, after {cfg.rl_updates} updates",
                 **stats},
        timing_s=timing, cpu_s=cpu)
