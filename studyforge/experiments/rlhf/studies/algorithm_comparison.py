"""`rlhf.algorithm_comparison`: PPO vs GRPO vs best-of-n at equal KL, what goes wrong without the KL leash or the
value head's warm start, and what one update costs.

Three ways to get more reward out of the same reference policy π_ref, compared on what they spend — KL from π_ref
— rather than on their knobs:

- **PPO** (Ziegler et al. 2019, arXiv 1909.08593; InstructGPT, arXiv 2203.02155): the reward-model score at the
  end of the response and a per-token penalty −β·(log π − log π_ref) in the reward; a value head; GAE.
- **GRPO** (DeepSeekMath, Shao et al. 2024, arXiv 2402.03300): G responses per prompt, the group-normalised score
  as every token's advantage, no critic; the KL is in the loss, β·k3 averaged over the response's tokens.
  So the same β weighs KL differently in the two (a sum of k1 in the reward against a mean of k3 in the loss):
  that is why the comparison is at equal measured KL, not at equal β. Both runs use the same β, the same
  optimiser settings and the same number of generated tokens per update (GRPO's batch is prompts × G).
- **best-of-n** (no training): n samples of π_ref, the one the proxy scores highest. Its KL is analytic
  (`best_of_n.best_of_n_kl`: KL_BoN = log n − (n − 1)/n, an upper bound when rewards tie), and its proxy and gold
  are estimated without resampling noise from N samples per prompt (`best_of_n.expected_best_of_n`, Gao et al.
  2022, arXiv 2210.10760: every n-subset of the N at once), for n = 1, 2, 4, …, N. Mean and standard error
  over the held-out prompts.

**Held-out evaluation** (`World.evaluate`) of every RL run after each of its first `early_evals` updates (where
it crosses best-of-n's KL range) and every `eval_every` updates after: fresh responses to the same validation
prompts with the same sampling seed each time (common random numbers: at update 0 every run writes the
reference's text), their KL per response (k1: Σ_t log π − log π_ref over the response — an unbiased estimate of
KL(π ‖ π_ref) over responses), proxy score and gold utility (each with its standard error over prompts),
entropy per token, length. One seed: differences within about two standard errors are noise.

**At equal KL** (`common.value_at_kl`): each RL run's held-out curve (KL, gold) and (KL, proxy) is interpolated linearly
between the two evaluations that bracket the KL of each best-of-n point, at the curve's first crossing; a run
that never reaches a KL has no value there. The headline KL is the largest best-of-n KL that both PPO and GRPO
reach. The tokens an RL run generated to get there (rollouts × batch × max_new_tokens, the value warm-up
included) stand beside best-of-n's n × max_new_tokens per response served.

**Failure modes**: PPO with β = 0 (no KL penalty: only the clipping and the learning rate keep it near π_ref),
with a tiny β (`tiny_kl_coef`), and without the value head's warm start (`value_warmup = 0`: the policy moves from
the first rollout while V ≡ 0, so its first advantages are the λ-discounted rewards-to-go) beside the default PPO
run: their held-out curves, and what the text looks like at the end. Degeneracy is measured, not eyeballed:

- entropy per token of the policy on its own responses (a collapsing policy repeats itself);
- `distinct_2` (`distinct_n`): the share of a response's token bigrams that are distinct (Li et al. 2016,
  arXiv 1510.03055, per response) — 1 when no bigram repeats, low for "eeeeee" or "the the the";
- `stop_rate`: the share of responses that end with the stop token (a line break) rather than being cut at
  `max_new_tokens` — a proxy that likes long responses teaches the policy never to stop;
- the gold's own parts: `style` (vowel share) and `fluency` (the share of real words).

The gold is not a judge of good text either: a run of one-letter vowel words ("a a a a", "e e e" — "e" is in the
Shakespeare lexicon) is all vowels and all real words, the gold's maximum (2 with the default equal weights). So
a policy that degenerates into such a loop raises proxy *and* gold; the entropy, distinct-2 and the samples are
what show it.

**Cost** (`RLHFTrainer.cost` / `.timing`), per rollout-and-update of each run: tokens generated, forward passes of
the policy, the reference and the reward model, backward passes of the policy, and seconds spent generating
(sampling and the policy / reference passes), scoring and optimising. Best-of-n's cost per response served is
n samples (n × max_new_tokens tokens) and n reward-model passes, no backward pass, timed per sample here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from pydantic import Field, model_validator

from studyforge.experiments.registry import register
from studyforge.experiments.rl.jobs import single_thread
from studyforge.experiments.rlhf import plots
from studyforge.experiments.rlhf.best_of_n import best_of_n_curve
from studyforge.experiments.rlhf.ppo import RLHFConfig, RLHFTrainer
from studyforge.experiments.rlhf.rollout import sample_responses
from studyforge.experiments.rlhf.studies.common import (
    RLHFStudyConfig,
    World,
    mean_se,
    setup,
    setup_total,
    value_at_kl,
)

# every run's RL settings (the default preset's; quick and full start from them): week 10's small-batch settings
# (kl_reward_tradeoff's) — five runs must fit the budget, and each must travel far enough from the reference to
# cross best-of-n's KL range; GRPO's 32 responses are 4 prompts × 8
RLHF = {"batch_size": 32, "minibatch_size": 32, "update_epochs": 2, "lr": 3e-4, "kl_coef": 0.05, "group_size": 8}
COST_KEYS = ("tokens_generated", "policy_forward", "reference_forward", "reward_forward", "policy_backward")
TIME_KEYS = ("generate_s", "score_s", "optimise_s")
EVAL_KEYS = ("kl", "kl_se", "proxy", "proxy_se", "gold", "gold_se", "gold_style", "gold_fluency", "entropy",
             "length", "stop_rate", "distinct_2")


class AlgorithmComparisonConfig(RLHFStudyConfig):
    rl_updates: int = Field(40, ge=1, description="policy updates per RL run (after PPO's value warm-up)")
    eval_every: int = Field(5, ge=1, description="updates between held-out evaluations of each run")
    early_evals: int = Field(5, ge=0, description="also evaluate after each of the first this many updates (where "
                             "RL crosses best-of-n's KL range)")
    eval_prompts: int = Field(128, ge=8, description="held-out (validation) prompts of every evaluation and of "
                              "best-of-n")
    bon_samples: int = Field(64, ge=2, description="N: reference samples per held-out prompt for best-of-n "
                             "(n = 1, 2, 4, …, N)")
    tiny_kl_coef: float = Field(1e-3, gt=0, description="the 'tiny β' failure mode's KL coefficient")
    samples: int = Field(3, ge=1, description="text samples shown per setting at the end")
    rlhf: RLHFConfig = Field(default_factory=lambda: RLHFConfig(**RLHF), description="the settings of every RL "
                             "run (algo, kl_coef and value_warmup are set per run)")
    presets: ClassVar = {
        "default": {"rlhf": RLHF},
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "rm_pairs": 64, "rm_steps": 10, "rl_updates": 3, "eval_every": 3, "early_evals": 1,
                  "eval_prompts": 16, "bon_samples": 8, "samples": 1,
                  "rlhf": {**RLHF, "batch_size": 16, "minibatch_size": 16, "max_new_tokens": 12, "group_size": 4,
                           "value_warmup": 1}},
        "full": {"d_model": 128, "n_layers": 4, "pretrain_steps": 3000, "rm_pairs": 4096, "rm_steps": 1000,
                 "rl_updates": 300, "eval_every": 20, "eval_prompts": 256, "bon_samples": 256, "samples": 4,
                 "rlhf": {**RLHF, "batch_size": 256, "minibatch_size": 64, "update_epochs": 4, "lr": 1e-4,
                          "group_size": 16}},
    }

    @model_validator(mode="after")
    def _groups_fill_the_batch(self) -> AlgorithmComparisonConfig:
        if self.rlhf.batch_size % self.rlhf.group_size:
            raise ValueError(f"rlhf.batch_size ({self.rlhf.batch_size}) must be a multiple of rlhf.group_size "
                             f"({self.rlhf.group_size}): GRPO generates as many tokens per update as PPO")
        return self


def runs(cfg: AlgorithmComparisonConfig) -> dict[str, RLHFConfig]:
    """The five RL runs: PPO and GRPO at the same β, and PPO's three failure modes."""
    base = cfg.rlhf
    return {"ppo": base.model_copy(update={"algo": "ppo"}),
            "grpo": base.model_copy(update={"algo": "grpo"}),
            "ppo_no_kl": base.model_copy(update={"algo": "ppo", "kl_coef": 0.0}),
            "ppo_tiny_kl": base.model_copy(update={"algo": "ppo", "kl_coef": cfg.tiny_kl_coef}),
            "ppo_no_warmup": base.model_copy(update={"algo": "ppo", "value_warmup": 0})}


# -------------------------------------------------------------------------------------------------
# The measurements (pure functions; the tests check them against known answers).


def distinct_n(tokens: Sequence[int], n: int = 2) -> float:
    """The share of a sequence's n-grams that are distinct: 1 when none repeats (also when it has no n-gram).

    >>> distinct_n([1, 2, 1, 2, 1])  # bigrams 12 21 12 21: two distinct of four
    0.5
    >>> distinct_n([7, 7, 7, 7]), distinct_n([1, 2, 3]), distinct_n([5])
    (0.3333333333333333, 1.0, 1.0)
    """
    grams = [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 1.0


def doubling(big_n: int) -> list[int]:
    """n = 1, 2, 4, … up to N, and N itself: `doubling(12)` -> [1, 2, 4, 8, 12]."""
    ns = [1 << i for i in range(big_n.bit_length()) if 1 << i <= big_n]
    return ns if ns[-1] == big_n else [*ns, big_n]


def degeneracy(tokens: list[list[int]], stop_id: int | None) -> dict[str, float]:
    """Mean distinct-2 of the responses and the share that end with the stop token."""
    return {"distinct_2": sum(distinct_n(t, 2) for t in tokens) / len(tokens),
            "stop_rate": (sum(bool(t) and t[-1] == stop_id for t in tokens) / len(tokens)
                          if stop_id is not None else 0.0)}


def cost_per_update(cost: dict[str, float], timing: dict[str, float], rollouts: int) -> dict[str, float]:
    """The trainer's cumulative counters over `rollouts` rollout-and-update steps, per step."""
    return {**{k: cost[k] / rollouts for k in COST_KEYS}, **{k: timing[k] / rollouts for k in TIME_KEYS}}


def best_of_n_cost(n: int, max_new_tokens: int, per_sample: dict[str, float]) -> dict[str, float]:
    """What serving one best-of-n response costs: n samples, n reward passes, nothing else (sampling is from
    the reference, counted in tokens as the trainer counts it; no training, so no backward pass)."""
    return {"tokens_generated": n * max_new_tokens, "policy_forward": 0, "reference_forward": 0,
            "reward_forward": n, "policy_backward": 0, **{k: n * per_sample[k] for k in TIME_KEYS}}


def sample_rows(setting: str, ev: dict[str, Any], k: int) -> list[dict[str, Any]]:
    """The first k responses of an evaluation as table rows (a line break shown as ⏎, so a stop is visible)."""
    return [{"setting": setting, "sample": ev["texts"][i].replace("\n", "⏎"), "proxy": round(ev["proxy_scores"][i], 3),
             "gold": round(ev["utility"][i], 3)} for i in range(min(k, len(ev["texts"])))]


# -------------------------------------------------------------------------------------------------
# The study.


@register("rlhf.algorithm_comparison", week=10, config=AlgorithmComparisonConfig, headline="matched_kl.gold.ppo")
def algorithm_comparison(ctx, cfg: AlgorithmComparisonConfig) -> None:
    """PPO, GRPO and best-of-n against KL; PPO without the KL penalty, with a tiny one, without the value warm
    start; the cost of an update.

    Logged per rollout-and-update (one global step across runs): each run's training row under `<run>/…` and, at
    each evaluation (`early_evals`, then every `eval_every` updates), its held-out figures under `<run>/eval/…`. Tables: `curves` (every held-out
    evaluation), `best_of_n`, `matched_kl` (every method at each best-of-n KL), `samples`, `cost`. Figures:
    `frontier` (gold and proxy against KL, three methods), `failure_modes` (curves against the update),
    `update_cost`. Summary: `matched_kl` (the headline: gold and proxy of each method at the largest best-of-n
    KL both RL runs reach), `best_of_n` per n, `runs` (each run's final evaluation and gold peak), `reference`,
    `warm_start` (value loss early on, with and without), `cost` per update and per best-of-n response.

    Torch runs on one thread (`rl.jobs.single_thread`): the models are small, and a second thread on a busy
    2-core machine costs more than it gives."""
    with single_thread():
        _algorithm_comparison(ctx, cfg)


def _algorithm_comparison(ctx, cfg: AlgorithmComparisonConfig) -> None:
    settings = runs(cfg)
    steps_of = {name: cfg.rl_updates + (r.value_warmup if r.algo == "ppo" else 0) for name, r in settings.items()}
    total = setup_total(cfg) + sum(steps_of.values()) + 1
    max_new = cfg.rlhf.max_new_tokens
    with ctx.progress(total=total, description="reference, proxy, best-of-n, PPO / GRPO and failure modes") as bar:
        world = setup(ctx, cfg, bar)
        device = world.device
        eval_prompts = world.prompts("val", cfg.eval_prompts, cfg.prompt_len,
                                     torch.Generator(device=device).manual_seed(ctx.seed + 3))

        def evaluate(lm) -> dict[str, Any]:
            # the same prompts and sampling seed at every evaluation: policies compared on common random numbers
            ev = world.evaluate(lm, eval_prompts, max_new, torch.Generator(device=device).manual_seed(ctx.seed + 4))
            return {**ev, **degeneracy(ev["tokens"], world.stop_id), "proxy_se": mean_se(ev["proxy_scores"])[1],
                    "gold_se": mean_se(ev["utility"])[1]}

        reference = evaluate(world.reference)
        bon_rows, bon_sample = best_of_n(world, eval_prompts, cfg, torch.Generator(device=device)
                                         .manual_seed(ctx.seed + 6))
        bar.advance(1, run="best-of-n")

        step = 0
        curves: dict[str, list[dict]] = {}
        finals: dict[str, dict] = {}
        train_rows: dict[str, list[dict]] = {}
        costs: dict[str, dict] = {}
        for name, rcfg in settings.items():
            trainer = RLHFTrainer(world.reference, world.proxy, rcfg, ctx.seed, world.stop_id, device,
                                  gold=world.gold)
            prompt_gen = torch.Generator(device=device).manual_seed(ctx.seed + 5)  # the same prompt stream per run
            n_prompts = rcfg.batch_size // (rcfg.group_size if rcfg.algo == "grpo" else 1)
            curve = [{"update": 0, "rollouts": 0, **{k: reference[k] for k in EVAL_KEYS}}]
            rows = []
            for i in range(steps_of[name]):
                row = trainer.step(world.prompts("train", n_prompts, cfg.prompt_len, prompt_gen))
                step += 1
                ctx.log({f"{name}/{k}": v for k, v in row.items()}, step=step)
                rows.append(row)
                if not row["value_warmup"] and (trainer.updates <= cfg.early_evals or trainer.updates == cfg.rl_updates
                                                or trainer.updates % cfg.eval_every == 0):
                    ev = evaluate(trainer.policy.lm)
                    point = {"update": trainer.updates, "rollouts": i + 1, **{k: ev[k] for k in EVAL_KEYS}}
                    curve.append(point)
                    ctx.log({f"{name}/eval/{k}": v for k, v in point.items()}, step=step)
                bar.advance(1, run=name, gold=round(row["gold"], 3), kl=round(row["kl"], 2))
            curves[name], finals[name], train_rows[name] = curve, ev, rows
            costs[name] = {**cost_per_update(trainer.cost, trainer.timing, steps_of[name]),
                           "tokens_per_rollout": rcfg.batch_size * max_new}

    # -- best-of-n against the two RL curves, at best-of-n's KLs ----------------------------------------------
    matched_rows = []
    for b in bon_rows:
        matched_rows.append({"n": b["n"], "kl": b["kl"], "method": "best_of_n", "gold": b["gold"],
                             "gold_se": b["gold_se"], "proxy": b["proxy"], "proxy_se": b["proxy_se"], "update": 0.0,
                             "tokens_generated": float(b["n"] * max_new)})
        for name in ("ppo", "grpo"):
            at = matched(curves[name], b["kl"], costs[name]["tokens_per_rollout"])
            if at is not None:
                matched_rows.append({"n": b["n"], "kl": b["kl"], "method": name, **at})
    reached = [b for b in bon_rows if all(value_at_kl([p["kl"] for p in curves[m]], [p["kl"] for p in curves[m]],
                                                      b["kl"]) is not None for m in ("ppo", "grpo"))]
    head = reached[-1] if reached else bon_rows[0]
    at_head = {m: matched(curves[m], head["kl"], costs[m]["tokens_per_rollout"]) for m in ("ppo", "grpo")}
    matched_kl = {"kl": head["kl"], "n": head["n"],
                  "gold": {"ppo": at_head["ppo"]["gold"], "grpo": at_head["grpo"]["gold"], "best_of_n": head["gold"]},
                  "gold_se": {"ppo": at_head["ppo"]["gold_se"], "grpo": at_head["grpo"]["gold_se"],
                              "best_of_n": head["gold_se"]},
                  "proxy": {"ppo": at_head["ppo"]["proxy"], "grpo": at_head["grpo"]["proxy"],
                            "best_of_n": head["proxy"]},
                  "tokens_generated": {"ppo": at_head["ppo"]["tokens_generated"],
                                       "grpo": at_head["grpo"]["tokens_generated"],
                                       "best_of_n_per_response": head["n"] * max_new},
                  "reference_gold": reference["gold"], "reference_proxy": reference["proxy"],
                  "how": "each RL curve interpolated linearly between the held-out evaluations that bracket the "
                         "best-of-n KL (first crossing); best-of-n's KL is analytic"}

    # -- tables, figures, summary --------------------------------------------------------------------------
    ctx.log_table("curves", [{"run": name, **p} for name, curve in curves.items() for p in curve],
                  caption="Every held-out evaluation of every run: KL per response from the reference (k1, with its "
                  "standard error), proxy, gold utility and its parts, entropy per token, length, the share of "
                  "responses that stop (a line break) and their distinct-2.")
    ctx.log_table("best_of_n", bon_rows, caption=f"Best-of-n by proxy over {cfg.bon_samples} reference samples per "
                  "held-out prompt: analytic KL, expected proxy and gold of the selected response (all n-subsets), "
                  "mean and standard error over prompts.")
    ctx.log_table("matched_kl", matched_rows, caption="Gold and proxy of each method at each best-of-n KL: RL curves "
                  "interpolated between the evaluations that bracket it (first crossing; missing where a run never "
                  "got there); tokens generated — RL: by its training to get there, best-of-n: per response served.")
    samples = [*sample_rows("reference", reference, cfg.samples),
               *sample_rows(f"best-of-{bon_sample['n']}", bon_sample, cfg.samples),
               *(r for name, ev in finals.items() for r in sample_rows(name, ev, cfg.samples))]
    ctx.log_table("samples", samples, caption=f"The first held-out responses of each setting at the end (after "
                  f"{cfg.rl_updates} updates; the same prompts and sampling seed for every setting), with their proxy "
                  "score and gold utility; ⏎ is the stop token.")
    bon_per_sample = bon_sample["per_sample"]
    cost_rows = [{"method": name, **{k: round(v, 4) for k, v in c.items()}} for name, c in costs.items()]
    bon_cost = {f"n{n}": best_of_n_cost(n, max_new, bon_per_sample) for n in (head["n"], cfg.bon_samples)}
    cost_rows += [{"method": f"best_of_{n}", **{k: round(v, 4) for k, v in best_of_n_cost(n, max_new, bon_per_sample)
                                                 .items()}, "tokens_per_rollout": 0}
                  for n in sorted({head["n"], cfg.bon_samples})]
    ctx.log_table("cost", cost_rows, caption="Per rollout-and-update of each RL run (PPO's value warm-up rollouts "
                  "included) and per response served by best-of-n: tokens generated, forward passes of policy, "
                  "reference and reward model, backward passes, and seconds generating / scoring / optimising.")

    ctx.log_figure("frontier", plots.algorithms_against_kl({m: curves[m] for m in ("ppo", "grpo")}, bon_rows,
                                                           head["kl"]),
                   caption="Gold utility and proxy score against KL from the reference: PPO and GRPO (held-out "
                   "evaluations in update order, same β) and best-of-n (analytic KL, n labelled); the dotted line "
                   "is the headline's matched KL.")
    ctx.log_figure("failure_modes", plots.failure_modes({m: curves[m] for m in
                                                         ("ppo", "ppo_no_kl", "ppo_tiny_kl", "ppo_no_warmup")}),
                   caption=f"PPO (β = {cfg.rlhf.kl_coef:g}, value warm-up {cfg.rlhf.value_warmup} rollouts) beside "
                   f"β = 0, β = {cfg.tiny_kl_coef:g} and no warm start: held-out proxy, gold, KL, entropy, length, "
                   "stop rate, distinct-2 and fluency against the update.")
    ctx.log_figure("update_cost", plots.update_cost(cost_rows),
                   caption="Seconds per rollout-and-update split into generating, scoring and optimising (RL runs) and "
                   "per response served by best-of-n; tokens generated and passes per update.")

    warmup_window = min(cfg.eval_every, cfg.rl_updates)

    def early_value_loss(name: str) -> float:
        policy_rows = [r for r in train_rows[name] if not r["value_warmup"]][:warmup_window]
        return sum(r["value_loss"] for r in policy_rows) / len(policy_rows)

    ctx.summary(
        matched_kl=matched_kl,
        reference={k: reference[k] for k in EVAL_KEYS},
        best_of_n={f"n{b['n']}": b for b in bon_rows},
        runs={name: {"beta": settings[name].kl_coef, "algo": settings[name].algo,
                     "value_warmup": settings[name].value_warmup if settings[name].algo == "ppo" else 0,
                     "final": {k: finals[name][k] for k in EVAL_KEYS}, **gold_peak(curves[name])}
              for name in settings},
        warm_start={"updates_compared": warmup_window,
                    "value_loss_early": {"with": early_value_loss("ppo"), "without": early_value_loss("ppo_no_warmup")},
                    "final_gold": {"with": finals["ppo"]["gold"], "without": finals["ppo_no_warmup"]["gold"]},
                    "final_proxy": {"with": finals["ppo"]["proxy"], "without": finals["ppo_no_warmup"]["proxy"]},
                    "final_kl": {"with": finals["ppo"]["kl"], "without": finals["ppo_no_warmup"]["kl"]}},
        cost={"per_update": costs, "best_of_n_per_response": bon_cost, "best_of_n_per_sample": bon_per_sample,
              "max_new_tokens": max_new, "batch_size": cfg.rlhf.batch_size, "group_size": cfg.rlhf.group_size,
              "update_epochs": cfg.rlhf.update_epochs},
        rl_updates=cfg.rl_updates,
    )


def matched(curve: list[dict], kl: float, tokens_per_rollout: float) -> dict[str, float] | None:
    """An RL run at KL = `kl` (interpolated along its held-out curve): gold, proxy, the update and the tokens
    its rollouts generated to get there; None when it never got there."""
    kls = [p["kl"] for p in curve]
    gold = value_at_kl(kls, [p["gold"] for p in curve], kl)
    if gold is None:
        return None
    rollouts = value_at_kl(kls, [p["rollouts"] for p in curve], kl)
    return {"gold": gold, "gold_se": value_at_kl(kls, [p["gold_se"] for p in curve], kl),
            "proxy": value_at_kl(kls, [p["proxy"] for p in curve], kl),
            "proxy_se": value_at_kl(kls, [p["proxy_se"] for p in curve], kl),
            "update": value_at_kl(kls, [p["update"] for p in curve], kl),
            "tokens_generated": rollouts * tokens_per_rollout}


def gold_peak(curve: list[dict]) -> dict[str, float]:
    """The held-out evaluation of highest gold: its gold, update and KL."""
    best = max(curve, key=lambda p: p["gold"])
    return {"gold_peak": best["gold"], "gold_peak_update": best["update"], "gold_peak_kl": best["kl"]}


@torch.no_grad()
def best_of_n(world: World, prompts: torch.Tensor, cfg: AlgorithmComparisonConfig,
              generator: torch.Generator) -> tuple[list[dict], dict[str, Any]]:
    """N reference samples per prompt, proxy- and gold-scored: the best-of-n curve (`best_of_n_curve`), and the
    best-of-N choice of each prompt's samples (its texts, scores and the measured seconds per sample)."""
    big_n, b, max_new = cfg.bon_samples, len(prompts), cfg.rlhf.max_new_tokens
    t0 = time.perf_counter()
    responses, _, lengths = sample_responses(world.reference, prompts.repeat_interleave(big_n, 0), max_new,
                                             generator, world.stop_id)  # (B·N, T), prompt-major
    t1 = time.perf_counter()
    proxy = world.proxy(prompts.repeat_interleave(big_n, 0), responses, lengths).float().cpu()
    t2 = time.perf_counter()
    _, utility = world.gold.scores(responses, lengths)
    proxy, utility = proxy.view(b, big_n), utility.float().view(b, big_n)
    rows = best_of_n_curve(proxy, utility, doubling(big_n))
    pick = proxy.argmax(1) + torch.arange(b) * big_n  # each prompt's best-of-N, in the flat (B·N) order
    texts = world.gold.texts(responses[pick.to(responses.device)], lengths[pick.to(lengths.device)])
    return rows, {"n": big_n, "texts": texts, "proxy_scores": proxy.max(1).values.tolist(),
                  "utility": utility.view(-1)[pick].tolist(),
                  "per_sample": {"generate_s": (t1 - t0) / (b * big_n), "score_s": (t2 - t1) / (b * big_n),
                                 "optimise_s": 0.0}}
