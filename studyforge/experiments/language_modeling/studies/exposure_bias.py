"""`language_modeling.exposure_bias`: teacher forcing against free running — do a model's errors compound?

Trained with teacher forcing, a model only ever conditions on real prefixes; generating, it conditions on
its own, a distribution it never saw ("exposure bias": Ranzato et al., arXiv:1511.06732; scheduled
sampling, Bengio et al., arXiv:1506.03099). Whether that makes errors compound along the generated text is
measured here by a larger judge model's per-token loss on the student's text against real text.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.language_modeling import plots
from studyforge.experiments.language_modeling.generate import generate
from studyforge.experiments.language_modeling.harness import train_logged
from studyforge.experiments.language_modeling.studies.common import (
    QUICK,
    LMConfig,
    corpus_summary,
    load_corpus,
    model_cfg,
    token_nll,
    train_cfg,
)
from studyforge.experiments.registry import register


class ExposureConfig(LMConfig):
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
    if cfg.prompt_len + cfg.horizon > cfg.seq_len:
        raise ValueError(f"prompt_len + horizon ({cfg.prompt_len + cfg.horizon}) must fit seq_len ({cfg.seq_len})")
    data = load_corpus(cfg)
    with ctx.progress(total=cfg.steps + cfg.judge_steps, description="student + judge") as bar:
        student = train_logged(ctx, data, model_cfg(cfg, data), train_cfg(cfg), "student", bar)
        judge = train_logged(ctx, data, model_cfg(cfg, data, d_model=cfg.judge_d_model, n_layers=cfg.judge_n_layers),
                             train_cfg(cfg, steps=cfg.judge_steps), "judge", bar)
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
    positions = np.arange(1, cfg.horizon + 1)
    ctx.log_figure("loss_by_position", plots.loss_by_position(curves),
                   caption="Per-position loss after a real prompt: the judge on real text "
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
                corpus=corpus_summary(data), temperature=cfg.temperature)
