"""The figures of week 9's studies, one function per figure (study modules only hand them to `ctx.log_figure`).

matplotlib is imported inside each function (the CLI must start fast); the runner selects the Agg backend.
"""

from __future__ import annotations

# -- preference.preference_learning_algorithms ----------------------------------------------------------------


def listwise_vs_pairwise(network_rows, tabular_rows):
    """Two panels: held-out gold accuracy of the reward models per design (bars: mean over seeds, dots: each
    seed); and the tabular fits' held-out accuracy against the annotation budget (mean ± standard error)."""
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    designs = list(dict.fromkeys(r["design"] for r in network_rows))
    for i, d in enumerate(designs):
        accs = [r["gold_accuracy"] for r in network_rows if r["design"] == d]
        ax.bar(i, sum(accs) / len(accs), color=f"C{i}", alpha=0.7)
        ax.plot([i] * len(accs), accs, "o", mfc="none", mec="black", ms=6)
    ax.set_xticks(range(len(designs)), [d.replace("_", " ") for d in designs])
    low = min(r["gold_accuracy"] for r in network_rows)
    ax.set_ylim(max(0.0, min(0.5, low) - 0.05), 1.0)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("held-out gold accuracy")
    ax.set_title("reward models from the same K-way annotations")
    for i, d in enumerate(dict.fromkeys(r["design"] for r in tabular_rows)):
        rows = sorted((r for r in tabular_rows if r["design"] == d), key=lambda r: r["budget"])
        x = [r["budget"] for r in rows]
        y = [r["heldout_accuracy"] for r in rows]
        se = [r["heldout_accuracy_se"] for r in rows]
        bx.errorbar(x, y, yerr=se, marker="o", ms=4, capsize=3, color=f"C{i}", label=d.replace("_", " "))
    bx.set_xscale("log")
    bx.set_xlabel("annotation queries")
    bx.set_ylabel("held-out pair accuracy")
    bx.set_title("tabular: planted item strengths")
    bx.legend(fontsize=8, loc="lower right")
    return fig


def arena_ratings(rows, judge: str):
    """Ratings against each model's mean gold reward: BT-MLE with its bootstrap interval, Elo in battle order,
    and Elo's range over shuffled battle orders (models named next to their BT point)."""
    import matplotlib.pyplot as plt

    from studyforge.experiments.plotting import label_points

    fig, ax = plt.subplots(figsize=(7, 4.6), layout="constrained")
    x = [r[f"gold_{judge}"] for r in rows]
    bt = [r["bt"] for r in rows]
    if rows[0]["bt_low"] is not None:
        err = [[b - r["bt_low"] for b, r in zip(bt, rows, strict=True)],
               [r["bt_high"] - b for b, r in zip(bt, rows, strict=True)]]
    else:
        err = None
    ax.errorbar(x, bt, yerr=err, fmt="o", color="C0", capsize=4, label="Bradley–Terry MLE (95% bootstrap)")
    ax.vlines(x, [r["elo_order_min"] for r in rows], [r["elo_order_max"] for r in rows], color="C1", lw=6,
              alpha=0.3, label="Elo over shuffled orders (min–max)")
    ax.plot(x, [r["elo"] for r in rows], "s", color="C1", ms=5, label="Elo in battle order")
    ax.set_xlabel(f"mean gold {judge} of the model's completions")
    ax.set_ylabel("rating")
    ax.set_title("arena ratings against the gold reward")
    ax.margins(x=0.15, y=0.12)
    ax.legend(fontsize=8, loc="upper left")
    label_points(ax, list(zip(x, bt, strict=True)), [r["model"] for r in rows],
                 prefer=("below right", "right", "below", "below left", "above right", "left"))
    return fig


def objective_matrix(matrix):
    """Heatmap: rows the weighting a reward model's annotator used, columns the gold objective it is scored
    against, cells the held-out gold accuracy."""
    import matplotlib.pyplot as plt
    import numpy as np

    rows = list(matrix)
    cols = list(next(iter(matrix.values())))
    values = np.array([[matrix[r][c] for c in cols] for r in rows], dtype=float)
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    image = ax.imshow(values, cmap="viridis", vmin=min(0.4, np.nanmin(values)), vmax=1.0)
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=10,
                    color="white" if values[i, j] < 0.75 else "black")
    ax.set_xticks(range(len(cols)), [c.replace("_", "\n") for c in cols])
    ax.set_yticks(range(len(rows)), [r.replace("_", " ") for r in rows])
    ax.set_xlabel("scored against gold")
    ax.set_ylabel("annotator weighting trained on")
    ax.set_title("held-out gold accuracy")
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


# -- preference.constitutional_preferences --------------------------------------------------------------------


def constitutional_preferences(per_principle, bias, rlaif, rounds, judge_kind):
    """Three panels: AI-label agreement with gold per checkable principle (with the flip rate under swapping in
    the title); held-out gold accuracy of reward models trained on AI, gold and noisy human-like labels; and the
    self-rewarding rounds' gold rewards (left axis) and KL from the initial model (right axis)."""
    import matplotlib.pyplot as plt

    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(14, 4.2), layout="constrained")
    checked = {pid: r for pid, r in per_principle.items() if r.get("agreement") is not None}
    ax.bar(range(len(checked)), [r["agreement"] for r in checked.values()], color="C0", alpha=0.8)
    ax.set_xticks(range(len(checked)), list(checked))
    ax.set_ylim(0, 1.05)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("principle (with a gold reward)")
    ax.set_ylabel("AI label agrees with gold")
    flip = bias.get("flip_rate")
    ax.set_title(f"{judge_kind} judge · flip rate {flip:.2f}" if flip is not None else f"{judge_kind} judge")
    names = [n for n in ("ai", "gold", "human") if n in rlaif]
    bx.bar(range(len(names)), [rlaif[n]["heldout_gold_accuracy"] for n in names],
           color=[f"C{i + 1}" for i in range(len(names))], alpha=0.8)
    bx.set_xticks(range(len(names)), [{"ai": "AI labels", "gold": "gold labels", "human": "noisy human"}[n]
                                      for n in names])
    bx.set_ylim(0, 1.05)
    bx.axhline(0.5, color="grey", lw=0.8, ls=":")
    bx.set_ylabel("held-out gold accuracy")
    bx.set_title(f"RLAIF: reward models on {rlaif.get('pairs', 0)} pairs")
    ts = [r["round"] for r in rounds]
    for i, key in enumerate(k for k in rounds[0] if k.startswith("gold_")):
        cx.plot(ts, [r[key] for r in rounds], marker="os"[i % 2], color=f"C{i}", label=key.removeprefix("gold_"))
    cx.set_xticks(ts)
    cx.set_xlabel("self-rewarding round")
    cx.set_ylabel("gold reward of samples")
    cx.set_title("self-rewarding rounds")
    kx = cx.twinx()
    kx.plot(ts, [r["kl_to_initial"] if r["kl_to_initial"] is not None else float("nan") for r in rounds], "--",
            color="grey", label="KL to initial")
    kx.set_ylabel("KL to initial (nats)")
    lines = cx.get_legend_handles_labels()
    more = kx.get_legend_handles_labels()
    cx.legend(lines[0] + more[0], lines[1] + more[1], loc="best", fontsize=8)
    return fig


# -- preference.reward_model_ensembles ------------------------------------------------------------------------


def reward_model_ensembles(architectures, ensembles):
    """Two panels: held-out gold accuracy of the shared and separate towers, of every ensemble member (dots)
    and of the seed and bootstrap ensembles (bars); and each ensemble's gold accuracy by disagreement quintile
    (lowest disagreement first)."""
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    names = ["shared", "separate", *ensembles]
    heights = [architectures["shared"]["gold_accuracy"], architectures["separate"]["gold_accuracy"]]
    heights += [r["ensemble_gold_accuracy"] for r in ensembles.values()]
    colours = ["C0", "C1"] + [f"C{i + 2}" for i in range(len(ensembles))]
    ax.bar(range(len(names)), heights, color=colours, alpha=0.75)
    for i, r in enumerate(ensembles.values(), start=2):
        members = r["member_gold_accuracy"]
        ax.plot([i] * len(members), members, "o", mfc="none", mec="black", ms=6,
                label="ensemble members" if i == 2 else None)
    ax.set_xticks(range(len(names)), ["shared\ntower", "separate\ntowers"] + [f"{k}\nensemble" for k in ensembles])
    low = min(heights + [m for r in ensembles.values() for m in r["member_gold_accuracy"]])
    ax.set_ylim(max(0.0, low - 0.1), 1.0)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_ylabel("held-out gold accuracy")
    ax.set_title("architectures and ensembles")
    ax.legend(loc="upper right", fontsize=8)
    for i, (kind, r) in enumerate(ensembles.items()):
        q = r["by_disagreement_quintile"]
        bx.plot([row["quantile"] for row in q], [row["gold_accuracy"] for row in q], marker="os"[i % 2],
                color=f"C{i + 2}", label=f"{kind} (AUROC {r['disagreement_auroc']:.2f})")
    bx.set_xticks(range(1, 6))
    bx.set_xlabel("disagreement quintile (1 = members agree most)")
    bx.set_ylabel("ensemble gold accuracy")
    bx.set_title("does disagreement flag the errors?")
    bx.legend(loc="best", fontsize=8, title="disagreement as error detector", title_fontsize=8)
    return fig


def reward_model_reliability(predictors):
    """A reliability diagram: for each predictor (name -> {"bins": reliability_bins rows, "ece": ...}) the mean
    gold outcome against the mean predicted P(chosen ≻ rejected) per non-empty bin, with the diagonal; the
    legend carries each predictor's ECE."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.4, 5), layout="constrained")
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="calibrated")
    for i, (name, row) in enumerate(predictors.items()):
        full = [b for b in row["bins"] if b["count"]]
        ax.plot([b["mean_prob"] for b in full], [b["frequency"] for b in full], marker="os^"[i % 3],
                color=f"C{i}", label=f"{name} (ECE {row['ece']:.3f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted P(chosen ≻ rejected)")
    ax.set_ylabel("share where the chosen is gold-better")
    ax.set_title("reward-model calibration against gold")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def reward_model_scaling(backbone_points, data_points, pretrained):
    """Two panels: held-out gold accuracy against backbone parameters (fresh backbones, labelled d×layers; a
    star for the pretrained reference as backbone) and against the number of training pairs."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    from studyforge.experiments.plotting import label_points

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    xs = [p["params"] for p in backbone_points]
    ys = [p["gold_accuracy"] for p in backbone_points]
    ax.plot(xs, ys, "o-", color="C0", label="fresh backbone")
    ax.plot([pretrained["params"]], [pretrained["gold_accuracy"]], "*", ms=14, color="C3",
            label="pretrained reference")
    ax.set_xscale("log")
    ax.xaxis.set_minor_formatter(NullFormatter())  # 2×10³ 3×10³ … would run into each other
    everything = ys + [pretrained["gold_accuracy"]]
    ax.set_ylim(max(0.0, min(everything) - 0.1), min(1.0, max(everything) + 0.1))
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    label_points(ax, zip(xs, ys, strict=True), [f"d{p['d_model']}×{p['n_layers']}" for p in backbone_points])
    ax.set_xlabel("reward-model parameters")
    ax.set_ylabel("held-out gold accuracy")
    ax.set_title("backbone size")
    ax.legend(loc="lower right", fontsize=8)
    pairs = [p["pairs"] for p in data_points]
    bx.plot(pairs, [p["gold_accuracy"] for p in data_points], "s-", color="C2")
    bx.set_xscale("log")
    bx.set_xticks(pairs, [str(n) for n in pairs])
    bx.xaxis.set_minor_formatter(NullFormatter())
    ys = [p["gold_accuracy"] for p in data_points]
    bx.set_ylim(max(0.0, min(ys) - 0.1), min(1.0, max(ys) + 0.1))
    bx.axhline(0.5, color="grey", lw=0.8, ls=":")
    bx.set_xlabel("training pairs")
    bx.set_ylabel("held-out gold accuracy")
    bx.set_title("data size (pretrained backbone)")
    return fig


# -- preference.dataset_quality -------------------------------------------------------------------------------


def noise_estimate_vs_injected(rows):
    """The toolkit's label-noise estimate against the injected flip rate (filled circles), the share of labels
    that go against the gold in the same files (open squares), and the line y = x."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.4, 4.8), layout="constrained")
    injected = [r["injected"] for r in rows]
    top = max([0.05, *injected, *(r.get("noise_estimate") or 0.0 for r in rows),
               *(r["label_error_vs_gold"] for r in rows)]) + 0.05
    ax.plot([0, top], [0, top], color="grey", ls="--", lw=1, label="y = x")
    ax.plot(injected, [r.get("noise_estimate", float("nan")) for r in rows], "o-", color="C0", ms=8,
            label="toolkit's estimate")
    ax.plot(injected, [r["label_error_vs_gold"] for r in rows], "s", color="C3", mfc="none", ms=8,
            label="labels against the gold")
    ax.set_xlim(-0.02, top)
    ax.set_ylim(-0.02, top)
    ax.set_xlabel("injected label-flip rate ρ")
    ax.set_ylabel("label noise")
    ax.set_title("does the toolkit see the noise?")
    ax.legend(loc="upper left", fontsize=8)
    return fig


_VARIANT_LABEL = {"plain": "plain Bradley–Terry", "smoothing_rate": "label smoothing ε = ρ",
                  "smoothing_fixed": "label smoothing, fixed ε", "margin": "margin m"}


def noise_robustness(rows):
    """Held-out gold accuracy of reward models against the injected flip rate, one line per training loss
    (rows: flip_rate, variant, gold_accuracy, ci95), with 95% error bars where several seeds ran."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.4), layout="constrained")
    variants = list(dict.fromkeys(r["variant"] for r in rows))
    rates = sorted({r["flip_rate"] for r in rows})
    span = (rates[-1] - rates[0]) if len(rates) > 1 else 1.0
    for i, v in enumerate(variants):
        mine = sorted((r for r in rows if r["variant"] == v), key=lambda r: r["flip_rate"])
        shift = (i - (len(variants) - 1) / 2) * 0.008 * span  # side by side, so error bars do not hide each other
        ax.errorbar([r["flip_rate"] + shift for r in mine], [r["gold_accuracy"] for r in mine],
                    yerr=[r["ci95"] or 0.0 for r in mine], marker="os^D"[i % 4], color=f"C{i}", capsize=3,
                    mfc="none" if i % 2 else f"C{i}", label=_VARIANT_LABEL.get(v, v))
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("injected label-flip rate ρ (training labels)")
    ax.set_ylabel("held-out gold accuracy")
    ax.set_title("reward models trained through label noise")
    ax.legend(loc="lower left", fontsize=8)
    return fig


def elicitation_curves(curves):
    """Gold accuracy against labels bought, per acquisition rule: the mean over seeds and a 95% t-interval band
    (curves: rule -> {labels, mean, ci95})."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.2, 4.4), layout="constrained")
    for i, (rule, c) in enumerate(curves.items()):
        xs, ys = c["labels"], c["mean"]
        ax.plot(xs, ys, marker="os^D"[i % 4], ms=5, color=f"C{i}", label=rule,
                ls="--" if rule == "random" else "-")
        if all(h is not None for h in c["ci95"]):
            # the band clipped to [0, 1], where an accuracy lives (a t-interval of few seeds can overshoot)
            ax.fill_between(xs, [max(0.0, y - h) for y, h in zip(ys, c["ci95"], strict=True)],
                            [min(1.0, y + h) for y, h in zip(ys, c["ci95"], strict=True)], color=f"C{i}",
                            alpha=0.15, lw=0)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("labels bought (seed set included)")
    ax.set_ylabel("held-out gold accuracy")
    ax.set_title("active preference elicitation")
    ax.legend(loc="lower right", fontsize=8, title="acquisition rule", title_fontsize=8)
    return fig
