"""`preference.constitutional_preferences`: AI feedback from a written constitution (RLAIF), and self-rewarding rounds.

**Part 1 — constitutional AI labels.** The reference model writes two completions per training prompt; each
pair gets one principle sampled from the constitution (`templates/constitution.md`, `judge.parse_constitution`;
Bai et al. 2022, arXiv:2212.08073) and a judge labels it in both orders (`judge.judge_both_orders`). The judge
is Claude when an API key is set (`judge=auto`; `judge.ClaudeJudge` through the drafting client, its calls in
the call log) and otherwise the offline `CodeJudge`, which checks the principles that have a gold reward and
abstains on the rest; the run says which (summary `judge`, the progress line, one printed notice). Measured:

- agreement of the AI labels with gold, per principle and overall (`judge.agreement_with_gold`; for the code
  judge it is 1 on checkable principles *by construction* — it reads the gold reward itself — so the figure
  that tests anything is Claude's);
- position bias: the flip rate when the pair is swapped (`judge.position_bias`; 0 for the code judge by
  construction, since its verdict depends on the two texts and not on their order);
- cost per 1,000 labels (`judge.cost_summary`, from the API's usage and `drafting.pricing`; 0 offline).

Claude is asked about at most `judge_pairs` pairs (2 calls each, +1 per malformed reply). With the default
16 pairs and a Haiku judge (~300 input and ≤ 200 output tokens a call, $1 / $5 per million) a run costs about
32 × $0.0013 ≈ $0.04 — an estimate; the run reports the real figure.

**Part 2 — RLAIF's question** (Lee et al. 2023, arXiv:2309.00267): is a reward model trained on AI labels as
good as one trained on human labels? Three reward models (`reward_model.fit_reward_model`, each a copy of the
reference with a scalar head) are trained on the same pairs — the ones the AI labelled — with three labels:
the AI's, a noiseless gold annotator's, and a noisy human-like annotator's (Bradley–Terry scale `human_scale`,
`human_flip_rate` of labels flipped). All are scored on held-out pairs against the gold utility: the
constitution's checkable principles' gold rewards, equally weighted (u = style + fluency by default).

**Part 3 — self-rewarding** (Yuan et al. 2024, arXiv:2401.10020), adapted to a tiny model. The paper's policy
judges its own samples by LLM-as-a-judge prompting, which a 2-layer character model cannot do; here the
policy's "judge" is *its own reward head*: each round t,

1. the policy π_t writes two completions for each of `round_prompts` training prompts;
2. the judge is π_t's own weights: `RewardModel.from_language_model(π_t)` — a copy of π_t with a scalar head —
   fine-tuned on a fixed seed set of `seed_pairs` gold-labelled pairs (the paper's seed evaluation data, labelled
   by `self_reward_weights`), `judge_steps` steps of `fit_reward_model`. The paper trains one model for both
   roles; the copy keeps DPO's policy and its judge apart, so each is trained by its own loss. (Fitting only a
   head on the frozen backbone was tried first: on this model's last-token state it stayed at chance, 0.44–0.52
   agreement with gold, and the rounds only drifted.);
3. the head labels the round's pairs (the completion it scores higher is chosen); judge–gold agreement is
   measured on them;
4. DPO (week 4's `losses.dpo_loss` through week 4's loop, `training.train_policy`) trains π_{t+1} from π_t
   with **the previous round's policy π_t as the reference** (iterative DPO, as in the paper).

Per round: the gold rewards (style and fluency) of π_t's samples on held-out prompts, the KL from the initial
model (`method_comparison.sequence_kl`, exact per token) and the judge–gold agreement.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import ClassVar, Literal

import torch
from pydantic import Field

from studyforge.experiments.preference import plots
from studyforge.experiments.preference.data import Annotator, Comparisons, PairData, truth_accuracy
from studyforge.experiments.preference.judge import (
    PairJudgement,
    agreement_with_gold,
    constitution_path,
    cost_summary,
    judge_both_orders,
    load_constitution,
    make_judge,
    position_bias,
)
from studyforge.experiments.preference.reward_model import (
    RewardModel,
    RewardTrainConfig,
    clone_as_reward_model,
    evaluate,
    fit_reward_model,
)
from studyforge.experiments.preference.studies.common import PreferenceStudyConfig, pretrain_total, setup
from studyforge.experiments.preference_optimization.pairs import pairs_from_choice
from studyforge.experiments.preference_optimization.studies.method_comparison import method_loss, sequence_kl
from studyforge.experiments.preference_optimization.training import train_policy
from studyforge.experiments.registry import register

STUDY = "preference.constitutional_preferences"


class ConstitutionalConfig(PreferenceStudyConfig):
    constitution: str | None = Field(None, description="constitution file to use (default: the workspace's "
                                     "templates/constitution.md, else the packaged one)")
    judge: Literal["auto", "claude", "code"] = Field("auto", description="auto: Claude with an API key, else the "
                                                     "offline code judge")
    judge_model: str | None = Field(None, description="Claude model for the judge (default: the newest Haiku)")
    judge_pairs: int = Field(16, ge=1, description="at most this many pairs go to Claude (2 calls each): the "
                             "cost cap; the free code judge labels all train_pairs")
    train_pairs: int = Field(256, ge=2, description="pairs sampled from the reference for AI labelling")
    heldout_pairs: int = Field(128, ge=2, description="held-out pairs (validation prompts) scoring the reward models")
    human_scale: float = Field(20.0, gt=0, description="the human-like annotator's Bradley–Terry scale")
    human_flip_rate: float = Field(0.1, ge=0, le=0.5, description="share of the human-like labels flipped")
    rm_steps: int = Field(150, ge=1, description="training steps of each RLAIF reward model")
    rm_batch_size: int = Field(32, ge=1, description="pairs per reward-model step")
    rm_lr: float = Field(3e-4, gt=0, description="reward-model learning rate")
    rounds: int = Field(3, ge=1, description="self-rewarding rounds (DPO iterations)")
    round_prompts: int = Field(128, ge=2, description="prompts per round (two completions each)")
    self_reward_weights: dict[str, float] = Field({"style": 1.0}, description="the gold utility the seed set is "
                                                  "labelled by (what the self-rewarding rounds pursue)")
    seed_pairs: int = Field(512, ge=2, description="gold-labelled seed pairs the judge is fitted on each round")
    judge_steps: int = Field(150, ge=1, description="steps fitting the policy's own judge each round")
    judge_lr: float = Field(3e-4, gt=0, description="the judge's learning rate")
    dpo_steps: int = Field(40, ge=1, description="DPO steps per round")
    dpo_batch_size: int = Field(32, ge=2, description="pairs per DPO step")
    dpo_lr: float = Field(3e-4, gt=0, description="DPO learning rate (AdamW, 10 warm-up steps)")
    beta: float = Field(0.1, gt=0, description="DPO's β")
    eval_prompts: int = Field(64, ge=1, description="held-out prompts sampled each round (gold reward, KL)")
    presets: ClassVar = {
        "quick": {"max_chars": 40_000, "d_model": 32, "n_layers": 1, "n_heads": 2, "pretrain_steps": 40,
                  "prompt_len": 8, "completion_len": 12, "train_pairs": 48, "heldout_pairs": 32, "judge_pairs": 4,
                  "rm_steps": 12, "rm_batch_size": 16, "rounds": 3, "round_prompts": 24, "seed_pairs": 16,
                  "judge_steps": 10, "dpo_steps": 6, "dpo_batch_size": 8, "eval_prompts": 12},
        "full": {"d_model": 128, "n_layers": 4, "pretrain_steps": 3000, "train_pairs": 2048, "heldout_pairs": 512,
                 "judge_pairs": 200, "rm_steps": 600, "rounds": 5, "round_prompts": 512, "seed_pairs": 1024,
                 "judge_steps": 300, "dpo_steps": 150, "eval_prompts": 256},
    }


def workspace_root(out_dir: Path) -> Path | None:
    """The workspace a run folder belongs to: the nearest folder above it holding a curriculum.yaml."""
    for folder in Path(out_dir).resolve().parents:
        if (folder / "curriculum.yaml").is_file():
            return folder
    return None


def labelled_pairs(comps: Comparisons, first_wins: torch.Tensor) -> PairData:
    """Pairs of completions 0 and 1 labelled by `first_wins` (N,) bool — a judge's labels (`flipped` is unknown
    for a judge and left False; accuracy against gold is measured from the gold columns instead)."""
    pick = first_wins[:, None]
    y1, y2, g1, g2 = comps.completions[:, 0], comps.completions[:, 1], comps.gold[:, 0], comps.gold[:, 1]
    return PairData(comps.prompts, torch.where(pick, y1, y2), torch.where(pick, y2, y1), torch.where(pick, g1, g2),
                    torch.where(pick, g2, g1), comps.objectives, torch.zeros(len(comps), dtype=torch.bool),
                    first_wins.clone())


@register(STUDY, week=9, config=ConstitutionalConfig, headline="agreement")
def constitutional_preferences(ctx, cfg: ConstitutionalConfig) -> None:
    """AI labels from a constitution (agreement with gold, position bias, cost), reward models on AI vs gold vs
    noisy human labels, and ≥ 3 self-rewarding DPO rounds (see the module docstring)."""
    from studyforge.console import out
    from studyforge.drafting.calllog import CallLog

    device = ctx.torch_device
    root = workspace_root(ctx.out_dir)
    principles = load_constitution(constitution_path(root, cfg.constitution))
    n_judged_max = cfg.train_pairs
    total = pretrain_total(cfg) + n_judged_max + 3 * cfg.rm_steps + cfg.rounds * (cfg.judge_steps + cfg.dpo_steps)
    with ctx.progress(total=total, description="reference") as bar:
        s = setup(ctx, cfg, bar)
        judge = make_judge(cfg.judge, s.gold, cfg.judge_model, label=STUDY,
                           call_log=CallLog(root / ".forge" / "llm-log.db") if root else None)
        n_judged = min(cfg.judge_pairs, cfg.train_pairs) if judge.kind == "claude" else cfg.train_pairs
        bar.advance(n_judged_max - n_judged)  # pairs the cost cap keeps from Claude
        notice = (f"judge: Claude ({judge.model}), {n_judged} pairs × 2 orders" if judge.kind == "claude" else
                  "judge: code (offline: no API key or judge=code) — checks the gold-measured principles, "
                  "abstains on the others")
        out.info(f"{STUDY}: {notice}")
        ctx.summary(judge={"kind": judge.kind, "model": judge.model, "pairs": n_judged, "notice": notice},
                    constitution={p.id: {"title": p.title, "gold": p.gold} for p in principles})
        target = {name: 1.0 for name in dict.fromkeys(p.gold for p in principles if p.gold in s.gold.names)}
        if not target:
            target = {name: 1.0 for name in s.gold.names}

        # -- part 1: AI labels in both orders ---------------------------------------------------------
        g = torch.Generator().manual_seed(ctx.seed)
        sg = torch.Generator(device=device).manual_seed(ctx.seed)
        train = s.comparisons("train", cfg.train_pairs, 2, cfg, g, sg).subset(slice(0, n_judged))
        heldout = s.comparisons("val", cfg.heldout_pairs, 2, cfg, g, sg)
        which = torch.randint(0, len(principles), (len(train),), generator=g)  # one sampled principle per pair
        judgements: list[PairJudgement] = []
        for i in range(len(train)):
            prompt_text = s.tokenizer.decode(train.prompts[i].tolist())
            judgements.append(judge_both_orders(judge, prompt_text, train.texts[i][0], train.texts[i][1],
                                                principles[int(which[i])]))
            bar.advance(1, judge=judge.kind)
        gold_rows = train.gold.tolist()
        agreement = agreement_with_gold(judgements, [r[0] for r in gold_rows], [r[1] for r in gold_rows],
                                        train.objectives)
        bias = position_bias(judgements)
        cost = cost_summary(judgements)
        ctx.log_table("judgements", [
            {"pair": i, "principle": j.principle.id, "forward": j.forward.choice or f"abstain ({j.forward.reason})",
             "swapped": j.swapped.choice or f"abstain ({j.swapped.reason})",
             "label": {True: "first", False: "second", None: "none"}[j.first_wins],
             **{f"gold_{m}_first_minus_second": round(float(train.gold[i, 0, k] - train.gold[i, 1, k]), 4)
                for k, m in enumerate(train.objectives)}} for i, j in enumerate(judgements)],
            caption="Every judged pair: its principle, the verdict in each order (A = the completion shown "
                    "first), the label kept (both orders agree) and the gold differences.")
        ctx.log({"judge/agreement": agreement["overall"], "judge/flip_rate": bias["flip_rate"],
                 "judge/cost_per_1k_labels": cost["cost_per_1k_labels"]})

        # -- part 2: reward models on AI, gold and human-like labels ----------------------------------
        decided = torch.tensor([j.first_wins is not None for j in judgements], dtype=torch.bool)
        idx = decided.nonzero().squeeze(-1)
        ai_first = torch.tensor([bool(j.first_wins) for j in judgements], dtype=torch.bool)[idx]
        heldout_pairs = Annotator(target).label_pairs(heldout, g)
        rlaif: dict = {"pairs": int(len(idx)), "target_weights": target}
        if len(idx) >= 2:
            chosen = train.subset(idx)
            label_sets = {"ai": labelled_pairs(chosen, ai_first),
                          "gold": Annotator(target).label_pairs(chosen, g),
                          "human": Annotator(target, cfg.human_scale, cfg.human_flip_rate).label_pairs(chosen, g)}
            make_rm = clone_as_reward_model(s.reference)
            rm_cfg = RewardTrainConfig(steps=cfg.rm_steps, batch_size=cfg.rm_batch_size, lr=cfg.rm_lr)
            for k, (name, pairs) in enumerate(label_sets.items()):
                torch.manual_seed(ctx.seed + k)
                rm = make_rm(ctx.seed + k)
                fit_reward_model(rm, pairs, rm_cfg, ctx.seed + k, device,
                                 on_step=lambda step, row, name=name: (ctx.log({f"rlaif/{name}/loss": row["loss"]}),
                                                                       bar.advance(1)))
                metrics = evaluate(rm, heldout_pairs, target, device)
                rlaif[name] = {"label_gold_agreement": pairs.label_accuracy(target),
                               "heldout_gold_accuracy": metrics["gold_accuracy"], "heldout_ece": metrics["ece"]}
                ctx.log({f"rlaif/{name}/heldout_gold_accuracy": metrics["gold_accuracy"]})
        else:
            bar.advance(3 * cfg.rm_steps)
            rlaif["note"] = "fewer than 2 pairs labelled in both orders alike: no reward models trained"

        # -- part 3: self-rewarding rounds --------------------------------------------------------------
        initial = s.reference
        policy = copy.deepcopy(initial)
        aim = cfg.self_reward_weights
        seed_set = Annotator(aim).label_pairs(s.comparisons("train", cfg.seed_pairs, 2, cfg, g, sg), g)
        eval_x = s.prompts("val", cfg.eval_prompts, cfg.prompt_len, g)
        judge_cfg = RewardTrainConfig(steps=cfg.judge_steps, batch_size=cfg.rm_batch_size, lr=cfg.judge_lr)
        rounds: list[dict] = []
        dpo_step = 0
        for t in range(cfg.rounds + 1):
            row = {"round": t, **round_quality(policy, initial, eval_x, cfg, s, ctx.seed + 500 + t)}
            if t < cfg.rounds:
                comps = s.comparisons("train", cfg.round_prompts, 2, cfg, g, sg, model=policy)
                torch.manual_seed(ctx.seed + 1000 + t)
                head = RewardModel.from_language_model(policy).requires_grad_(True)  # π_t's own weights judge
                fit_reward_model(head, seed_set, judge_cfg, ctx.seed + 1000 + t, device,
                                 on_step=lambda *_: bar.advance(1))
                with torch.no_grad():
                    x, y1, y2 = (comps.prompts.to(device), comps.completions[:, 0].to(device),
                                 comps.completions[:, 1].to(device))
                    margin = (head.reward(x, y1) - head.reward(x, y2)).cpu()  # r(y₁) − r(y₂)
                utility = Annotator(aim).utility(comps.gold, comps.objectives)  # (N, 2)
                row["judge_gold_agreement"] = truth_accuracy(margin, utility[:, 0] - utility[:, 1])
                row["seed_fit_accuracy"] = evaluate(head, seed_set, aim, device)["gold_accuracy"]
                first_wins = margin > 0
                reference = copy.deepcopy(policy).eval().requires_grad_(False)  # π_t: this round's DPO reference
                pairs = pairs_from_choice(reference, x, y1, y2, first_wins, utility[:, 0], utility[:, 1])
                policy.requires_grad_(True)

                def on_dpo(step, loss_out, grad_norm, t=t):
                    nonlocal dpo_step
                    dpo_step += 1
                    ctx.log({"self_rewarding/dpo_loss": float(loss_out.loss.detach()),
                             "self_rewarding/round": t}, step=dpo_step)
                    bar.advance(1, round=t)

                train_policy(policy, pairs, lambda b, ref=reference: method_loss("dpo", cfg, policy, ref, b, device),
                             steps=cfg.dpo_steps, batch_size=cfg.dpo_batch_size, lr=cfg.dpo_lr,
                             order=torch.Generator().manual_seed(ctx.seed + 7 + t), on_step=on_dpo)
                policy.eval().requires_grad_(False)
            rounds.append(row)
            ctx.log({f"self_rewarding/{k}": v for k, v in row.items() if isinstance(v, int | float)})

    ctx.log_table("self_rewarding_rounds", rounds, caption="Per round: gold rewards of the policy's samples on "
                  "held-out prompts, KL from the initial model, and how often its own reward head's labels agree "
                  "with gold (round t's head labels the pairs that train round t + 1).")
    fig = plots.constitutional_preferences(agreement["per_principle"], bias, rlaif, rounds, judge.kind)
    ctx.log_figure("constitutional_preferences", fig, caption="AI-label agreement with gold per principle (and "
                   "the flip rate when the pair is swapped); held-out gold accuracy of reward models trained on "
                   "AI, gold and noisy human-like labels; the self-rewarding rounds' gold rewards and KL.")
    by_construction = ("the code judge reads the gold rewards and depends only on the two texts: agreement 1 on "
                       "checkable principles and flip rate 0 by construction") if judge.kind == "code" else None
    ctx.summary(agreement=agreement["overall"], agreement_single_order=agreement["overall_single_order"],
                agreement_per_principle=agreement["per_principle"], position_bias=bias,
                flip_rate=bias["flip_rate"], cost=cost, cost_per_1k_labels=cost["cost_per_1k_labels"],
                by_construction=by_construction, rlaif=rlaif,
                self_rewarding={"rounds": rounds, "n_rounds": cfg.rounds, "judge": "a copy of the policy with a scalar "
                                "head, fine-tuned on the seed set each round", "aim": cfg.self_reward_weights, "dpo_reference": "previous round's policy",
                                "seed_pairs": cfg.seed_pairs},
                self_rewarding_rounds=cfg.rounds)


@torch.no_grad()
def round_quality(policy, initial, prompts: torch.Tensor, cfg: ConstitutionalConfig, s, seed: int) -> dict:
    """Mean gold rewards of one sample per prompt from `policy`, and its KL from `initial` on those samples."""
    from studyforge.experiments.language_modeling.generate import generate

    policy.eval()
    gen = torch.Generator(device=prompts.device).manual_seed(seed)
    ys = generate(policy, prompts, cfg.completion_len, temperature=1.0, generator=gen)[:, prompts.shape[1]:]
    gold = s.gold.score(s.tokenizer.decode(y.tolist()) for y in ys.cpu())  # (B, M)
    out = {f"gold_{name}": float(gold[:, m].mean()) for m, name in enumerate(s.gold.names)}
    kl = float(sequence_kl(policy, initial, prompts, ys).mean())
    out["kl_to_initial"] = kl if math.isfinite(kl) else None
    return out
