"""`rlhf.ppo_text_generation`: PPO fine-tunes a week-8 language model against a week-9 reward model — the
InstructGPT recipe at a size a laptop trains, with every curve of its training dynamics.

The world (`common.setup`): a reference model trained on the corpus, a proxy reward model trained on pairs of its
responses labelled by a Bradley–Terry annotator of the gold utility (style + fluency), the gold truth in code.

Two runs from the same reference, the same prompts and seeds:

- **fixed β** — the per-token KL penalty −β·(log π − log π_ref) with β constant (`rlhf.kl_coef`);
- **adaptive β** — Ziegler et al.'s proportional controller steering the measured KL towards `kl_target`.

Logged every update (under `<run>/…`): the proxy score of the rollout, its gold utility (the policy never sees
it) and gold style / fluency, the KL per response by k1 and k3, the entropy per token, PPO's clip fraction,
approx-KL, value loss, the response length and β; the cost counters (tokens generated, forward and backward
passes) and the time split (generate / score / optimise).

Held-out evaluation (validation prompts, fresh samples) of the reference and of each final policy: proxy, gold,
KL with its standard error; and samples of their text side by side. Torch runs on one thread
(`rl.jobs.single_thread`): the models are small, and a second thread costs more than it gains.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from pydantic import Field

from studyforge.experiments.registry import register
from studyforge.experiments.rl.jobs import single_thread
from studyforge.experiments.rlhf import plots
from studyforge.experiments.rlhf.ppo import RLHFTrainer
from studyforge.experiments.rlhf.studies.common import RLHFStudyConfig, setup, setup_total

COST_KEYS = ("tokens_generated", "policy_forward", "policy_backward", "reference_forward", "reward_forward")


class PPOTextGenerationConfig(RLHFStudyConfig):
    kl_target: float = Field(4.0, gt=0, description="the adaptive run's target KL per response (nats)")
    # Ziegler et al.'s 10 000 responses span ~4 000 updates of 512; over 60 updates of 64 a horizon of 256 lets β
    # move up to 5 % per update (K_β = 64/256 times the clipped error 0.2), enough to reach the target
    kl_horizon: float = Field(256, gt=0, description="the adaptive controller's horizon (responses)")
    samples: int = Field(6, ge=1, description="text samples shown per policy")
    presets: ClassVar = {
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "rm_pairs": 64, "rm_steps": 10, "rl_updates": 4, "eval_prompts": 16,
                  "samples": 3, "rlhf": {"batch_size": 16, "minibatch_size": 16, "max_new_tokens": 12,
                                         "update_epochs": 2, "value_warmup": 1, "lr": 3e-3}},
        "full": {"d_model": 128, "n_layers": 4, "pretrain_steps": 3000, "rm_pairs": 4096, "rm_steps": 1000,
                 "rl_updates": 400, "eval_prompts": 512, "rlhf": {"batch_size": 256, "minibatch_size": 64}},
    }


def per_update(row: dict[str, float], previous: dict[str, float] | None, keys, prefix: str) -> dict[str, float]:
    """Counters of one update: the difference of the cumulative `prefix + key` counters from the previous row."""
    return {k: row[f"{prefix}{k}"] - (previous[f"{prefix}{k}"] if previous else 0.0) for k in keys}


@register("rlhf.ppo_text_generation", week=10, config=PPOTextGenerationConfig, headline="gold_gain")
def ppo_text_generation(ctx, cfg: PPOTextGenerationConfig) -> None:
    """PPO against a learned reward with fixed and adaptive β: training dynamics, held-out gains, cost.

    Summary: `reference` and per run (`fixed`, `adaptive`) the held-out `proxy`, `gold`, `kl`; `gold_gain`
    (fixed-β final gold − reference gold, the headline) and `proxy_gain`; `adaptive` also its final β and the
    KL target; `cost` per update (tokens, passes) and `timing` (seconds per update by phase, updates per minute)."""
    runs = {"fixed": cfg.rlhf, "adaptive": cfg.rlhf.model_copy(update={
        "adaptive_kl": True, "kl_target": cfg.kl_target, "kl_horizon": cfg.kl_horizon})}
    total = setup_total(cfg) + len(runs) * (cfg.rl_updates + cfg.rlhf.value_warmup)
    with single_thread(), ctx.progress(total=total, description="reference, proxy, PPO fixed and adaptive β") as bar:
        world = setup(ctx, cfg, bar)
        eval_gen = torch.Generator(device=world.device).manual_seed(ctx.seed + 3)
        eval_prompts = world.prompts("val", cfg.eval_prompts, cfg.prompt_len, eval_gen)
        ref_eval = world.evaluate(world.reference, eval_prompts, cfg.rlhf.max_new_tokens,
                                  torch.Generator(device=world.device).manual_seed(ctx.seed + 4))
        histories, finals, trainers = {}, {}, {}
        step = 0
        for name, rcfg in runs.items():
            trainer = RLHFTrainer(world.reference, world.proxy, rcfg, ctx.seed, world.stop_id, world.device,
                                  gold=world.gold)
            prompt_gen = torch.Generator(device=world.device).manual_seed(ctx.seed + 5)  # same prompts per run
            rows = []
            for _ in range(rcfg.value_warmup + cfg.rl_updates):
                row = trainer.step(world.prompts("train", rcfg.batch_size, cfg.prompt_len, prompt_gen))
                step += 1
                ctx.log({f"{name}/{k}": v for k, v in row.items()}, step=step)
                if not row["value_warmup"]:
                    rows.append(row)
                bar.advance(1, run=name, gold=round(row["gold"], 3), kl=round(row["kl"], 2))
            histories[name], trainers[name] = rows, trainer
            finals[name] = world.evaluate(trainer.policy.lm, eval_prompts, rcfg.max_new_tokens,
                                          torch.Generator(device=world.device).manual_seed(ctx.seed + 4))

    headline = ("proxy", "gold", "gold_style", "gold_fluency", "kl", "kl_se", "length")
    ctx.log_figure("training_dynamics", plots.training_dynamics(histories))
    cost_rows, timing = [], {}
    for name, trainer in trainers.items():
        n = trainer.updates + trainer.cfg.value_warmup
        seconds = {k: v / n for k, v in trainer.timing.items()}
        cost_rows.append({"run": name, **seconds})
        timing[name] = {**{k: round(v, 4) for k, v in seconds.items()},
                        "updates_per_minute": 60.0 / max(sum(seconds.values()), 1e-9)}
    ctx.log_figure("cost_split", plots.cost_split(cost_rows))
    fixed = trainers["fixed"]
    per = {k: v / (fixed.updates + fixed.cfg.value_warmup) for k, v in fixed.cost.items()}
    ctx.log_table("heldout", [{"policy": "reference", **{k: ref_eval[k] for k in headline}}]
                  + [{"policy": name, **{k: f[k] for k in headline}} for name, f in finals.items()])
    sample_rows = []
    for policy, ev in [("reference", ref_eval), *finals.items()]:
        for i in range(min(cfg.samples, len(ev["texts"]))):
            sample_rows.append({"policy": policy, "text": ev["texts"][i], "proxy": round(ev["proxy_scores"][i], 3),
                                "gold": round(ev["utility"][i], 3)})
    ctx.log_table("samples", sample_rows)
    ctx.log_table("cost_per_update", [{"run": r["run"], **{k: round(v, 4) for k, v in r.items() if k != "run"}}
                                      for r in cost_rows])
    ctx.summary(
        reference={k: ref_eval[k] for k in headline},
        fixed={k: finals["fixed"][k] for k in headline} | {"beta": cfg.rlhf.kl_coef},
        adaptive={k: finals["adaptive"][k] for k in headline} | {
            "final_beta": trainers["adaptive"].beta, "kl_target": cfg.kl_target,
            "rollout_kl_last": histories["adaptive"][-1]["kl"] if histories["adaptive"] else None},
        gold_gain=finals["fixed"]["gold"] - ref_eval["gold"],
        proxy_gain=finals["fixed"]["proxy"] - ref_eval["proxy"],
        cost={"per_update": per, "batch_size": cfg.rlhf.batch_size, "max_new_tokens": cfg.rlhf.max_new_tokens,
              "update_epochs": cfg.rlhf.update_epochs},
        timing=timing, updates=cfg.rl_updates)
