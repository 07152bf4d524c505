"""The figures of week 10's studies, one function per figure (study modules only hand them to `ctx.log_figure`).

matplotlib is imported inside each function (the CLI must start fast); the runner selects the Agg backend.
"""

from __future__ import annotations

# -- rlhf.ppo_text_generation -------------------------------------------------------------------------------------

DYNAMICS_PANELS = [("score", "proxy reward (RM score)"), ("gold", "gold utility"), ("kl", "KL to reference (nats)"),
                   ("entropy", "entropy per token (nats)"), ("clipfrac", "clip fraction"),
                   ("approx_kl", "approx. KL per update"), ("value_loss", "value loss"),
                   ("length", "response length (tokens)"), ("beta", "β (KL coefficient)")]


def training_dynamics(runs: dict[str, list[dict]]):
    """A 3×3 grid of RLHF curves against the update number, one line per run: proxy score, gold utility, KL
    (k1 solid, k3 dashed), entropy, clip fraction, approx-KL, value loss, response length and β."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(3, 3, figsize=(12, 8.5), layout="constrained", sharex=True)
    for (key, title), ax in zip(DYNAMICS_PANELS, axes.flat, strict=True):
        for i, (name, rows) in enumerate(runs.items()):
            x = [r["update"] for r in rows]
            ax.plot(x, [r[key] for r in rows], color=f"C{i}", lw=1.4, label=name)
            if key == "kl":
                ax.plot(x, [r["kl_k3"] for r in rows], color=f"C{i}", lw=1.0, ls="--")
        ax.set_title(title, fontsize=10)
        if key in ("beta",):
            ax.set_yscale("log")
    for ax in axes[-1]:
        ax.set_xlabel("update")
    axes[0, 0].legend(fontsize=8, loc="upper left")
    axes[0, 2].text(0.02, 0.97, "solid k1, dashed k3", transform=axes[0, 2].transAxes, fontsize=8, va="top")
    return fig


def cost_split(rows: list[dict]):
    """Horizontal stacked bars: seconds per update spent generating (sampling + policy/reference passes),
    scoring with the reward model and optimising, one bar per run."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.6 * len(rows)), layout="constrained")
    parts = [("generate_s", "generate"), ("score_s", "score"), ("optimise_s", "optimise")]
    for j, r in enumerate(rows):
        left = 0.0
        for i, (key, label) in enumerate(parts):
            ax.barh(j, r[key], left=left, color=f"C{i}", label=label if j == 0 else None)
            left += r[key]
    ax.set_yticks(range(len(rows)), [r["run"] for r in rows])
    ax.set_xlabel("seconds per update")
    ax.legend(fontsize=8, loc="lower right", ncols=3)
    return fig


# -- rlhf.kl_reward_tradeoff ----------------------------------------------------------------------------------------


def _sqrt_kl_axis(ax, max_kl: float) -> None:
    """KL on a √ scale (even steps in Gao et al.'s d = √KL), ticked at the squares 0, 1, 4, 9, …"""
    import math

    import numpy as np

    ax.set_xscale("function", functions=(lambda k: np.sqrt(np.clip(k, 0.0, None)), np.square))
    d_max = max(1, math.ceil(math.sqrt(max(max_kl, 0.0))))
    step = 1 if d_max <= 8 else math.ceil(d_max / 8)
    ticks = [float(d * d) for d in range(0, d_max + 1, step)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlim(0.0, ticks[-1] * 1.02 if ticks[-1] > 0 else 1.0)


def _setting_colors(settings: list[str]) -> dict[str, object]:
    """Fixed-β runs along viridis (largest β darkest), the adaptive run red."""
    import matplotlib.pyplot as plt

    fixed = [s for s in settings if s != "adaptive"]
    colors = {s: plt.cm.viridis(i / max(1, len(fixed) - 1) * 0.9) for i, s in enumerate(fixed)}
    colors["adaptive"] = "tab:red"
    return colors


def _setting_label(setting: str) -> str:
    """`beta0_03` -> "β = 0.03"; `adaptive` stays."""
    return "β = " + setting[4:].replace("_", ".") if setting.startswith("beta") else setting


def kl_reward_frontier(points: list[dict], frontier: list[dict], peak: dict):
    """Two panels sharing a √-scaled KL axis: proxy score and gold utility of every evaluated policy, one point per
    (β, update), each run's points joined in update order from the reference (black star); on the gold panel the
    frontier (the best gold within each KL budget, as steps) and its peak (ring), points with ± 1 standard error."""
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained", sharex=True)
    ref = next(p for p in points if p["setting"] == "reference")
    settings = list(dict.fromkeys(p["setting"] for p in points if p["setting"] != "reference"))
    colors = _setting_colors(settings)
    max_kl = max(p["kl"] for p in points)
    for s in settings:
        mine = [ref] + sorted((p for p in points if p["setting"] == s), key=lambda p: p["step"])
        x = [max(p["kl"], 0.0) for p in mine]
        for panel, key in ((ax, "proxy"), (bx, "gold")):
            panel.errorbar(x[1:], [p[key] for p in mine[1:]], yerr=[p[f"{key}_se"] for p in mine[1:]], fmt="o",
                           ms=4, color=colors[s], elinewidth=0.6, capsize=0, label=_setting_label(s))
            panel.plot(x, [p[key] for p in mine], color=colors[s], lw=0.9, alpha=0.7)
    for panel, key in ((ax, "proxy"), (bx, "gold")):
        panel.plot([0.0], [ref[key]], "*", color="black", ms=12, zorder=5, label="reference")
        _sqrt_kl_axis(panel, max_kl)
        panel.set_xlabel("KL(π ‖ π_ref) per response, nats (√ scale: d = √KL)")
        panel.grid(alpha=0.3)
    fx = [max(p["kl"], 0.0) for p in frontier] + [max(max_kl, 0.0)]
    fy = [p["gold"] for p in frontier] + [frontier[-1]["gold"]]
    bx.step(fx, fy, where="post", color="black", lw=1.3, label="gold frontier")
    bx.plot([max(peak["kl"], 0.0)], [peak["gold"]], "o", ms=14, mfc="none", mec="black", mew=1.5,
            label=f"gold peak (KL {peak['kl']:.1f})")
    ax.set_ylabel("proxy reward-model score")
    ax.set_title("proxy reward against KL")
    bx.set_ylabel("gold utility (style + fluency)")
    bx.set_title("gold reward against KL")
    ax.legend(fontsize=8, loc="best")
    handles, labels = bx.get_legend_handles_labels()
    keep = [i for i, lab in enumerate(labels) if lab in ("reference", "gold frontier") or lab.startswith("gold peak")]
    bx.legend([handles[i] for i in keep], [labels[i] for i in keep], fontsize=8, loc="best")
    return fig


def adaptive_kl(history: list[dict], heldout: list[dict], target: float):
    """Ziegler et al.'s controller at work: β per update (log scale); the KL of each rollout (k1 per response,
    the figure the controller reads) and of the held-out evaluations (± 1 standard error) against the target,
    with the band of ±20 % around it where the controller is proportional (outside it the error is clipped)."""
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4), layout="constrained", sharex=True)
    x = [r["update"] for r in history]
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.plot(x, [r["beta"] for r in history], color="tab:red", lw=1.5)
    ax.set_yscale("log")
    ax.set_xlabel("update")
    ax.set_ylabel("β (KL coefficient)")
    ax.set_title("β steered by the controller")
    ax.grid(alpha=0.3, which="both")
    bx.plot(x, [r["kl"] for r in history], color="tab:red", lw=1.2, label="rollout KL (what the controller reads)")
    bx.errorbar([p["step"] for p in heldout], [p["kl"] for p in heldout], yerr=[p["kl_se"] for p in heldout],
                fmt="o", color="black", ms=4, capsize=3, label="held-out KL ± 1 SE")
    bx.axhline(target, color="grey", ls="--", lw=1.0, label=f"target {target:g} nats")
    # outside ±20 % of the target the error is clipped: β moves at its fastest rate, whatever the distance
    bx.axhspan(0.8 * target, 1.2 * target, color="grey", alpha=0.15, lw=0, label="proportional band (±20 %)")
    bx.set_xlabel("update")
    bx.set_ylabel("KL per response (nats)")
    bx.set_title("KL against its target")
    bx.legend(fontsize=8, loc="best")
    bx.grid(alpha=0.3)
    return fig


# -- rlhf.algorithm_comparison ------------------------------------------------------------------------------------

def algorithms_against_kl(curves: dict[str, list[dict]], bon_rows: list[dict], matched_kl: float):
    """Two panels on a √-scaled KL axis: gold utility and proxy score of PPO and GRPO (held-out evaluations,
    joined in update order) and of best-of-n (analytic KL, expected value ± 1 standard error over prompts, each
    point labelled with its n); a dotted line at the KL where the headline compares them."""
    import matplotlib.pyplot as plt

    from studyforge.experiments.plotting import label_points

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.6), layout="constrained", sharex=True)
    max_kl = max([p["kl"] for c in curves.values() for p in c] + [b["kl"] for b in bon_rows])
    for ax, key, title in ((axes[0], "gold", "gold utility (style + fluency)"),
                           (axes[1], "proxy", "proxy reward-model score")):
        for i, (name, curve) in enumerate(curves.items()):
            ax.plot([max(p["kl"], 0.0) for p in curve], [p[key] for p in curve], "o-", ms=4, lw=1.2,
                    color=f"C{i}", label=name.upper())
        x = [b["kl"] for b in bon_rows]
        y = [b[key] for b in bon_rows]
        ax.errorbar(x, y, yerr=[b[f"{key}_se"] for b in bon_rows], fmt="s--", ms=4, lw=1.0, capsize=2,
                    color="black", label="best-of-n")
        ax.axvline(matched_kl, color="grey", ls=":", lw=1.0)
        _sqrt_kl_axis(ax, max_kl)
        ax.set_xlabel("KL(π ‖ π_ref) per response, nats (√ scale)")
        ax.set_ylabel(title)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
        label_points(ax, list(zip(x, y, strict=True)), [f"n={b['n']}" for b in bon_rows],
                     prefer=("above left", "above", "left", "below right", "below", "right"), fontsize=7)
    axes[0].set_title("gold against KL: what each method buys")
    axes[1].set_title("proxy against KL: what each method optimises")
    return fig


FAILURE_PANELS = [("proxy", "proxy score"), ("gold", "gold utility"), ("kl", "KL per response (nats)"),
                  ("entropy", "entropy per token (nats)"), ("length", "length (tokens)"),
                  ("stop_rate", "share of responses that stop"), ("distinct_2", "distinct-2 within a response"),
                  ("gold_fluency", "gold fluency (real words)")]


def failure_modes(curves: dict[str, list[dict]]):
    """A 2×4 grid of held-out curves against the update, one line per run: proxy, gold, KL, entropy, length, stop
    rate, distinct-2 and gold fluency."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(14, 6.4), layout="constrained", sharex=True)
    for (key, title), ax in zip(FAILURE_PANELS, axes.flat, strict=True):
        for i, (name, curve) in enumerate(curves.items()):
            ax.plot([p["update"] for p in curve], [p[key] for p in curve], "o-", ms=3, lw=1.3, color=f"C{i}",
                    label=name.replace("_", " "))
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("update")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside lower center", ncols=len(curves), fontsize=9)
    return fig


def update_cost(rows: list[dict]):
    """Two panels, one row per method: seconds per update (RL) or per response served (best-of-n) split into
    generating, scoring and optimising (stacked); and the tokens generated and passes of each model (log scale;
    a zero is not drawn)."""
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(13, 1.6 + 0.55 * len(rows)), layout="constrained", sharey=True)
    parts = [("generate_s", "generate"), ("score_s", "score"), ("optimise_s", "optimise")]
    for j, r in enumerate(rows):
        left = 0.0
        for i, (key, label) in enumerate(parts):
            ax.barh(j, r[key], left=left, color=f"C{i}", label=label if j == 0 else None)
            left += r[key]
    ax.set_yticks(range(len(rows)), [r["method"].replace("_", " ") for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("seconds per update (RL) or per response served (best-of-n)")
    ax.legend(fontsize=8, loc="lower right")
    counts = [("tokens_generated", "tokens generated"), ("policy_forward", "policy forward"),
              ("reference_forward", "reference forward"), ("reward_forward", "reward forward"),
              ("policy_backward", "policy backward")]
    h = 0.8 / len(counts)
    for i, (key, label) in enumerate(counts):
        ys = [j - 0.4 + (i + 0.5) * h for j, r in enumerate(rows) if r[key] > 0]
        ws = [r[key] for r in rows if r[key] > 0]
        bx.barh(ys, ws, height=h, color=f"C{i + 3}", label=label)
    bx.set_xscale("log")
    bx.set_xlabel("count per update (RL) or per response served (best-of-n)")
    bx.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return fig
