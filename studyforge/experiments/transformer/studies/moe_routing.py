"""`transformer.moe_routing`: how a mixture of experts spreads its tokens, with and without a balance loss.

A router sends each token to its top-k experts (Shazeer et al., arXiv:1701.06538); each expert takes at most
C = ⌈capacity_factor · k · tokens / N⌉ of them and drops the rest. Left alone, routing collapses onto a few
experts; the Switch Transformer's balance loss α·N·Σᵢ fᵢ·Pᵢ (fᵢ the share of tokens sent to expert i, Pᵢ its
mean router probability; Fedus et al., arXiv:2101.03961) pulls it back to uniform, and the router z-loss
(ST-MoE, arXiv:2202.08906) keeps the router's logits small.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.language_modeling.harness import TrainResult, finite_or_none, train_logged
from studyforge.experiments.registry import register
from studyforge.experiments.transformer import plots
from studyforge.experiments.transformer.studies.common import (
    QUICK_SHAPE,
    LMStudyConfig,
    base_model,
    corpus_summary,
    load_corpus,
    train_cfg,
)


class MoEConfigStudy(LMStudyConfig):
    n_experts: int = Field(4, ge=2, description="experts per MoE layer")
    top_k: int = Field(1, ge=1, description="experts per token")
    capacity_factor: float = Field(1.25, gt=0, description="expert capacity factor while training")
    balance_coef: float = Field(0.01, ge=0, description="α of the Switch balance loss in the balanced run")
    z_loss_coef: float = Field(1e-3, ge=0, description="β of the router z-loss")
    log_every: int = Field(5, ge=1, description="record expert load every this many steps")
    presets: ClassVar = {"quick": {**QUICK_SHAPE, "steps": 12, "warmup": 3, "eval_every": 0, "log_every": 2},
                         "full": {"d_model": 256, "n_layers": 6, "n_heads": 8, "seq_len": 256, "batch_size": 32,
                                  "steps": 5000, "warmup": 200, "lr": 1e-3, "n_experts": 8, "eval_every": 500,
                                  "eval_windows": 400, "log_every": 20}}


@register("transformer.moe_routing", week=5, config=MoEConfigStudy, headline="runs.moe_balanced.dropped_fraction_mean")
def moe_routing(ctx, cfg: MoEConfigStudy) -> None:
    """MoE routing: expert load, dropped tokens and the balance loss, against a dense model.

    Three models on the same data: a dense model; an MoE model (top-k routing over `n_experts` experts,
    each as wide as the dense feed-forward, so the parameters a token uses are the dense model's plus a
    router) trained with the Switch load-balancing loss α·N·Σ fᵢ·Pᵢ and the router z-loss; and the same MoE
    model with α = 0. Recorded over training: each expert's share of the routed tokens (layer 0 and the
    mean imbalance over layers), the fraction of assignments dropped at the capacity limit, the balance
    loss; at the end, validation loss and parameter counts.
    """
    data = load_corpus(cfg)
    moe = {"n_experts": cfg.n_experts, "top_k": cfg.top_k, "capacity_factor": cfg.capacity_factor,
           "z_loss_coef": cfg.z_loss_coef}
    runs = {"dense": {}, "moe_balanced": {"ffn": "moe", "moe": {**moe, "balance_coef": cfg.balance_coef}},
            "moe_no_balance_loss": {"ffn": "moe", "moe": {**moe, "balance_coef": 0.0}}}
    traces: dict[str, dict[str, list]] = {}
    results: dict[str, TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(runs), description="moe routing") as bar:
        for name, overrides in runs.items():
            trace = traces[name] = {"step": [], "load0": [], "imbalance": [], "dropped": [], "balance": []}

            def on_step(trainer, row, trace=trace, name=name):
                layers = trainer.model.moe_layers()
                if not layers or trainer.step % cfg.log_every:
                    return
                loads = torch.stack([m.last_stats["load"] for m in layers])  # (layers, N)
                trace["step"].append(trainer.step)
                trace["load0"].append(loads[0].tolist())
                # imbalance: N · max load (1 = perfectly even, N = everything on one expert)
                trace["imbalance"].append(float(cfg.n_experts * loads.max(dim=1).values.mean()))
                trace["dropped"].append(float(np.mean([float(m.last_stats["dropped"]) /
                                                       int(m.last_stats["assignments"]) for m in layers])))
                trace["balance"].append(float(np.mean([float(m.last_stats["balance_loss"]) for m in layers])))
                ctx.log({f"{name}/imbalance": trace["imbalance"][-1], f"{name}/dropped_fraction": trace["dropped"][-1],
                         **{f"{name}/load_layer0_expert{e}": v for e, v in enumerate(trace["load0"][-1])}},
                        step=trainer.step)

            results[name] = train_logged(ctx, data, base_model(cfg, data, **overrides), train_cfg(cfg), name, bar,
                                         on_step=on_step)

    moe_names = [n for n in runs if n != "dense"]
    ctx.log_figure("expert_load", plots.expert_load(traces, moe_names, cfg.n_experts),
                   caption="Share of the tokens routed to each expert of layer 0 over training, "
                   "with and without the balance loss (dotted: uniform).")
    ctx.log_figure("dropped_and_imbalance", plots.dropped_and_imbalance(traces, moe_names, cfg.capacity_factor),
                   caption="Dropped tokens and load imbalance over training.")
    ctx.log_figure("loss_curves", plots.loss_curves(results, "Dense vs MoE (equal active parameters)"),
                   caption="Smoothed training loss.")

    summary: dict[str, Any] = {}
    for name, r in results.items():
        s = {k: finite_or_none(v) if isinstance(v, float) else v for k, v in r.summary().items()}
        t = traces[name]
        if t["step"]:
            s.update(dropped_fraction_mean=float(np.mean(t["dropped"])), dropped_fraction_final=t["dropped"][-1],
                     imbalance_final=t["imbalance"][-1], imbalance_mean=float(np.mean(t["imbalance"])),
                     balance_loss_final=t["balance"][-1], load_layer0_final=t["load0"][-1])
        summary[name] = s
    rows = [{"run": k, **{kk: vv for kk, vv in v.items() if kk != "load_layer0_final"}} for k, v in summary.items()]
    ctx.log_table("runs", rows, caption="Dense and MoE runs: loss, parameters (total and active), routing.")
    bal, unbal = summary["moe_balanced"], summary["moe_no_balance_loss"]
    checks = {
        "moe_active_params_match_dense": abs(bal["params_active"] - summary["dense"]["params"])
        <= cfg.n_layers * cfg.n_experts * cfg.d_model,  # the routers' weights
        "balance_loss_lowers_imbalance": bal.get("imbalance_mean", 0) <= unbal.get("imbalance_mean", 0),
        "balance_loss_lowers_dropped_tokens": bal.get("dropped_fraction_mean", 0)
        <= unbal.get("dropped_fraction_mean", 0),
    }
    ctx.summary(runs=summary, checks=checks, corpus=corpus_summary(data), n_experts=cfg.n_experts, top_k=cfg.top_k,
                capacity_factor=cfg.capacity_factor)
