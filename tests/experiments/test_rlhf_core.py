"""Week 10's RLHF core against known answers: the KL penalty and estimators, the adaptive controller, masked
GAE, GRPO's advantages, best-of-n's KL, and the trainer itself (a large β pins the policy; PPO and GRPO raise
the proxy reward)."""

from __future__ import annotations

import math

import pytest
import torch

from studyforge.experiments.policy_gradient.advantages import gae
from studyforge.experiments.rlhf.best_of_n import (
    best_of_n_distribution,
    best_of_n_kl,
    expected_best_of_n,
)
from studyforge.experiments.rlhf.kl import (
    AdaptiveKLController,
    FixedKLController,
    k2,
    k3,
    kl_penalty,
    log_ratio,
)
from studyforge.experiments.rlhf.ppo import (
    RLHFConfig,
    RLHFTrainer,
    grpo_advantages,
    masked_gae,
    masked_whiten,
    token_rewards,
)
from studyforge.experiments.rlhf.rollout import PolicyWithValue, pad_after_stop, policy_outputs, response_mask
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer


def test_kl_penalty_is_minus_beta_times_the_log_ratio_on_hand_values():
    logp = torch.log(torch.tensor([0.5, 0.25, 0.1]))
    ref = torch.log(torch.tensor([0.25, 0.25, 0.2]))
    assert log_ratio(logp, ref).tolist() == pytest.approx([math.log(2), 0.0, math.log(0.5)])
    assert kl_penalty(logp, ref, 0.1).tolist() == pytest.approx([-0.1 * math.log(2), 0.0, -0.1 * math.log(0.5)])
    # k3 = ρ − 1 − log ρ with ρ = π_ref/π: 0.5 − 1 + log 2, 0, 2 − 1 − log 2
    assert k3(logp, ref).tolist() == pytest.approx([0.5 - 1 + math.log(2), 0.0, 1 - math.log(2)])
    assert k2(logp, ref).tolist() == pytest.approx([0.5 * math.log(2) ** 2, 0.0, 0.5 * math.log(0.5) ** 2])


def test_k1_and_k3_are_unbiased_estimates_of_the_kl():
    """Over samples from π, the mean k1 and k3 both converge to KL(π ‖ π_ref) (Schulman 2020)."""
    p = torch.tensor([0.6, 0.3, 0.1])
    q = torch.tensor([0.3, 0.3, 0.4])
    exact = float((p * (p / q).log()).sum())
    y = torch.multinomial(p, 200_000, replacement=True, generator=torch.Generator().manual_seed(0))
    logp, logq = p.log()[y], q.log()[y]
    assert float(log_ratio(logp, logq).mean()) == pytest.approx(exact, abs=0.01)
    assert float(k3(logp, logq).mean()) == pytest.approx(exact, abs=0.01)
    assert float(k3(logp, logq).min()) >= 0


def test_adaptive_kl_controller_raises_beta_above_target_and_lowers_it_below():
    c = AdaptiveKLController(0.1, target=6.0, horizon=10_000)
    assert c.update(12.0, 512) == pytest.approx(0.1 * (1 + 0.2 * 512 / 10_000))  # error clipped at +0.2
    up = c.value
    assert c.update(3.0, 512) == pytest.approx(up * (1 - 0.2 * 512 / 10_000))  # 3/6 − 1 = −0.5 → −0.2
    down = c.value
    assert c.update(6.6, 1000) == pytest.approx(down * (1 + 0.1 * 1000 / 10_000))  # 6.6/6 − 1 = 0.1, unclipped
    assert c.update(6.0, 1000) == pytest.approx(c.value)  # on target: unchanged
    assert FixedKLController(0.3).update(100.0, 10) == 0.3
    with pytest.raises(ValueError):
        AdaptiveKLController(0.1, target=0.0, horizon=1)


def test_response_mask_and_padding():
    r = torch.tensor([[5, 0, 7, 8], [5, 6, 7, 8], [0, 1, 2, 3]])
    mask, lengths = response_mask(r, stop=0)
    assert lengths.tolist() == [2, 4, 1]
    assert pad_after_stop(r, mask, 0).tolist() == [[5, 0, 0, 0], [5, 6, 7, 8], [0, 0, 0, 0]]
    m, n = response_mask(r, stop=None)
    assert m.all() and n.tolist() == [4, 4, 4]


def test_token_rewards_put_the_score_on_the_last_real_token():
    logp = torch.tensor([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -2.0, -1.0], [-2.0, -1.0, -1.0]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    r = token_rewards(torch.tensor([2.0, -1.0]), logp, ref, mask, torch.tensor([2, 3]), beta=0.1)
    assert r.flatten().tolist() == pytest.approx([-0.05, 2.0, 0.0, -0.1, 0.0, -1.0])


def test_masked_gae_ignores_padding_and_equals_week7_gae_on_the_unpadded_sequence():
    torch.manual_seed(0)
    rewards, values = torch.randn(1, 5), torch.randn(1, 5)
    # the unpadded 5-token response, through week 7's gae directly (time-major, terminal after the last token)
    ref_adv, ref_ret = gae(rewards.T, values.T, torch.zeros(5, 1), torch.zeros(1), torch.ones(1), 1.0, 0.95)
    adv, ret = masked_gae(rewards, values, torch.ones(1, 5, dtype=torch.bool), 1.0, 0.95)
    assert adv.flatten().tolist() == pytest.approx(ref_adv.flatten().tolist())
    assert ret.flatten().tolist() == pytest.approx(ref_ret.flatten().tolist())
    # the same response padded with 3 garbage positions: identical on the real tokens, zero on the padding
    pad_r = torch.cat([rewards, torch.full((1, 3), 9.0)], 1)
    pad_v = torch.cat([values, torch.full((1, 3), -7.0)], 1)
    mask = torch.tensor([[True] * 5 + [False] * 3])
    adv_p, ret_p = masked_gae(pad_r, pad_v, mask, 1.0, 0.95)
    assert adv_p[0, :5].tolist() == pytest.approx(adv[0].tolist())
    assert ret_p[0, :5].tolist() == pytest.approx(ret[0].tolist())
    assert adv_p[0, 5:].abs().max() == 0 and ret_p[0, 5:].abs().max() == 0
    # by hand, γ = λ = 1: Â_t = Σ_{k≥t} r_k − V_t
    adv1, _ = masked_gae(torch.tensor([[1.0, 2.0, 0.0]]), torch.tensor([[0.5, 0.5, 3.0]]),
                         torch.tensor([[True, True, False]]), 1.0, 1.0)
    assert adv1.flatten().tolist() == pytest.approx([2.5, 1.5, 0.0])


def test_masked_whiten_uses_real_tokens_only():
    x = torch.tensor([1.0, 2.0, 3.0, 100.0])
    out = masked_whiten(x, torch.tensor([True, True, True, False]))
    assert out.tolist() == pytest.approx([-1.0, 0.0, 1.0, 100.0])


def test_grpo_group_advantages_on_hand_values():
    adv = grpo_advantages(torch.tensor([1.0, 3.0, 2.0, 2.0, 0.0, 0.0, 0.0, 6.0]), 4)
    # group 1: mean 2, sample std √(2/3); group 2: mean 1.5, std 3
    s1 = math.sqrt(2 / 3)
    assert adv.tolist() == pytest.approx([-1 / s1, 1 / s1, 0, 0, -0.5, -0.5, -0.5, 1.5], abs=1e-6)


def test_best_of_n_analytic_kl_matches_monte_carlo_on_a_categorical_policy():
    """K = 2000 outcomes, distinct rewards: Monte-Carlo KL of the best-of-n choices matches log n − (n−1)/n."""
    k = 2000
    probs = torch.softmax(torch.randn(k, generator=torch.Generator().manual_seed(1)) * 0.3, 0).double()
    rewards = torch.randn(k, generator=torch.Generator().manual_seed(2)).double()
    g = torch.Generator().manual_seed(3)
    for n in (1, 4, 16):
        exact = best_of_n_distribution(probs, rewards, n)
        assert float(exact.sum()) == pytest.approx(1.0)
        draws = torch.multinomial(probs, 50_000 * n, replacement=True, generator=g).view(50_000, n)
        chosen = draws.gather(1, rewards[draws].argmax(1, keepdim=True)).squeeze(1)
        mc = float((exact[chosen].log() - probs[chosen].log()).mean())  # E_{y~BoN}[log π_BoN(y)/π(y)]
        assert mc == pytest.approx(best_of_n_kl(n), abs=0.02), n
    # with few outcomes the formula is an upper bound (Beirami et al. 2024)
    p2 = torch.tensor([0.5, 0.5], dtype=torch.float64)
    bon = best_of_n_distribution(p2, torch.tensor([0.0, 1.0]), 4)
    assert bon.tolist() == pytest.approx([1 / 16, 15 / 16])
    assert float((bon * (bon / p2).log()).sum()) < best_of_n_kl(4)


def test_expected_best_of_n_is_the_average_over_all_subsets():
    import itertools

    proxy = torch.tensor([[0.3, 0.1, 0.9, 0.5, 0.7]])
    gold = torch.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]])
    for n in (1, 2, 3, 5):
        subsets = list(itertools.combinations(range(5), n))
        brute = sum(float(gold[0, max(s, key=lambda i: float(proxy[0, i]))]) for s in subsets) / len(subsets)
        assert float(expected_best_of_n(proxy, gold, n)[0]) == pytest.approx(brute)


# -- the trainer ------------------------------------------------------------------------------------------------

VOCAB = 12


def tiny_reference(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(TransformerConfig.preset("llama", vocab_size=VOCAB, max_len=24, d_model=32, n_layers=1,
                                                n_heads=2, ffn_multiple_of=16))


def count_score(token: int):
    """A known reward: the share of response tokens equal to `token` (up to the length)."""
    def score(prompts, responses, lengths):
        mask = torch.arange(responses.shape[1])[None] < lengths[:, None]
        return ((responses == token) & mask).sum(1).float() / lengths.float()
    return score


def run(algo: str, beta: float, updates: int, seed: int = 0) -> tuple[list[dict], RLHFTrainer]:
    cfg = RLHFConfig(algo=algo, batch_size=32, group_size=4, max_new_tokens=8, lr=3e-3, update_epochs=2,
                     minibatch_size=16, kl_coef=beta, value_warmup=1, stop=None)
    tr = RLHFTrainer(tiny_reference(), count_score(3), cfg, seed=seed, stop_id=None)
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(updates):
        n = cfg.batch_size if algo == "ppo" else cfg.batch_size // cfg.group_size
        rows.append(tr.step(torch.randint(0, VOCAB, (n, 4), generator=g)))
    return rows, tr


@pytest.mark.parametrize("algo", ["ppo", "grpo"])
def test_rlhf_raises_a_known_reward_and_a_large_beta_pins_the_policy(algo):
    rows, _ = run(algo, beta=0.01, updates=25)
    first = sum(r["score"] for r in rows[:3]) / 3
    last = sum(r["score"] for r in rows[-3:]) / 3
    assert first < 0.15 and last > first + 0.15, (first, last)  # the reference writes token 3 ~1/12 of the time
    # β = 0.01 drifts ~16 nats per response from the reference; β = 20 stays within a few tenths (the per-batch
    # k1 estimate of 32 responses is itself noisy by about ±0.15)
    pinned, _ = run(algo, beta=20.0, updates=25)
    pinned_kl = sum(r["kl"] for r in pinned) / len(pinned)
    assert pinned_kl < 0.2, [round(r["kl"], 3) for r in pinned]
    assert sum(r["kl"] for r in rows[-5:]) / 5 > 20 * max(pinned_kl, 0.01)
    assert sum(r["score"] for r in pinned[-5:]) / 5 < first + 0.1


def test_value_warm_start_moves_only_the_value_head():
    ref = tiny_reference()
    cfg = RLHFConfig(batch_size=16, max_new_tokens=6, minibatch_size=16, update_epochs=2, value_warmup=1, stop=None)
    tr = RLHFTrainer(ref, count_score(3), cfg, seed=0, stop_id=None)
    before = {k: v.clone() for k, v in tr.policy.lm.state_dict().items()}
    row = tr.step(torch.randint(0, VOCAB, (16, 4)))
    assert row["value_warmup"] == 1.0 and tr.updates == 0
    assert all(torch.equal(before[k], v) for k, v in tr.policy.lm.state_dict().items())
    assert tr.policy.value_head.weight.abs().sum() > 0
    tr.step(torch.randint(0, VOCAB, (16, 4)))
    assert tr.updates == 1 and not all(torch.equal(before[k], v) for k, v in tr.policy.lm.state_dict().items())
    # the reference stays frozen and the cost counters add up: 2 rollouts of 16 × 6 tokens, 2 epochs per update
    assert tr.cost["tokens_generated"] == 2 * 16 * 6 and tr.cost["policy_backward"] == 2 * 2 * 16


def test_policy_outputs_match_the_language_model():
    ref = tiny_reference()
    pol = PolicyWithValue.from_reference(ref)
    prompts, responses = torch.randint(0, VOCAB, (3, 4)), torch.randint(0, VOCAB, (3, 5))
    logp, values, _ = policy_outputs(pol, prompts, responses)
    from studyforge.experiments.preference_optimization.pairs import completion_logps

    assert logp.sum(1).tolist() == pytest.approx(completion_logps(ref, prompts, responses).tolist(), abs=1e-5)
    assert values.shape == (3, 5) and values.abs().max() == 0  # the value head starts at zero


def test_setup_loads_a_week8_reference_and_a_week9_reward_model(tmp_path):
    """`reference=` and `reward_model=` files: no pretraining, no proxy training — the loaded reward model is the
    proxy; a reward model with another tokenizer is one clear ForgeError."""
    from studyforge.errors import ForgeError
    from studyforge.experiments.language_modeling.checkpoint import export
    from studyforge.experiments.language_modeling.data import load_data
    from studyforge.experiments.preference.reward_model import RewardModel, export_reward_model
    from studyforge.experiments.rlhf.studies.common import RLHFStudyConfig, setup
    from studyforge.tracking.context import RunContext

    data = load_data("no/such/corpus.txt", max_chars=40_000)
    torch.manual_seed(0)
    lm = Transformer(TransformerConfig.preset("llama", vocab_size=data.vocab_size, max_len=32, d_model=16,
                                              n_layers=1, n_heads=2, ffn_multiple_of=16))
    torch.save(export(lm, data.tokenizer), tmp_path / "lm.pt")
    rm = RewardModel.from_language_model(lm)
    torch.save(export_reward_model(rm, data.tokenizer), tmp_path / "rm.pt")
    cfg = RLHFStudyConfig.from_preset("default", {"corpus_path": "no/such/corpus.txt", "max_chars": "40000",
                                                  "reference": str(tmp_path / "lm.pt"),
                                                  "reward_model": str(tmp_path / "rm.pt"), "prompt_len": "8",
                                                  "eval_prompts": "8", "rlhf.max_new_tokens": "8"})
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    world = setup(ctx, cfg)
    assert world.proxy.model.state_dict().keys() == rm.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(world.proxy.model.state_dict().values(), rm.state_dict().values(),
                                                 strict=True))
    info = ctx.summary_values["proxy_reward_model"]
    assert info["source"] == str(tmp_path / "rm.pt") and info["pairs"] is None and info["members"] == 1
    other = load_data("no/such/corpus.txt", max_chars=3_000)
    torch.save(export_reward_model(RewardModel(TransformerConfig(vocab_size=other.vocab_size, d_model=16,
                                                                 n_layers=1, n_heads=2, max_len=32)),
                                   other.tokenizer), tmp_path / "other_rm.pt")
    bad = cfg.model_copy(update={"reward_model": str(tmp_path / "other_rm.pt")})
    with pytest.raises(ForgeError, match="another tokenizer"):
        setup(RunContext(out_dir=tmp_path / "run2", config=bad, seed=0), bad)
