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
