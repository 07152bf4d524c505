"""Week 8's runnable studies: small autoregressive language models, trained, scaled and sampled.

- `language_modeling.train_small_lm`            one LLaMA-style model (RMSNorm, SwiGLU, RoPE) on characters or
                                                week 2's BPE: loss and perplexity curves, bits per character,
                                                samples at several temperatures with quality measures; the
                                                model is saved as the run's `model` checkpoint (reused by
                                                later weeks through `checkpoint.load_model`, and by
                                                `forge sample RUN_ID`).
- `language_modeling.perplexity_vs_model_size`  ≥ 4 model sizes on the same tokens: validation perplexity
                                                against parameters (with a power-law fit) and against
                                                training tokens.
- `language_modeling.exposure_bias`             teacher forcing vs free running: a judge model scores, token
                                                by token, text a student wrote itself against real text.

Text: `corpus_path` (Tiny Shakespeare at `data/tinyshakespeare.txt` in the workspace by default), else the
offline stdlib-docstring corpus (`corpus.source` in the summary says which).
"""

from __future__ import annotations

import math
import re
from typing import Any, ClassVar, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.language_modeling.data import TokenData, load_data
from studyforge.experiments.language_modeling.harness import (
    TrainResult,
    finite_or_none,
    smooth,
    train_logged,
    unigram_loss,
)
from studyforge.experiments.language_modeling.trainer import TrainConfig
from studyforge.experiments.registry import register
from studyforge.experiments.transformer.config import TransformerConfig

CORPUS_FIELD = Field("data/tinyshakespeare.txt", description="text file to train on; if missing, an offline corpus "
                     "of Python standard-library docstrings is used instead")
QUICK = {"max_chars": 60_000, "seq_len": 32, "batch_size": 8, "eval_windows": 8, "eval_every": 0}


def _corpus_summary(data: TokenData) -> dict[str, Any]:
    return {"source": data.source, "chars": data.chars, "vocab_size": data.vocab_size, "sha256_16": data.sha256,
            "tokenizer": data.tokenizer.kind, "train_tokens": len(data.train), "val_tokens": len(data.val)}


def _chars_per_token(data: TokenData) -> float:
    """Characters per validation token (1 for characters), to turn nats/token into bits/character."""
    return len(data.tokenizer.decode(data.val.tolist())) / len(data.val)


def bits_per_char(loss_nats_per_token: float, chars_per_token: float) -> float:
    """bpc = loss / (ln 2 · chars per token): `round(bits_per_char(math.log(2), 1.0), 6)` -> 1.0."""
    return loss_nats_per_token / (math.log(2) * chars_per_token)


def _model_cfg(cfg, data: TokenData, **overrides) -> TransformerConfig:
    values = {"vocab_size": data.vocab_size, "max_len": cfg.seq_len, "d_model": cfg.d_model, "n_layers": cfg.n_layers,
              "n_heads": cfg.n_heads, "ffn_multiple_of": 32, "dropout": cfg.dropout, **overrides}
    return TransformerConfig.preset(cfg.architecture, **values)


def _train_cfg(cfg, **overrides) -> TrainConfig:
    values = {"steps": cfg.steps, "batch_size": cfg.batch_size, "lr": cfg.lr, "warmup": cfg.warmup,
              "eval_every": cfg.eval_every, "eval_windows": cfg.eval_windows, "min_lr_ratio": 0.1,
              "betas": (0.9, 0.99), "weight_decay": 0.1, **overrides}
    return TrainConfig(**values)


class _LMConfig(ExperimentConfig):
    corpus_path: str = CORPUS_FIELD
    max_chars: int | None = Field(None, description="use only the first this many characters (None: all)")
    tokenizer: Literal["char", "bpe"] = Field("char", description="characters, or week 2's byte-level BPE")
    bpe_vocab_size: int = Field(512, ge=257, description="BPE vocabulary size (256 bytes + merges)")
    architecture: Literal["llama", "gpt2"] = Field("llama", description="architecture preset (transformer.config)")
    d_model: int = Field(128, ge=8, description="residual width")
    n_layers: int = Field(4, ge=1, description="blocks")
    n_heads: int = Field(4, ge=1, description="attention heads")
    seq_len: int = Field(64, ge=8, description="context length in tokens")
    batch_size: int = Field(12, ge=1, description="sequences per step")
    steps: int = Field(2000, ge=1, description="optimizer steps")
    lr: float = Field(1e-3, gt=0, description="peak learning rate (AdamW, β₂ = 0.99, cosine to lr/10)")
    warmup: int = Field(100, ge=0, description="warm-up steps")
    dropout: float = Field(0.0, ge=0, lt=1, description="dropout")
    eval_every: int = Field(250, ge=0, description="evaluate every this many steps")
    eval_windows: int = Field(200, ge=1, description="validation windows per evaluation")


def _data(cfg) -> TokenData:
    return load_data(cfg.corpus_path, cfg.tokenizer, cfg.bpe_vocab_size, max_chars=cfg.max_chars)


@torch.no_grad()
def token_nll(model, seq: torch.Tensor) -> torch.Tensor:
    """−log p(x_t | x_<t) for t ≥ 1 of sequences (N, T) -> (N, T − 1), in nats."""
    logits = model(seq[:, :-1]).logits.float()  # (N, T−1, V)
    return -F.log_softmax(logits, dim=-1).gather(-1, seq[:, 1:, None]).squeeze(-1)


# --------------------------------------------------------------------------------------------------------
# language_modeling.train_small_lm
# --------------------------------------------------------------------------------------------------------


class SmallLMConfig(_LMConfig):
    temperatures: list[float] = Field([0.0, 0.5, 0.8, 1.0, 1.2], description="sampling temperatures (0 = greedy)")
    top_p: float = Field(0.9, gt=0, le=1, description="nucleus threshold of the extra top-p sample (at τ = 1)")
    top_k: int = Field(10, ge=1, description="k of the extra top-k sample (at τ = 1)")
    sample_tokens: int = Field(300, ge=1, description="tokens per shown sample")
    quality_samples: int = Field(8, ge=1, description="samples per temperature for the quality measures")
    prompt: str = Field("The ", description="prompt of every sample (must be encodable by the tokenizer)")
    presets: ClassVar = {"quick": {**QUICK, "d_model": 32, "n_layers": 2, "n_heads": 2, "steps": 20, "warmup": 5,
                                   "sample_tokens": 40, "quality_samples": 2, "temperatures": [0.0, 1.0]},
                         "full": {"d_model": 384, "n_layers": 6, "n_heads": 6, "seq_len": 256, "batch_size": 64,
                                  "steps": 5000, "dropout": 0.2, "eval_every": 250, "eval_windows": 400}}


def _word_validity(text: str, vocabulary: set[str]) -> float | None:
    """Fraction of the sample's words (letter runs) that occur in the training text."""
    words = re.findall(r"[A-Za-z]+", text)
    return sum(w in vocabulary for w in words) / len(words) if words else None


def _distinct(ids: list[int], n: int = 4) -> float:
    """Distinct n-grams / all n-grams: `_distinct([1, 2, 1, 2, 1], 2)` -> 0.5 (repetition lowers it)."""
    grams = [tuple(ids[i:i + n]) for i in range(len(ids) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@register("language_modeling.train_small_lm", week=8, config=SmallLMConfig, headline="bits_per_char")
def train_small_lm(ctx, cfg: SmallLMConfig) -> None:
    """Train a small autoregressive transformer and sample from it at several temperatures.

    A LLaMA-style decoder (RMSNorm, SwiGLU, RoPE, tied embeddings; `architecture=gpt2` for pre-LayerNorm,
    GELU, learned positions) trained with AdamW, warm-up and cosine decay, on characters or week 2's BPE.
    Recorded: training and validation loss and perplexity over training, bits per character (comparable
    across tokenizers), throughput; samples at each temperature (0 = greedy) plus a top-k and a top-p one;
    per temperature, over `quality_samples` samples: the model's own NLL of what it wrote, the share of
    distinct 4-grams (repetition), and the share of generated words found in the training text. The
    model is saved as the `model` checkpoint (format: `language_modeling.checkpoint`).
    """
    from studyforge.experiments.language_modeling.checkpoint import export
    from studyforge.experiments.language_modeling.generate import generate

    data = _data(cfg)
    mcfg = _model_cfg(cfg, data)
    tcfg = _train_cfg(cfg)
    with ctx.progress(total=cfg.steps, description="training") as bar:
        result = train_logged(ctx, data, mcfg, tcfg, "lm", bar)
    model, device = result.trainer.model.eval(), ctx.torch_device
    cpt = _chars_per_token(data)
    final = result.final
    metrics = {"val_loss": final["val_loss"], "val_ppl": final["val_ppl"], "train_loss": final["train_loss"],
               "bits_per_char": bits_per_char(final["val_loss"], cpt)}
    ctx.save_checkpoint("model", export(model, data.tokenizer, tcfg.model_dump(mode="json"), result.trainer.step,
                                        result.trainer.tokens_seen, _corpus_summary(data), metrics))

    prompt = torch.tensor([data.tokenizer.encode(cfg.prompt)], device=device)
    train_text = data.tokenizer.decode(data.train[:200_000].tolist())
    vocabulary = set(re.findall(r"[A-Za-z]+", train_text))
    samples, quality = {}, {}
    for i, tau in enumerate(cfg.temperatures):
        g = torch.Generator(device=device).manual_seed(ctx.seed * 1000 + i)
        batch = generate(model, prompt.expand(cfg.quality_samples, -1), cfg.sample_tokens, tau, generator=g)
        texts = [data.tokenizer.decode(row[prompt.shape[1]:].tolist()) for row in batch]
        key = f"t{tau:g}".replace(".", "_")
        samples[key] = texts[0]
        validity = [v for v in (_word_validity(t, vocabulary) for t in texts) if v is not None]
        quality[key] = {"temperature": tau,
                        "self_nll": float(token_nll(model, batch)[:, prompt.shape[1] - 1:].mean()),
                        "distinct_4grams": float(np.mean([_distinct(r[prompt.shape[1]:].tolist()) for r in batch])),
                        "word_validity": float(np.mean(validity)) if validity else None}
    g = torch.Generator(device=device).manual_seed(ctx.seed)
    samples["top_k"] = data.tokenizer.decode(generate(model, prompt, cfg.sample_tokens, 1.0, top_k=cfg.top_k,
                                                      generator=g)[0, prompt.shape[1]:].tolist())
    samples["top_p"] = data.tokenizer.decode(generate(model, prompt, cfg.sample_tokens, 1.0, top_p=cfg.top_p,
                                                      generator=g)[0, prompt.shape[1]:].tolist())
    ctx.log_table("samples", [{"setting": k, "text": v} for k, v in samples.items()],
                  caption=f"Samples from the prompt {cfg.prompt!r}: per temperature (t0 = greedy), top-k, top-p.")
    ctx.log_table("generation_quality", [{"setting": k, **v} for k, v in quality.items()],
                  caption="Per temperature: the model's NLL of its own samples (nats/token), distinct 4-grams, "
                          "share of words found in the training text.")
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.plot(range(1, len(result.losses) + 1), smooth(result.losses), label="train (smoothed, per step)")
    a1.plot([e["step"] for e in result.evals], [e["val_loss"] for e in result.evals], "o-", label="validation")
    a1.set(xlabel="step", ylabel="loss (nats/token)", title=f"{cfg.architecture}, {data.tokenizer.kind} tokens")
    taus = [v["temperature"] for v in quality.values()]
    a2.plot(taus, [v["distinct_4grams"] for v in quality.values()], "o-", label="distinct 4-grams")
    a2.plot(taus, [v["word_validity"] or np.nan for v in quality.values()], "s-", label="words found in training text")
    a2.set(xlabel="temperature (0 = greedy)", title="Generation quality against temperature")
    for ax in (a1, a2):
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    ctx.log_figure("training_and_generation", fig, caption="Loss curves, and diversity/validity of samples "
                   "against temperature.")
    s = result.summary()
    ctx.summary(**{k: finite_or_none(v) for k, v in metrics.items()}, params=s["params"],
                params_non_embedding=s["params_non_embedding"], tokens_per_s=s["tokens_per_s"],
                tokens_seen=result.trainer.tokens_seen, chars_per_token=cpt,
                curve=[[e["step"], e["val_loss"]] for e in result.evals], samples=samples, quality=quality,
                checkpoint="checkpoints/model.pt", corpus=_corpus_summary(data), architecture=cfg.architecture,
                unigram_loss=unigram_loss(data))


# --------------------------------------------------------------------------------------------------------
# language_modeling.perplexity_vs_model_size
# --------------------------------------------------------------------------------------------------------


class SizesConfig(_LMConfig):
    sizes: list[tuple[int, int, int]] = Field([(32, 1, 2), (64, 2, 4), (96, 3, 4), (128, 4, 4), (192, 4, 6)],
                                              description="(d_model, n_layers, n_heads) of each model")
    presets: ClassVar = {"quick": {**QUICK, "steps": 12, "warmup": 3, "sizes": [(16, 1, 2), (24, 1, 2), (32, 1, 2),
                                                                                 (32, 2, 2)]},
                         "full": {"seq_len": 256, "batch_size": 64, "steps": 5000, "eval_windows": 400,
                                  "sizes": [(64, 2, 4), (128, 4, 4), (192, 6, 6), (256, 6, 8), (384, 6, 6),
                                            (512, 8, 8)]}}
    steps: int = Field(600, ge=1, description="optimizer steps per model (every size sees the same tokens)")
    eval_every: int = Field(100, ge=0, description="evaluate every this many steps (the tokens curve)")


def power_law_fit(n: list[float], loss: list[float]) -> tuple[float, float]:
    """(α, a) of loss ≈ a · N^(−α), by least squares in log-log: exact for `power_law_fit([1, 10], [2, 1])`,
    α = log10(2) ≈ 0.301."""
    slope, intercept = np.polyfit(np.log(n), np.log(loss), 1)
    return float(-slope), float(np.exp(intercept))


@register("language_modeling.perplexity_vs_model_size", week=8, config=SizesConfig, headline="fit.alpha")
def perplexity_vs_model_size(ctx, cfg: SizesConfig) -> None:
    """Validation perplexity against model size (≥ 4 sizes) and against training tokens.

    Every size is trained on the same batches for the same steps and evaluated every `eval_every` steps,
    which gives perplexity against training tokens per size; the final validation losses against the
    non-embedding parameters N are fitted by a power law L ≈ a·N^(−α) in log-log space (Kaplan et al.,
    arXiv:2001.08361, report α ≈ 0.076 for converged large models; small, briefly trained models here
    are far from that regime, so α is descriptive only).
    """
    data = _data(cfg)
    results: dict[str, TrainResult] = {}
    with ctx.progress(total=cfg.steps * len(cfg.sizes), description="model sizes") as bar:
        for d, layers, heads in cfg.sizes:
            name = f"d{d}_L{layers}"
            results[name] = train_logged(ctx, data, _model_cfg(cfg, data, d_model=d, n_layers=layers, n_heads=heads),
                                         _train_cfg(cfg), name, bar)
    sizes: dict[str, Any] = {}
    for name, r in results.items():
        s = r.summary()
        sizes[name] = {"params": s["params"], "params_non_embedding": s["params_non_embedding"],
                       "val_loss": s["val_loss"], "val_ppl": s["val_ppl"], "tokens_per_s": s["tokens_per_s"],
                       "curve": [[e["tokens"], finite_or_none(e["val_loss"])] for e in r.evals]}
    ok = {k: v for k, v in sizes.items() if v["val_loss"] is not None}
    alpha, a = power_law_fit([v["params_non_embedding"] for v in ok.values()], [v["val_loss"] for v in ok.values()])
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained")
    for name, v in sizes.items():
        pts = [p for p in v["curve"] if p[1] is not None]
        a1.plot([p[0] for p in pts], [math.exp(p[1]) for p in pts], "o-", ms=3, label=f"{name} ({v['params']:,})")
    a1.set(xscale="log", yscale="log", xlabel="training tokens", ylabel="validation perplexity",
           title="Perplexity against training tokens")
    n = np.array([v["params_non_embedding"] for v in ok.values()], dtype=float)
    a2.loglog(n, [v["val_loss"] for v in ok.values()], "o", label="final validation loss")
    grid = np.geomspace(n.min(), n.max(), 50)
    a2.loglog(grid, a * grid ** -alpha, "--", label=f"fit a·N^(−α), α = {alpha:.3f}")
    a2.set(xlabel="non-embedding parameters N", ylabel="validation loss (nats/token)", title="Loss against size")
    for ax in (a1, a2):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    ctx.log_figure("perplexity_vs_size", fig, caption="Validation perplexity against training tokens per model "
                   "size, and final validation loss against non-embedding parameters with a power-law fit.")
    ctx.log_table("sizes", [{"model": k, **{kk: vv for kk, vv in v.items() if kk != "curve"}} for k, v in sizes.items()],
                  caption="Model sizes: parameters, final validation loss and perplexity, throughput.")
    ordered = [v["val_loss"] for v in sorted(ok.values(), key=lambda v: v["params_non_embedding"])]
    ctx.summary(sizes=sizes, fit={"alpha": alpha, "a": a},
                checks={"larger_models_reach_lower_loss": all(x > y for x, y in zip(ordered, ordered[1:], strict=False)),
                        "at_least_four_sizes": len(ok) >= 4},
                tokens_per_model=cfg.steps * cfg.batch_size * cfg.seq_len, corpus=_corpus_summary(data),
                bits_per_char={k: bits_per_char(v["val_loss"], _chars_per_token(data)) for k, v in ok.items()})


# --------------------------------------------------------------------------------------------------------
# language_modeling.exposure_bias
# --------------------------------------------------------------------------------------------------------


class ExposureConfig(_LMConfig):
    d_model: int = Field(48, ge=8, description="student width (a small, briefly trained model makes mistakes)")
    n_layers: int = Field(2, ge=1, description="student blocks")
    steps: int = Field(400, ge=1, description="student training steps")
    judge_d_model: int = Field(128, ge=8, description="judge width")
    judge_n_layers: int = Field(4, ge=1, description="judge blocks")
    judge_steps: int = Field(1200, ge=1, description="judge training steps")
    prompts: int = Field(64, ge=1, description="validation prompts")
    prompt_len: int = Field(16, ge=1, description="tokens of real text each generation starts from")
    horizon: int = Field(48, ge=2, description="tokens generated (and scored) after the prompt")
    temperature: float = Field(1.0, gt=0, description="student sampling temperature (1 = its own distribution)")
    presets: ClassVar = {"quick": {**QUICK, "d_model": 16, "n_layers": 1, "n_heads": 2, "steps": 10, "warmup": 2,
                                   "judge_d_model": 32, "judge_n_layers": 1, "judge_steps": 15, "prompts": 4,
                                   "prompt_len": 8, "horizon": 16},
                         "full": {"seq_len": 256, "batch_size": 64, "steps": 2000, "judge_d_model": 384,
                                  "judge_n_layers": 6, "judge_steps": 5000, "prompts": 256, "prompt_len": 64,
                                  "horizon": 192, "n_heads": 4}}


def _quarters(curve: np.ndarray) -> tuple[float, float]:
    """Mean of the first and of the last quarter of a per-position curve."""
    q = max(1, len(curve) // 4)
    return float(curve[:q].mean()), float(curve[-q:].mean())


@register("language_modeling.exposure_bias", week=8, config=ExposureConfig, headline="drift_excess")
def exposure_bias(ctx, cfg: ExposureConfig) -> None:
    """Teacher forcing vs free-running generation: does a model's own text drift away from real text?

    Trained with teacher forcing, a model only ever conditions on real prefixes; generating, it conditions
    on its own ("exposure bias", Ranzato et al., arXiv:1511.06732; Bengio et al., arXiv:1506.03099). Two
    models are trained on the same data: a small *student* and a larger, longer-trained *judge*. From
    `prompts` real validation prefixes of `prompt_len` tokens the student writes `horizon` tokens (sampled
    at `temperature`, and greedily). Per position t after the prompt:

    - teacher forcing: the student's loss on the real continuation given the real prefix;
    - the judge's loss on the real continuation (reference) and on the student's text, i.e. the loss of
      each generated token given a *model-generated* prefix, as judged by a better model.

    If errors compound, the judge's loss on free-running text rises with t while its loss on real text does
    not: `drift_excess` = (last-quarter − first-quarter judge loss) on generated text minus the same on
    real text.
    """
    from studyforge.experiments.language_modeling.generate import generate

    if cfg.prompt_len + cfg.horizon > cfg.seq_len:
        raise ValueError(f"prompt_len + horizon ({cfg.prompt_len + cfg.horizon}) must fit seq_len ({cfg.seq_len})")
    data = _data(cfg)
    with ctx.progress(total=cfg.steps + cfg.judge_steps, description="student + judge") as bar:
        student = train_logged(ctx, data, _model_cfg(cfg, data), _train_cfg(cfg), "student", bar)
        judge = train_logged(ctx, data, _model_cfg(cfg, data, d_model=cfg.judge_d_model, n_layers=cfg.judge_n_layers),
                             _train_cfg(cfg, steps=cfg.judge_steps), "judge", bar)
    s_model, j_model = student.trainer.model.eval(), judge.trainer.model.eval()
    device = ctx.torch_device
    total = cfg.prompt_len + cfg.horizon
    x, y = data.eval_windows("val", cfg.prompts, total - 1, seed=4321)  # (N, total − 1) each, y shifted by one
    real = torch.cat([x, y[:, -1:]], dim=1).to(device)  # (N, total) windows of real text
    prompt = real[:, :cfg.prompt_len]
    g = torch.Generator(device=device).manual_seed(ctx.seed)
    sampled = generate(s_model, prompt, cfg.horizon, cfg.temperature, generator=g)  # (N, total)
    greedy = generate(s_model, prompt, cfg.horizon, 0.0)
    after = slice(cfg.prompt_len - 1, None)  # NLL of the tokens after the prompt
    curves = {
        "teacher_forcing_student": token_nll(s_model, real)[:, after].mean(0),
        "real_text_judge": token_nll(j_model, real)[:, after].mean(0),
        "free_running_judge": token_nll(j_model, sampled)[:, after].mean(0),
        "free_running_student": token_nll(s_model, sampled)[:, after].mean(0),
        "greedy_judge": token_nll(j_model, greedy)[:, after].mean(0),
    }
    curves = {k: v.cpu().numpy() for k, v in curves.items()}
    stats = {}
    for k, v in curves.items():
        first, last = _quarters(v)
        stats[k] = {"mean": float(v.mean()), "first_quarter": first, "last_quarter": last, "drift": last - first}
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    positions = np.arange(1, cfg.horizon + 1)
    for k, v in curves.items():
        ax.plot(positions, smooth(v.tolist(), 0.7), label=k.replace("_", " "))
    ax.set(xlabel="tokens after the prompt", ylabel="loss (nats/token, smoothed)",
           title="Teacher forcing vs free running")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ctx.log_figure("loss_by_position", fig, caption="Per-position loss after a real prompt: the judge on real text "
                   "and on the student's own sampled / greedy text, and the student under teacher forcing.")
    ctx.log_table("loss_by_position", [{"position": int(t), **{k: float(v[t - 1]) for k, v in curves.items()}}
                                       for t in positions], caption="Per-position losses (nats/token).")
    examples = [{"prompt": data.tokenizer.decode(prompt[i].tolist()),
                 "real": data.tokenizer.decode(real[i, cfg.prompt_len:].tolist()),
                 "sampled": data.tokenizer.decode(sampled[i, cfg.prompt_len:].tolist()),
                 "greedy": data.tokenizer.decode(greedy[i, cfg.prompt_len:].tolist())} for i in range(min(3, cfg.prompts))]
    ctx.log_table("examples", examples, caption="Real continuations and the student's sampled and greedy ones.")
    ctx.summary(curves=stats,
                drift_excess=stats["free_running_judge"]["drift"] - stats["real_text_judge"]["drift"],
                free_running_gap=stats["free_running_judge"]["mean"] - stats["real_text_judge"]["mean"],
                student={k: v for k, v in student.summary().items() if k in ("val_loss", "params", "steps")},
                judge={k: v for k, v in judge.summary().items() if k in ("val_loss", "params", "steps")},
                corpus=_corpus_summary(data), temperature=cfg.temperature)
