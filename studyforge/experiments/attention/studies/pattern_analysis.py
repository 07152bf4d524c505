"""`attention.pattern_analysis`: what a trained model's heads attend to, and which heads it needs.

Per head: the entropy of its attention rows (sharp or diffuse), its mean attention distance Σ_j α_ij |i − j|
(local or long-range, as in ViT's analysis, arXiv:2010.11929), and its importance as the loss increase when
it alone is masked ("Are Sixteen Heads Really Better than One?", Michel, Levy & Neubig, arXiv:1905.10650),
which orders heads for pruning. The measures live in `attention.analysis`.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.attention import plots
from studyforge.experiments.attention.studies.common import CORPUS_FIELD, corpus_summary, load_corpus
from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.registry import register


class PatternConfig(ExperimentConfig):
    corpus_path: str | None = CORPUS_FIELD
    encoding: str = Field("rope", description="positional encoding of the analysed model (model.POSITIONS)")
    train_length: int = Field(128, ge=8, description="training sequence length (characters)")
    steps: int = Field(500, ge=1, description="training steps")
    batch_size: int = Field(32, ge=1, description="training windows per step")
    lr: float = Field(3e-3, gt=0, description="peak AdamW learning rate")
    d_model: int = Field(64, ge=8, description="model width")
    n_layers: int = Field(3, ge=1, description="transformer blocks")
    n_heads: int = Field(4, ge=1, description="attention heads per block")
    eval_windows: int = Field(64, ge=1, description="validation windows for entropy, distance and importance")
    map_length: int = Field(48, ge=4, description="characters shown in the attention-map figure")
    pruning_tolerance: float = Field(0.05, gt=0, description="count heads removable before loss rises by this fraction")
    presets: ClassVar = {
        "quick": {"train_length": 32, "steps": 15, "batch_size": 8, "d_model": 32, "n_layers": 2, "n_heads": 2,
                  "eval_windows": 8, "map_length": 16},
        "full": {"steps": 3000, "d_model": 128, "n_layers": 4, "n_heads": 8, "eval_windows": 256},
    }


@register("attention.pattern_analysis", week=3, config=PatternConfig,
          headline="pruning.heads_removable_within_tolerance")
def pattern_analysis(ctx, cfg: PatternConfig) -> None:
    """Attention patterns of a trained model: maps, entropy, distance, head importance and pruning.

    Trains one small character-level LM, then on validation windows: attention maps of every layer and
    head for one passage; each head's mean attention entropy and mean attention distance (local vs
    long-range heads); each head's importance as the loss increase when it alone is masked (Michel et al.,
    arXiv:1905.10650); and the pruning curve — loss as heads are removed cumulatively, least important
    first, against most-important-first and a random order.
    """
    from studyforge.experiments.attention import analysis
    from studyforge.experiments.attention.model import TinyLM, evaluate, train

    corpus = load_corpus(cfg.corpus_path)
    dev = ctx.torch_device
    model = TinyLM(corpus.vocab_size, cfg.d_model, cfg.n_layers, cfg.n_heads, cfg.encoding, cfg.train_length).to(dev)
    gen = torch.Generator().manual_seed(ctx.seed)
    with ctx.progress(total=cfg.steps, description=f"training a {cfg.encoding} LM") as bar:
        def on_step(step: int, loss: float) -> None:
            if step % 10 == 0 or step == cfg.steps - 1:
                ctx.log({"train_loss": loss}, step=step)
            bar.advance(1, loss=round(loss, 3))

        train(model, corpus, cfg.steps, cfg.batch_size, cfg.train_length, cfg.lr, gen, on_step)

    x, y = corpus.windows("val", cfg.train_length, cfg.eval_windows)
    with torch.no_grad():
        _, _, maps = model(x.to(dev))  # L × (N, H, T, T)
    entropy = torch.stack([analysis.attention_entropy(m) for m in maps]).cpu()  # (L, H)
    distance = torch.stack([analysis.mean_attention_distance(m) for m in maps]).cpu()  # (L, H)

    passage = x[:1, : cfg.map_length]
    with torch.no_grad():
        _, _, passage_maps = model(passage.to(dev))
    ctx.log_figure("attention_maps", plots.attention_maps(
        [m[0].cpu() for m in passage_maps], tokens=[repr(c)[1:-1] or " " for c in corpus.decode(passage[0])],
        title=f"{cfg.encoding} model: attention per layer and head"),
        caption="Attention weights on one validation passage (rows: queries, columns: keys).")

    def eval_loss(head_mask: torch.Tensor) -> float:
        return evaluate(model, x, y, head_mask=head_mask)

    base, importance = analysis.head_importance(eval_loss, cfg.n_layers, cfg.n_heads)
    order = analysis.least_important_first(importance)
    curves = {"least_important_first": analysis.pruning_curve(eval_loss, order, cfg.n_layers, cfg.n_heads),
              "most_important_first": analysis.pruning_curve(eval_loss, order[::-1], cfg.n_layers, cfg.n_heads)}
    shuffled = [order[i] for i in np.random.default_rng(ctx.seed).permutation(len(order))]
    curves["random_order"] = analysis.pruning_curve(eval_loss, shuffled, cfg.n_layers, cfg.n_heads)

    limit = base * (1 + cfg.pruning_tolerance)
    ctx.log_figure("head_analysis", plots.head_analysis(entropy, distance, importance, curves, limit),
                   caption="Per-head entropy, attention distance, importance by masking, "
                           "and pruning curves (dotted: loss tolerance).")
    ctx.log_table("heads", [{"layer": layer, "head": head, "entropy": float(entropy[layer, head]),
                             "mean_distance": float(distance[layer, head]),
                             "importance": float(importance[layer, head])}
                            for layer in range(cfg.n_layers) for head in range(cfg.n_heads)],
                  caption="Per-head statistics on validation windows.")
    ctx.log_table("pruning_curve", [{"order": name, **r} for name, rows in curves.items() for r in rows],
                  caption="Loss as heads are removed cumulatively.")

    removable = max(r["heads_removed"] for r in curves["least_important_first"]
                    if all(p["loss"] <= limit for p in curves["least_important_first"][: r["heads_removed"] + 1]))
    ctx.summary(
        heads={f"layer{layer}": {f"head{head}": {"entropy": float(entropy[layer, head]),
                                                 "mean_distance": float(distance[layer, head]),
                                                 "importance": float(importance[layer, head])}
                                 for head in range(cfg.n_heads)} for layer in range(cfg.n_layers)},
        entropy_by_layer=[float(e) for e in entropy.mean(1)],
        mean_distance_by_layer=[float(d) for d in distance.mean(1)],
        pruning={"loss_all_heads": base, "heads_total": cfg.n_layers * cfg.n_heads,
                 "heads_removable_within_tolerance": removable, "tolerance": cfg.pruning_tolerance,
                 "loss_half_removed": {name: rows[len(rows) // 2]["loss"] for name, rows in curves.items()},
                 "loss_all_removed": curves["least_important_first"][-1]["loss"]},
        corpus=corpus_summary(corpus), encoding=cfg.encoding,
    )
