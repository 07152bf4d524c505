"""`model_based.model_error_vs_horizon`: the learned model's open-loop prediction error against the horizon.

A model used for planning is rolled out on its own predictions, so its one-step errors compound (the reason
MBPO, Janner et al., arXiv 1906.08253, keeps its model rollouts short). An ensemble of MLP dynamics models
(Chua et al., arXiv 1805.12114) trained on random-policy data of several sizes is rolled out open-loop on
held-out episodes; its spread across members is its own estimate of that error.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field

from studyforge.experiments.config import ExperimentConfig
from studyforge.experiments.model_based import plots
from studyforge.experiments.model_based.dynamics import DynamicsEnsemble, fit, rollout
from studyforge.experiments.registry import register
from studyforge.experiments.rl.envs import make_env
from studyforge.experiments.rl.jobs import single_thread


class ModelErrorConfig(ExperimentConfig):
    env_id: str = Field("Pendulum-v1", description="environment (no early termination: long open-loop rollouts)")
    train_sizes: list[int] = Field(default_factory=lambda: [1_000, 5_000, 20_000],
                                   description="random-policy transitions the model is trained on")
    test_episodes: int = Field(10, ge=1, description="held-out random-policy episodes")
    horizons: list[int] = Field(default_factory=lambda: [1, 2, 5, 10, 20, 30, 50], description="rollout lengths")
    starts_per_episode: int = Field(20, ge=1, description="rollout start points per test episode")
    ensemble: int = Field(5, ge=1, description="ensemble members")
    hidden: list[int] = Field(default_factory=lambda: [128, 128], description="hidden widths of each member")
    epochs: int = Field(40, ge=1, description="training epochs")

    presets: ClassVar = {"quick": {"train_sizes": [400], "test_episodes": 2, "horizons": [1, 5, 20],
                                   "starts_per_episode": 5, "ensemble": 2, "hidden": [16], "epochs": 2},
                         "full": {"train_sizes": [1_000, 5_000, 20_000, 100_000], "test_episodes": 50,
                                  "epochs": 100}}


def _random_transitions(env_id: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """n transitions of the uniform random policy, with episode ids (rollouts must not cross episodes)."""
    env = make_env(env_id)
    env.action_space.seed(seed)
    out: dict[str, list] = {"obs": [], "actions": [], "next_obs": [], "episode": []}
    episode = 0
    obs, _ = env.reset(seed=seed)
    while len(out["obs"]) < n:
        a = env.action_space.sample()
        next_obs, _, terminated, truncated, _ = env.step(a)
        for key, value in (("obs", obs), ("actions", a), ("next_obs", next_obs), ("episode", episode)):
            out[key].append(value)
        obs = next_obs
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset(seed=seed + episode)
    env.close()
    return {k: np.array(v) for k, v in out.items()}


@register("model_based.model_error_vs_horizon", week=15, config=ModelErrorConfig,
          headline="largest.error_at_max_horizon")
def model_error_vs_horizon(ctx, cfg: ModelErrorConfig) -> None:
    """Planning accuracy: the learned model's open-loop prediction error against the planning horizon.

    An ensemble is trained on random-policy transitions (several dataset sizes), then rolled out open-loop
    from held-out states with the actions actually taken: step h feeds its own prediction back in. The error
    is the RMSE in units of each state dimension's standard deviation, for the ensemble mean and for single
    members, against h; one-step error × h is drawn for comparison (errors compound faster than linearly
    once predictions leave the data). The ensemble's spread (std across members) is the model's own
    estimate of its error; the summary reports their rank correlation.
    """
    from scipy import stats

    probe = make_env(cfg.env_id)
    discrete = hasattr(probe.action_space, "n")
    obs_dim = probe.observation_space.shape[0]
    action_dim = int(probe.action_space.n) if discrete else int(np.prod(probe.action_space.shape))
    probe.close()
    H = max(cfg.horizons)
    test = _random_transitions(cfg.env_id, cfg.test_episodes * 1000, ctx.seed + 777_777)
    scale = torch.as_tensor(test["next_obs"].std(0).clip(1e-6), dtype=torch.float32)
    # rollout starts: index t such that t .. t+H−1 lie in the same episode
    rng = np.random.default_rng(ctx.seed)
    valid = [t for t in range(len(test["obs"]) - H) if test["episode"][t] == test["episode"][t + H - 1]]
    starts = rng.choice(valid, size=min(len(valid), cfg.test_episodes * cfg.starts_per_episode), replace=False)
    idx = starts[:, None] + np.arange(H)[None, :]  # (B, H)
    s0 = torch.as_tensor(test["obs"][starts], dtype=torch.float32)
    acts = torch.as_tensor(test["actions"][idx])
    if not discrete:
        acts = acts.float().reshape(len(starts), H, action_dim)
    truth = torch.as_tensor(test["next_obs"][idx], dtype=torch.float32)  # (B, H, obs_dim)

    summary: dict[str, Any] = {"env_id": cfg.env_id, "rollouts": int(len(starts))}
    drawn: dict[int, dict[str, np.ndarray]] = {}  # train size -> the curves and points of the figure
    with ctx.progress(total=len(cfg.train_sizes), description="fit + roll out") as bar:
        for size in cfg.train_sizes:
            data = _random_transitions(cfg.env_id, size, ctx.seed)
            model = DynamicsEnsemble(obs_dim, action_dim, ensemble=cfg.ensemble, hidden=tuple(cfg.hidden),
                                     discrete=discrete)
            acts_train = data["actions"] if discrete else data["actions"].reshape(size, action_dim)
            with single_thread():
                loss, _ = fit(model, data["obs"], acts_train, data["next_obs"], epochs=cfg.epochs, seed=ctx.seed)
                pred = rollout(model, s0, acts)  # (E, B, H, obs_dim)
            # normalised error e = (ŝ − s) / σ_s per dimension
            err_mean = ((pred.mean(0) - truth) / scale).pow(2).mean(-1).sqrt()  # (B, H) ensemble mean
            err_member = ((pred - truth) / scale).pow(2).mean(-1).sqrt()  # (E, B, H)
            spread = (pred.std(0) / scale).pow(2).mean(-1).sqrt() if cfg.ensemble > 1 else torch.zeros_like(err_mean)
            rmse = err_mean.pow(2).mean(0).sqrt().numpy()  # (H,)
            rmse_member = err_member.pow(2).mean(1).sqrt().mean(0).numpy()  # (H,) averaged over members
            entry: dict[str, Any] = {"fit_loss": loss}
            for h in cfg.horizons:
                entry[f"h{h}"] = {"rmse_ensemble_mean": float(rmse[h - 1]), "rmse_single_member": float(rmse_member[h - 1]),
                                  "growth_vs_linear": float(rmse[h - 1] / (h * rmse[0]))}
                ctx.log({f"size{size}/rmse_ensemble_mean": float(rmse[h - 1])}, step=h)
            if cfg.ensemble > 1:
                rho = stats.spearmanr(spread[:, -1].numpy(), err_mean[:, -1].numpy()).statistic
                entry["spread_error_spearman_at_max_horizon"] = float(rho)
            entry["error_at_max_horizon"] = float(rmse[-1])
            summary[f"n{size}"] = entry
            drawn[size] = {"rmse": rmse, "rmse_member": rmse_member, "spread": spread[:, -1].numpy(),
                           "error": err_mean[:, -1].numpy()}
            bar.advance(1)
    largest = summary[f"n{max(cfg.train_sizes)}"]
    summary["largest"] = {"train_size": max(cfg.train_sizes), "error_at_max_horizon": largest["error_at_max_horizon"],
                          "one_step_error": largest[f"h{min(cfg.horizons)}"]["rmse_ensemble_mean"]}
    ctx.summary(**summary)
    ctx.log_figure("model_error_vs_horizon", plots.model_error_vs_horizon(drawn, cfg.env_id,
                                                                          show_spread=cfg.ensemble > 1),
                   caption="Left: open-loop prediction error against horizon for models trained on more data "
                           "(solid: ensemble mean; dashed: a single member; dotted: h × the one-step error). "
                           "Right: the ensemble spread against the actual error at the longest horizon.")
