"""Week 4's preference optimization: each loss against its paper's formula, DPO's and IPO's closed-form optima,
sequence log-probs against token-by-token decoding, the Bradley–Terry annotator, and a run that aligns."""

from __future__ import annotations

import math

import pytest
import torch

from studyforge.experiments.preference_optimization import bandit, losses
from studyforge.experiments.preference_optimization.pairs import completion_logps, make_pairs, vowel_share
from studyforge.experiments.preference_optimization.studies import method_comparison as ex
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer
from studyforge.tracking.context import RunContext

torch.set_num_threads(1)


def sig(x: float) -> float:
    return 1 / (1 + math.exp(-x))


# -- the losses, number by number ---------------------------------------------------------------------------


def test_dpo_ipo_simpo_kto_equal_their_formulas():
    pc, pr, rc, rr = (torch.tensor([v], dtype=torch.float64) for v in (-10.0, -12.0, -11.0, -11.5))
    h = (-10.0 + 11.0) - (-12.0 + 11.5)  # 1.5
    assert losses.dpo_loss(pc, pr, rc, rr, beta=0.2).loss.item() == pytest.approx(-math.log(sig(0.3)))
    eps = 0.1
    smoothed = -(1 - eps) * math.log(sig(0.3)) - eps * math.log(sig(-0.3))
    assert losses.dpo_loss(pc, pr, rc, rr, beta=0.2, label_smoothing=eps).loss.item() == pytest.approx(smoothed)
    assert losses.ipo_loss(pc, pr, rc, rr, tau=0.25).loss.item() == pytest.approx((h - 2.0) ** 2)
    simpo = losses.simpo_loss(pc, pr, 5.0, 8.0, beta=2.0, gamma=0.5)
    assert simpo.loss.item() == pytest.approx(-math.log(sig(2 * -10 / 5 - 2 * -12 / 8 - 0.5)))
    # KTO: r = log π − log π_ref per example, z₀ = 0.4; desirable → λ_D σ(β(r − z₀)), else λ_U σ(β(z₀ − r))
    pol, ref = torch.tensor([-3.0, -5.0]), torch.tensor([-4.0, -4.5])
    kto = losses.kto_loss(pol, ref, torch.tensor([True, False]), torch.tensor(0.4), beta=0.5, lambda_desirable=1.0,
                          lambda_undesirable=2.0)
    expected = ((1 - sig(0.5 * (1.0 - 0.4))) + (2 - 2 * sig(0.5 * (0.4 + 0.5)))) / 2
    assert kto.loss.item() == pytest.approx(expected, rel=1e-6)
    assert kto.chosen_reward.tolist() == pytest.approx([0.5]) and kto.rejected_reward.tolist() == pytest.approx([-0.25])


def test_dpo_gradient_is_beta_sigmoid_of_the_wrong_way_margin():
    """∂L/∂ log π(y_w) = −β σ(−β h) / B (Rafailov et al., §5: the weight grows when the ranking is wrong)."""
    pc = torch.tensor([-3.0, -1.0], requires_grad=True)
    pr = torch.tensor([-2.0, -4.0], requires_grad=True)
    rc, rr = torch.tensor([-2.5, -2.0]), torch.tensor([-2.5, -3.0])
    beta = 0.7
    losses.dpo_loss(pc, pr, rc, rr, beta=beta).loss.backward()
    h = (pc - rc) - (pr - rr)
    torch.testing.assert_close(pc.grad, -beta * torch.sigmoid(-beta * h.detach()) / 2)
    torch.testing.assert_close(pr.grad, beta * torch.sigmoid(-beta * h.detach()) / 2)


def test_kto_reference_point_is_a_clamped_detached_kl_estimate():
    pol = torch.tensor([-1.0, -2.0], requires_grad=True)
    z = losses.kto_reference_point(pol, torch.tensor([-1.5, -2.5]))
    assert z.item() == pytest.approx(0.5) and not z.requires_grad
    assert losses.kto_reference_point(pol, torch.tensor([0.0, 0.0])).item() == 0.0  # negative estimate → 0


def test_ranking_accuracy_counts_ties_half():
    assert losses.ranking_accuracy(torch.tensor([1.0, -1.0, 0.0, 0.0])) == 0.5
    assert losses.ranking_accuracy(torch.zeros(3)) == 0.5


# -- the known answers on a bandit -------------------------------------------------------------------------


@pytest.mark.parametrize("k,beta,tau,seed", [(6, 0.5, 0.5, 0), (4, 0.1, 0.2, 3), (8, 2.0, 1.0, 11)])
def test_dpo_and_ipo_reach_their_closed_form_optima(k, beta, tau, seed):
    errors = bandit.check_closed_forms(k, beta, tau, seed)
    assert errors["dpo_max_abs_error"] < 1e-6 and errors["ipo_max_abs_error"] < 1e-6
    assert errors["dpo_vs_ipo_max_abs_difference"] > 1e-3  # two different answers, both met


def test_dpo_optimum_is_the_kl_regularised_rlhf_policy():
    """π* ∝ π_ref exp(r/β) maximises E_π[r] − β KL(π‖π_ref): no other policy on the simplex does better."""
    g = torch.Generator().manual_seed(0)
    ref = torch.softmax(torch.randn(5, generator=g, dtype=torch.float64), 0)
    r = torch.randn(5, generator=g, dtype=torch.float64)
    beta = 0.3

    def objective(p):
        return float((p * r).sum() - beta * (p * (p / ref).log()).sum())

    best = objective(bandit.dpo_optimum(ref, r, beta))
    for _ in range(200):
        other = torch.softmax(torch.randn(5, generator=g, dtype=torch.float64) * 2, 0)
        assert objective(other) <= best + 1e-12


# -- sequences and data --------------------------------------------------------------------------------------


def tiny_lm(vocab: int = 11, max_len: int = 12) -> Transformer:
    torch.manual_seed(0)
    return Transformer(TransformerConfig(vocab_size=vocab, d_model=16, n_layers=1, n_heads=2, max_len=max_len)).eval()


def test_completion_logps_equal_token_by_token_decoding():
    model = tiny_lm()
    prompts = torch.randint(0, 11, (3, 4))
    completions = torch.randint(0, 11, (3, 5))
    expected = torch.zeros(3)
    for t in range(5):
        context = torch.cat([prompts, completions[:, :t]], 1)
        logp = torch.log_softmax(model(context).logits[:, -1].float(), -1)
        expected += logp.gather(1, completions[:, t:t + 1]).squeeze(1)
    torch.testing.assert_close(completion_logps(model, prompts, completions), expected, atol=1e-5, rtol=1e-5)


def test_vowel_share():
    assert vowel_share("Hello, world") == pytest.approx(0.3)
    assert vowel_share("AEIOU") == 1.0 and vowel_share("...") == 0.0


@pytest.mark.parametrize("scale,lo,hi", [(1e6, 1.0, 1.0), (1e-6, 0.3, 0.7)])
def test_bradley_terry_annotator(scale, lo, hi):
    """A huge scale always picks the higher reward (ties aside); a tiny one flips a fair coin."""
    model = tiny_lm(vocab=26, max_len=16)
    alphabet = "abcdefghijklmnopqrstuvwxyz"

    def decode(ids):
        return "".join(alphabet[i] for i in ids)

    pairs = make_pairs(model, decode, torch.randint(0, 26, (200, 4)), 8, scale, torch.Generator().manual_seed(1))
    diff = pairs.reward_chosen - pairs.reward_rejected
    share = float((diff[diff != 0] > 0).float().mean())
    assert lo <= share <= hi
    assert pairs.chosen.shape == (200, 8) and pairs.ref_chosen.shape == (200,)
    torch.testing.assert_close(pairs.ref_chosen, completion_logps(model, pairs.prompts, pairs.chosen))


# -- the study ------------------------------------------------------------------------------------------------


def test_preference_optimization_aligns_the_policy(tmp_path):
    """A small run: the methods learn to rank held-out pairs better than chance and their samples beat the
    reference's on the true reward; every method's summary is complete and the bandit check passes.
    (Across seeds 0–2 of this configuration: mean held-out accuracy vs truth 0.70–0.81, mean win rate
    0.81–0.97, DPO's sample reward 0.50–0.80 against the reference's 0.35–0.36.)"""
    cfg = ex.MethodComparisonConfig.from_preset("quick", {
        "max_chars": 100_000, "d_model": 32, "n_layers": 2, "pretrain_steps": 150, "prompt_len": 16,
        "completion_len": 16, "train_pairs": 256, "heldout_pairs": 128, "steps": 60, "batch_size": 16,
        "lr": 1e-3, "eval_every": 30, "sample_prompts": 64})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ex.method_comparison(ctx, cfg)
    s = ctx.summary_values
    methods = s["methods"]
    assert set(methods) == set(ex.METHODS)
    assert sum(m["heldout_accuracy_vs_truth"] for m in methods.values()) / 4 > 0.6
    assert sum(m["win_rate_vs_reference"] for m in methods.values()) / 4 > 0.6
    assert methods["dpo"]["sample_reward"] > s["reference_sample_reward"]
    assert all(m["kl_to_reference"] > 0 for m in s["methods"].values())
    assert s["bandit"]["dpo_max_abs_error"] < 1e-6 and s["bandit"]["ipo_max_abs_error"] < 1e-6
    assert 0.5 < s["labels_agree_with_truth"]["heldout"] <= 1.0


def test_a_saved_week8_model_is_the_reference(tmp_path):
    """`reference=` takes a week-8 checkpoint: no reference training, and the loaded model is the one used."""
    from studyforge.experiments.language_modeling.checkpoint import export
    from studyforge.experiments.language_modeling.data import load_data

    data = load_data("no/such/corpus.txt", max_chars=40_000)  # the offline corpus, as the study will read it
    model = Transformer(TransformerConfig(vocab_size=data.vocab_size, d_model=16, n_layers=1, n_heads=2, max_len=16))
    path = tmp_path / "lm.pt"
    torch.save(export(model, data.tokenizer), path)
    cfg = ex.MethodComparisonConfig.from_preset("quick", {"reference": str(path), "corpus_path": "no/such/corpus.txt",
                                                          "methods": ["dpo"]})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    ex.method_comparison(ctx, cfg)
    assert "reference" not in ctx.summary_values  # nothing was trained for it
    assert set(ctx.summary_values["methods"]) == {"dpo"}
    with pytest.raises(ValueError, match="reference context"):
        too_long = cfg.model_copy(update={"completion_len": 16})
        ex.method_comparison(RunContext(out_dir=tmp_path / "run2", config=too_long, seed=0), too_long)


def test_sequence_kl_averages_to_the_exact_sequence_kl_and_is_never_negative():
    """Enumerating every completion of a 3-token vocabulary: Σ_y π(y) · sequence_kl(y) equals
    KL(π ‖ π_ref) = Σ_y π(y) (log π(y) − log π_ref(y)) (the chain rule), and no single completion's value is
    negative, while the one-sample log-ratio log π(y) − log π_ref(y) is, for some y."""
    import itertools

    policy, reference = tiny_lm(vocab=3, max_len=6), tiny_lm(vocab=3, max_len=6)
    torch.manual_seed(1)
    for p in reference.parameters():
        p.data += 0.3 * torch.randn_like(p)
    prompts = torch.tensor([[0, 2, 1]])
    ys = torch.tensor(list(itertools.product(range(3), repeat=3)))  # all 27 completions
    xs = prompts.expand(len(ys), -1)
    with torch.no_grad():
        log_p, log_q = completion_logps(policy, xs, ys), completion_logps(reference, xs, ys)
        estimate = ex.sequence_kl(policy, reference, xs, ys)
    p = log_p.exp()
    torch.testing.assert_close(p.sum(), torch.tensor(1.0))
    exact = (p * (log_p - log_q)).sum()
    assert exact > 0.01
    torch.testing.assert_close((p * estimate).sum(), exact, atol=1e-5, rtol=1e-4)
    assert (estimate >= 0).all() and (log_p - log_q < 0).any()
