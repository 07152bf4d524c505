"""Figures of the week-12 studies (matplotlib, imported lazily; the runner sets the Agg backend). Each function
returns a Figure for `ctx.log_figure`, which saves and closes it.

Specification gaming in the gridworlds (`reward_hacking.simple_environments`):
- `proxy_and_success`  proxy return and true success against training steps, every seed thin and the mean thick,
                       for PPO on the proxy and the control, with the scripted policies as reference lines
- `goodhart_plane`     where each policy lands: proxy return against true success (scripted, exact optima,
                       every trained seed)

Mitigations of over-optimisation (`reward_hacking.mitigations`):
- `mitigation_curves`      gold and proxy against PPO updates and against KL per arm, mean over seeds with 95%
                           t-intervals, early stopping's stops as stars
- `mitigation_gold_vs_kl`  gold against KL, one panel per arm: every seed thin with its peak, the mean thick
- `mitigation_peaks`       gold peak and final gold per arm with intervals, against the baseline's peak interval
"""

from __future__ import annotations

from typing import Any

import numpy as np

from studyforge.experiments.plotting import label_points

# one colour per kind of run, shared by both figures
GAMING_COLORS = {"proxy": "tab:red", "control": "tab:blue"}


def proxy_and_success(grid: np.ndarray, curves: dict[str, dict[str, list[np.ndarray]]],
                      references: dict[str, dict[str, float]], title: str) -> Any:
    """Two panels against environment steps: the proxy return (left) and the true success rate (right) of the
    training episodes. `curves[group]["proxy" | "success"]` holds one (G,) curve per seed, drawn thin, with the
    seeds' mean thick; `references[name]` = {"proxy": …, "success": …} of a scripted policy, drawn dashed."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), layout="constrained")
    styles = ["--", ":", "-."]
    for ax, key, ylabel in ((axes[0], "proxy", "proxy return (episode)"),
                            (axes[1], "success", "true success rate")):
        for (name, ref), ls in zip(references.items(), styles, strict=False):
            ax.axhline(ref[key], color="0.35", ls=ls, lw=1.2, label=f"scripted: {name}")
        for group, runs in curves.items():
            color = GAMING_COLORS["proxy" if "proxy" in group else "control"]
            seeds = np.stack(runs[key])  # (seeds, G)
            for curve in seeds:
                ax.plot(grid, curve, color=color, lw=0.7, alpha=0.35)
            ax.plot(grid, np.nanmean(seeds, axis=0), color=color, lw=2.2, label=f"{group} (n={len(seeds)})")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    axes[1].set_ylim(-0.05, 1.05)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)), fontsize=8)
    fig.suptitle(title)
    return fig


def goodhart_plane(points: dict[str, list[tuple[str, float, float, str]]]) -> Any:
    """Proxy return (x) against true success (y), one panel per environment. `points[env]` lists
    (label, proxy return, success, kind) with kind "scripted", "exact", "proxy" or "control"; scripted and
    exact points are labelled and drawn hollow, so the trained seeds (unlabelled dots in their run's colour) that
    land on them stay visible."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(points), figsize=(5.2 * len(points), 4.4), layout="constrained", squeeze=False)
    markers = {"scripted": ("s", "0.2", 130), "exact": ("D", "tab:green", 70)}
    for ax, (env, rows) in zip(axes[0], points.items(), strict=True):
        named: dict[tuple[float, float], list[str]] = {}  # policies that land on the same point share a label
        for label, x, y, kind in rows:
            if kind in markers:
                marker, color, size = markers[kind]
                ax.scatter([x], [y], marker=marker, facecolors="none", edgecolors=color, s=size, lw=1.5, zorder=2)
                named.setdefault((round(x, 6), round(y, 6)), []).append(label)
            else:
                ax.scatter([x], [y], marker="o", color=GAMING_COLORS[kind], alpha=0.7, s=22, zorder=3)
        xs = [x for _, x, _, _ in rows]
        pad = 0.12 * (max(xs) - min(xs) or 1.0)
        ax.set_xlim(min(xs) - pad, max(xs) + pad)
        ax.set_ylim(-0.2, 1.25)
        label_points(ax, list(named), [" = ".join(labels) for labels in named.values()])
        ax.set_title(env.replace("_", " "))
        ax.set_xlabel("proxy return (episode)")
        ax.set_ylabel("true success rate")
        ax.grid(alpha=0.3)
    # a legend for the trained seeds' colours, outside the panels
    names = {"proxy": "PPO on the proxy (a seed)", "control": "PPO control (a seed)"}
    handles = [plt.Line2D([], [], marker="o", ls="", color=c, label=names[k]) for k, c in GAMING_COLORS.items()]
    fig.legend(handles=handles, loc="outside lower center", ncol=2, fontsize=8)
    fig.suptitle("Goodhart's law: the proxy rewards what the task does not")
    return fig


# -- reward_hacking.mitigations --------------------------------------------------------------------------------------

# one colour per arm of the mitigations study, shared by its figures
ARM_COLORS = {"baseline": "tab:red", "large_beta": "tab:blue", "ensemble_min": "tab:green",
              "ensemble_mean_minus_std": "tab:olive", "length_penalty": "tab:purple", "early_stop": "tab:orange"}


def _arm_band(ax, x, band: dict, color, label: str | None = None, bars: bool = False) -> None:
    """A mean line with its interval (where there is one: two seeds or more), shaded — or, with `bars`, as error
    bars at the points (for an x that is itself a mean over seeds, such as the KL, and need not grow)."""
    x = np.asarray(x, dtype=float)
    mean, lo, hi = (np.asarray(band[k], dtype=float) for k in ("mean", "lo", "hi"))
    ok = np.isfinite(lo) & np.isfinite(hi)
    if bars:
        err = np.where(ok, [mean - lo, hi - mean], 0.0) if ok.any() else None
        ax.errorbar(x, mean, yerr=err, color=color, lw=1.5, marker="o", ms=3, capsize=2, elinewidth=0.8,
                    label=label)
        return
    ax.plot(x, mean, color=color, lw=1.8, label=label)
    if ok.any():
        ax.fill_between(x, np.where(ok, lo, mean), np.where(ok, hi, mean), color=color, alpha=0.15, lw=0)


def mitigation_curves(bands: dict[str, dict], stops: list[dict]) -> Any:
    """A 2×2 grid, one line per RL arm (mean over seeds with its 95% t-interval: a band against updates, error
    bars against KL): held-out gold (top) and ensemble-mean proxy (bottom) against PPO updates (left) and
    against the mean KL from the reference (right).
    `bands[arm]` = {"update": […], "kl" | "gold" | "proxy": {"mean", "lo", "hi"}}; `stops` (early stopping's
    per-seed stop: stop_update, stop_kl, eval_gold) are drawn as stars on the gold panels."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5), layout="constrained", sharey="row")
    for arm, band in bands.items():
        if arm == "early_stop":
            continue  # the baseline's own curve, cut short: drawn as its stops
        color = ARM_COLORS.get(arm, "0.3")
        for row, key in enumerate(("gold", "proxy")):
            _arm_band(axes[row, 0], band["update"], band[key], color, label=arm.replace("_", " ") if row == 0 else None)
            _arm_band(axes[row, 1], band["kl"]["mean"], band[key], color, bars=True)
    if stops:
        for ax, x in ((axes[0, 0], "stop_update"), (axes[0, 1], "stop_kl")):
            ax.scatter([s[x] for s in stops], [s["eval_gold"] for s in stops], marker="*", s=110, zorder=4,
                       color=ARM_COLORS["early_stop"], edgecolor="k", lw=0.5,
                       label="early stop (per seed)" if x == "stop_update" else None)
    axes[0, 0].set_ylabel("gold utility (held-out)")
    axes[1, 0].set_ylabel("proxy: ensemble mean (held-out)")
    for ax in axes[1]:
        ax.set_xlabel("PPO update" if ax is axes[1, 0] else "KL from the reference (nats / response)")
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=min(6, len(labels)), fontsize=8)
    fig.suptitle("Mitigations of over-optimisation: mean over seeds, 95% t-bands")
    return fig


def mitigation_gold_vs_kl(bands: dict[str, dict], stops: list[dict]) -> Any:
    """Gold against KL, one panel per RL arm: each seed's run thin (`bands[arm]["runs"]`: (kl, gold) points in
    update order) with its peak as a dot, the seeds' mean thick; the reference's gold dashed; the baseline's
    panel also marks early stopping's stops as stars."""
    import matplotlib.pyplot as plt

    arms = [a for a in bands if a != "early_stop"]
    cols = min(3, len(arms))
    rows = -(-len(arms) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.5 * rows), layout="constrained", sharey=True,
                             squeeze=False)
    ref = float(np.mean([run[0][1] for run in bands[arms[0]]["runs"]]))
    for ax, arm in zip(axes.flat, arms, strict=False):
        color = ARM_COLORS.get(arm, "0.3")
        for run in bands[arm]["runs"]:
            kl, gold = np.array(run).T
            ax.plot(kl, gold, color=color, lw=0.8, alpha=0.45)
            i = int(np.argmax(gold))
            ax.scatter([kl[i]], [gold[i]], color=color, s=22, zorder=3)
        ax.plot(bands[arm]["kl"]["mean"], bands[arm]["gold"]["mean"], color=color, lw=2.2)
        ax.axhline(ref, color="0.4", ls="--", lw=1)
        if arm == "baseline" and stops:
            ax.scatter([s["stop_kl"] for s in stops], [s["eval_gold"] for s in stops], marker="*", s=110, zorder=4,
                       color=ARM_COLORS["early_stop"], edgecolor="k", lw=0.5)
        ax.set_title(arm.replace("_", " "), fontsize=10)
        ax.set_xlabel("KL (nats / response)")
        ax.grid(alpha=0.3)
    for ax in axes[:, 0]:
        ax.set_ylabel("gold utility")
    for ax in list(axes.flat)[len(arms):]:
        ax.set_visible(False)
    fig.suptitle("Gold against KL per arm: seeds thin (dot: peak), mean thick, reference dashed"
                 + ("; stars: early stops" if stops else ""), fontsize=10)
    return fig


def mitigation_peaks(peaks: dict[str, dict]) -> Any:
    """Per arm, the gold peak (max over the run) and the final gold, mean with its 95% t-interval (`peaks[arm]`
    = {"peak_gold" | "final_gold": {"mean", "lo", "hi"}}); the baseline's peak interval is the shaded band."""
    import matplotlib.pyplot as plt

    arms = list(peaks)
    fig, ax = plt.subplots(figsize=(1.3 * len(arms) + 3, 4.2), layout="constrained")
    base = peaks.get("baseline", {}).get("peak_gold", {})
    if base.get("lo") is not None:
        ax.axhspan(base["lo"], base["hi"], color=ARM_COLORS["baseline"], alpha=0.12, lw=0)
    for key, marker, dx in (("peak_gold", "o", -0.12), ("final_gold", "s", 0.12)):
        for i, arm in enumerate(arms):
            e = peaks[arm][key]
            err = None
            if e.get("lo") is not None:
                err = [[e["mean"] - e["lo"]], [e["hi"] - e["mean"]]]
            ax.errorbar([i + dx], [e["mean"]], yerr=err, fmt=marker, color=ARM_COLORS.get(arm, "0.3"),
                        mfc="white" if key == "final_gold" else None, capsize=3)
    ax.set_xticks(range(len(arms)), [a.replace("_", "\n") for a in arms], fontsize=8)
    ax.set_ylabel("gold utility (held-out)")
    ax.grid(alpha=0.3, axis="y")
    handles = [plt.Line2D([], [], marker="o", ls="", color="0.2", label="peak (max over the run)"),
               plt.Line2D([], [], marker="s", ls="", color="0.2", mfc="white", label="final")]
    if base.get("lo") is not None:
        handles.append(plt.Rectangle((0, 0), 1, 1, color=ARM_COLORS["baseline"], alpha=0.12,
                                     label="baseline peak, 95% CI"))
    ax.legend(handles=handles, fontsize=8, loc="best")
    ax.set_title("Gold peak and final gold per arm (mean, 95% t-interval over seeds)", fontsize=10)
    return fig


# -- reward_hacking.distributional_shift ---------------------------------------------------------------------


def _errorbars(ax, rows, key: str, color: str, label: str, marker: str = "o") -> None:
    """rows' `key` against their KL with the `key_lo`–`key_hi` interval as error bars (a point without an
    interval is drawn without a bar)."""
    x = np.array([r["kl"] for r in rows], dtype=float)
    y = np.array([r[key] for r in rows], dtype=float)
    lo = np.array([r.get(f"{key}_lo", np.nan) for r in rows], dtype=float)
    hi = np.array([r.get(f"{key}_hi", np.nan) for r in rows], dtype=float)
    err = np.vstack([np.nan_to_num(y - lo), np.nan_to_num(hi - y)])
    ax.errorbar(x, y, yerr=err, fmt=f"{marker}-", color=color, ms=4, capsize=3, lw=1.2, label=label)


def shift_accuracy_vs_kl(points: list[dict], heldout_accuracy: float | None = None,
                         clear_margin: float | None = None) -> Any:
    """Three panels against the policy's KL from the reference (nats per response), one point per examination:
    the proxy's pairwise gold accuracy (all decided pairs, and with `clear_margin` the pairs whose gold differs by
    at least that much) and Spearman's ρ(proxy, gold), with their 95% bootstrap intervals; and the symmetric ECE
    of σ(r₁ − r₂) against the gold outcome."""
    import matplotlib.pyplot as plt

    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
    _errorbars(ax, points, "gold_accuracy", "C0", "on the policy's own pairs")
    if clear_margin is not None:
        _errorbars(ax, points, "accuracy_clear", "C4", f"pairs with |Δ gold| ≥ {clear_margin:g}", marker="s")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":", label="chance")
    if heldout_accuracy is not None:
        ax.axhline(heldout_accuracy, color="C1", lw=1.0, ls="--", label="held-out reference pairs (setup)")
    ax.set_ylabel("pairwise accuracy against gold")
    ax.set_title("the proxy's accuracy")
    ax.legend(fontsize=8, loc="best")
    _errorbars(bx, points, "spearman", "C2", "ρ(proxy score, gold utility)")
    bx.axhline(0.0, color="grey", lw=0.8, ls=":")
    bx.set_ylabel("Spearman ρ over single responses")
    bx.set_title("rank correlation with gold")
    cx.plot([r["kl"] for r in points], [r["ece"] for r in points], "s-", color="C3", ms=4, lw=1.2)
    cx.set_ylabel("symmetric ECE of σ(r₁ − r₂)")
    cx.set_title("calibration against gold")
    for a in (ax, bx, cx):
        a.set_xlabel("KL(π ‖ π_ref), nats per response")
    return fig


def shift_score_distributions(stages: dict[str, dict[str, list[float]]]) -> Any:
    """Reference vs final policy on the same held-out prompts: histograms of the proxy's scores and of the gold
    utility, and proxy against gold per response coloured by stage. `stages`: {name: {"proxy": [...],
    "gold": [...]}} in drawing order."""
    import matplotlib.pyplot as plt

    fig, (ax, bx, cx) = plt.subplots(1, 3, figsize=(13, 4.2), layout="constrained")
    for key, a, label in (("proxy", ax, "proxy reward-model score"), ("gold", bx, "gold utility (style + fluency)")):
        values = np.concatenate([np.asarray(s[key], dtype=float) for s in stages.values()])
        bins = np.linspace(values.min(), values.max() + 1e-9, 31)
        for i, (name, s) in enumerate(stages.items()):
            a.hist(s[key], bins=bins, alpha=0.5, color=f"C{i}", label=f"{name} (mean {np.mean(s[key]):.2f})")
        a.set_xlabel(label)
        a.set_ylabel("responses")
        a.legend(fontsize=8, loc="upper left")
    ax.set_title("what the policy optimises")
    bx.set_title("what we wanted")
    for i, (name, s) in enumerate(stages.items()):
        cx.scatter(s["gold"], s["proxy"], s=8, alpha=0.5, color=f"C{i}", label=name)
    cx.set_xlabel("gold utility")
    cx.set_ylabel("proxy score")
    cx.set_title("proxy against gold, per response")
    cx.legend(fontsize=8, loc="best", markerscale=2)
    return fig


def shift_where_wrong(points: list[dict]) -> Any:
    """Where the proxy goes wrong, against KL: its accuracy on aligned pairs (no gold objective favours the
    worse response) and on style–fluency conflicts split by gold's winner; and, on conflicts, how often the
    proxy and gold prefer the higher-style response, beside how often each prefers the longer one."""
    import matplotlib.pyplot as plt

    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    kl = [r["kl"] for r in points]
    for key, label, c in (("gold_accuracy", "all pairs", "C0"), ("accuracy_aligned", "aligned pairs", "C2"),
                          ("accuracy_style_wins", "conflict, gold picks higher style", "C1"),
                          ("accuracy_fluency_wins", "conflict, gold picks higher fluency", "C4")):
        ax.plot(kl, [r[key] for r in points], "o-", ms=4, lw=1.2, color=c, label=label)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_ylim(-0.05, 1.05)
    ax.set_ylabel("proxy accuracy against gold")
    ax.set_title("accuracy by kind of pair")
    ax.legend(fontsize=8, loc="lower left")
    for key, label, c, ls in (("proxy_prefers_style", "proxy prefers higher style (conflicts)", "C1", "-"),
                              ("gold_prefers_style", "gold prefers higher style (conflicts)", "C1", "--"),
                              ("proxy_prefers_longer", "proxy prefers the longer response", "C5", "-"),
                              ("gold_prefers_longer", "gold prefers the longer response", "C5", "--")):
        bx.plot(kl, [r[key] for r in points], marker="o", ms=4, lw=1.2, color=c, ls=ls, label=label)
    bx.axhline(0.5, color="grey", lw=0.8, ls=":")
    bx.set_ylim(-0.05, 1.05)
    bx.set_ylabel("share of pairs")
    bx.set_title("which side each prefers")
    bx.legend(fontsize=8, loc="lower left")
    for a in (ax, bx):
        a.set_xlabel("KL(π ‖ π_ref), nats per response")
    return fig


# -- reward_hacking.overoptimization ----------------------------------------------------------------------------

OVEROPT_PANELS = (("bon", "best-of-n (n = 1 … N)", "fit d(α − β d)"), ("rl", "RL (PPO)", "fit d(α − β log d)"))


def overoptimization(curves: dict[str, dict]) -> Any:
    """Gao et al.'s picture, one panel per optimiser (best-of-n, RL): against d = √KL, the gold gain over the
    reference (points, with ±1 standard error bars where `gold_se` is given), the fitted functional form (solid
    line, its peak starred where it lies in view) and the proxy's belief (r − r_ref)/k (dashed), one colour per
    proxy. `curves`: {label: {"bon" | "rl": {"d": [...], "gold": [...], "gold_se": [...] (optional),
    "proxy": [...], "fit": overoptimization.Fit}}} in drawing order."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, axes = plt.subplots(1, 2, figsize=(12, 5.2), layout="constrained")
    for ax, (method, title, fit_label) in zip(axes, OVEROPT_PANELS, strict=True):
        d_max = max(max(c[method]["d"]) for c in curves.values()) * 1.05 or 1.0
        for i, c in enumerate(curves.values()):
            color = f"C{i}"
            curve = c[method]
            ax.errorbar(curve["d"], curve["gold"], yerr=curve.get("gold_se"), fmt="o", ms=4, color=color,
                        capsize=2, elinewidth=0.8, zorder=3)
            x = np.linspace(0.0, d_max, 200)
            ax.plot(x, curve["fit"].predict(x), color=color, lw=1.4)
            ax.plot(curve["d"], curve["proxy"], color=color, lw=1.2, ls="--")
            fit = curve["fit"]
            if fit.d_peak is not None and 0 < fit.d_peak <= d_max:
                ax.plot([fit.d_peak], [fit.gold_peak], marker="*", ms=12, color=color, mec="black", mew=0.6,
                        zorder=4)
        ax.axhline(0.0, color="grey", lw=0.8, ls=":")
        ax.set_xlim(0.0, d_max)
        ax.set_title(f"{title}, {fit_label}", fontsize=11)
        ax.set_xlabel("d = √KL(π ‖ π_ref)   (KL in nats per response)")
        ax.set_ylabel("gain over the reference (gold utility units)")
    sizes = [Line2D([], [], color=f"C{i}", marker="o", lw=1.4, label=label) for i, label in enumerate(curves)]
    styles = [Line2D([], [], color="black", marker="o", lw=0, label="gold, measured (±1 s.e.)"),
              Line2D([], [], color="black", lw=1.4, label="gold, fitted"),
              Line2D([], [], color="black", marker="*", ms=10, lw=0, label="fitted peak d*"),
              Line2D([], [], color="black", lw=1.2, ls="--", label="proxy's belief (r − r_ref)/k")]
    fig.legend(handles=sizes + styles, loc="outside lower center", ncols=4, fontsize=8, title="proxy trained on",
               title_fontsize=8)
    return fig


def overoptimization_by_size(by_size: dict) -> Any:
    """Against the proxy's training pairs (log scale): the proxy's held-out gold accuracy; the proxy − gold gap at
    the largest n of best-of-n and at the end of RL; the best gold gain measured along each curve."""
    import matplotlib.pyplot as plt

    pairs = by_size["pairs"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4.0), layout="constrained")
    ax, bx, cx = axes
    ax.plot(pairs, by_size["heldout_gold_accuracy"], "o-", color="C0", lw=1.4)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":", label="chance")
    ax.set_ylabel("held-out accuracy against gold")
    ax.set_title("the proxy")
    ax.legend(fontsize=8, loc="lower right")
    for key, a, ylabel, title in (("end_gap", bx, "proxy − gold at the last point", "the gap at the end"),
                                  ("measured_peak_gold", cx, "best gold gain measured", "the best gold reached")):
        # colours apart from the per-proxy C0–C2 of `overoptimization`: here a colour is an optimiser
        for method, label, color, marker in (("bon", "best-of-n, largest n", "tab:purple", "s"),
                                             ("rl", "RL, last evaluation", "tab:brown", "o")):
            a.plot(pairs, by_size[method][key], marker=marker, color=color, lw=1.4,
                   label=label if key == "end_gap" else label.split(",")[0])
        a.axhline(0.0, color="grey", lw=0.8, ls=":")
        a.set_ylabel(ylabel)
        a.set_title(title)
        a.legend(fontsize=8, loc="best")
    for a in axes:
        a.set_xscale("log", base=2)
        a.set_xticks(pairs, [str(p) for p in pairs])
        a.minorticks_off()
        a.set_xlabel("labelled pairs the proxy was trained on")
    return fig
