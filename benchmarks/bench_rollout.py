"""Week 10's rollouts (issue 16, Performance): our batched KV-cache sampler against Hugging Face's `generate`.

PPO and GRPO spend much of each update generating: a batch of prompts is continued by sampling from the
policy. Ours is week 8's `language_modeling.generate.generate(model, prompts, N, temperature=1.0,
generator=g, use_cache=True)` — what `rlhf.rollout.sample_responses` calls: one forward over the prompt fills a
preallocated KV cache, then each step feeds only the newest token. Here both sides also return the per-step
logits (`return_logits=True`, HF's `output_logits=True`), so that the two can be shown to compute the same
function; the rollout itself gets log π and V from one batched pass of the policy afterwards. The peer is `transformers.GPT2LMHeadModel.generate` of identical
size and batch, asked for the same thing:

    do_sample=True, top_k=0 (HF's default is 50), temperature 1, max_new_tokens=min_new_tokens=N,
    use_cache=True, pad_token_id=0, return_dict_in_generate=True, output_logits=True (raw logits, as ours)

and its per-step logits are stacked into (B, N, V) as ours returns them. The models are the same function:
our GPT-2 preset with biases (pre-LayerNorm, exact GELU, learned positions, tied embeddings) against a
`GPT2Config` with `activation_function="gelu"` (HF's default is the tanh approximation), and HF's weights are
copied into ours (`copy_gpt2_weights`). Both then produce the *same tokens and logits* from the same seed
(HF samples from torch's global generator, ours from a `torch.Generator` seeded alike) — printed as a row, so
the timing compares two implementations doing provably identical work. What still differs, and is measured
as part of each side: HF has no end-of-sequence token here (`eos_token_id=None`: RLHF rollouts have fixed
length; with an EOS, HF also masks it until N tokens and tracks finished rows — 6 % slower at the policy
size in one measurement, left out in its favour); HF passes an attention mask and grows its `DynamicCache`
by concatenation, ours writes into a cache preallocated for the whole context.

A check that the cache is right costs one more call: our cached and uncached generation (the whole context
re-run each step) give the same tokens for one seed; the uncached speed is printed beside the cached one.

Sizes: the RLHF policy of the default preset (week 9's reference model: d_model 64 × 2 layers, 4 heads,
65 characters) and a larger one (d_model 128 × 4 layers); 64 prompts × 16 tokens, 48 new tokens, context 64.
An informational row runs the LLaMA preset (RMSNorm, SwiGLU, RoPE) at the policy's size — the architecture
week 9 actually trains — against the same GPT-2 peer. Both sides run with the same torch thread count,
`BENCH_THREADS` (default 1: one thread each, as week 9's studies train on the shared 2-core machine). Timings alternate between the two
sides round by round, so that load from other processes falls on both alike; the fastest round counts.

    python -m benchmarks rollout          (BENCH_ROUNDS=N for more rounds, BENCH_THREADS=N)
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

import torch

from benchmarks.common import Row, console, report
from studyforge.experiments.language_modeling.generate import generate
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer

VOCAB = 65  # Tiny Shakespeare's characters
BATCH, PROMPT, NEW = 64, 16, 48
# Weights are drawn wide (GPT-2 uses 0.02) so that the logits spread (std ≈ INIT_STD·√d_model) and each
# sampled token depends on them: a fresh model's near-uniform distributions would hide a wrong cache or a
# wrong weight copy in the token checks. Speed does not depend on the values.
INIT_STD = 0.3


@dataclass(frozen=True)
class Size:
    """A model and rollout shape, the same on both sides."""

    label: str
    d_model: int
    n_layers: int
    n_heads: int
    batch: int = BATCH
    prompt: int = PROMPT
    new: int = NEW
    vocab: int = VOCAB

    @property
    def context(self) -> int:
        return self.prompt + self.new


SIZES = (Size("RLHF policy, default preset", 64, 2, 4), Size("larger", 128, 4, 4))


@dataclass
class Measurement:
    """What one size measured; the `peer_*` fields are None without transformers."""

    size: Size
    params: int  # ours; HF's is identical when `peer_params` is set
    tokens_per_s: float  # ours, cached, fastest round
    tokens_per_s_median: float
    new_tokens: int  # tokens generated per call (batch × new), ours
    uncached_tokens_per_s: float
    cache_mismatches: int  # tokens where cached and uncached generation differ (same seed)
    cache_logit_gap: float  # max |logits_cached − logits_uncached| over the rollout
    peer_params: int | None = None
    peer_tokens_per_s: float | None = None
    peer_tokens_per_s_median: float | None = None
    peer_new_tokens: int | None = None
    peer_mismatches: int | None = None  # tokens where HF's differ from ours (same weights, same seed)
    peer_logit_gap: float | None = None  # max |logits_ours − logits_HF| over the rollout
    attention: str = ""  # HF's attention implementation
    llama_tokens_per_s: float | None = None  # ours on the LLaMA preset at the same size (`with_llama`)


def our_model(size: Size, preset: str = "gpt2") -> Transformer:
    """Our week-8 transformer at `size`: the GPT-2 preset with biases (HF's GPT-2 has them), or LLaMA's."""
    extra = {"bias": True} if preset == "gpt2" else {"ffn_multiple_of": 32}  # week 9's LLaMA rounding
    cfg = TransformerConfig.preset(preset, vocab_size=size.vocab, max_len=size.context, d_model=size.d_model,
                                   n_layers=size.n_layers, n_heads=size.n_heads, dropout=0.0, init_std=INIT_STD,
                                   **extra)
    return Transformer(cfg).eval()


def hf_model(size: Size):
    """`GPT2LMHeadModel` of the same size, or None without transformers."""
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
        from transformers.utils import logging
    except ImportError:
        return None
    logging.set_verbosity_error()
    cfg = GPT2Config(vocab_size=size.vocab, n_positions=size.context, n_embd=size.d_model, n_layer=size.n_layers,
                     n_head=size.n_heads, activation_function="gelu", resid_pdrop=0.0, embd_pdrop=0.0,
                     attn_pdrop=0.0, initializer_range=INIT_STD, bos_token_id=None, eos_token_id=None,
                     pad_token_id=0)
    return GPT2LMHeadModel(cfg).eval()


@torch.no_grad()
def copy_gpt2_weights(hf, ours: Transformer) -> None:
    """Load HF GPT-2's weights into our GPT-2 preset (same function afterwards).

    HF stores each projection as a `Conv1D` with weight (d_in, d_out) — y = x W + b — where `nn.Linear` keeps
    (d_out, d_in), hence the transposes; its attention input projection `c_attn` is q, k and v side by side.
    """
    t, d = hf.transformer, ours.config.d_model
    ours.tok.weight.copy_(t.wte.weight)  # tied: also the LM head on both sides
    ours.pos.table.weight.copy_(t.wpe.weight)
    pairs = [(ours.norm, t.ln_f)]
    for hb, ob in zip(t.h, ours.blocks, strict=True):
        pairs += [(ob.norm1, hb.ln_1), (ob.norm2, hb.ln_2)]
        attn = ob.mixer.attn
        for i, proj in enumerate((attn.q_proj, attn.k_proj, attn.v_proj)):  # c_attn: (d, 3d) = [W_q | W_k | W_v]
            proj.weight.copy_(hb.attn.c_attn.weight[:, i * d:(i + 1) * d].T)
            proj.bias.copy_(hb.attn.c_attn.bias[i * d:(i + 1) * d])
        for lin, conv in ((attn.o_proj, hb.attn.c_proj), (ob.ffn.w1, hb.mlp.c_fc), (ob.ffn.w2, hb.mlp.c_proj)):
            lin.weight.copy_(conv.weight.T)
            lin.bias.copy_(conv.bias)
    for mine, theirs in pairs:  # LayerNorms: same layout
        mine.weight.copy_(theirs.weight)
        mine.bias.copy_(theirs.bias)


def ours_rollout(model: Transformer, prompts: torch.Tensor, new: int, seed: int, use_cache: bool = True):
    """The sampler week 10's rollouts use, with the step logits kept: tokens (B, T + N), logits (B, N, V)."""
    return generate(model, prompts, new, temperature=1.0, generator=torch.Generator().manual_seed(seed),
                    use_cache=use_cache, return_logits=True)


def hf_rollout(model, prompts: torch.Tensor, new: int, seed: int):
    """HF's `generate` asked for the same: tokens (B, T + N) and the raw step logits stacked to (B, N, V)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # HF samples with torch.multinomial on the global generator
        with torch.no_grad():
            out = model.generate(input_ids=prompts, attention_mask=torch.ones_like(prompts), do_sample=True,
                                 top_k=0, temperature=1.0, max_new_tokens=new, min_new_tokens=new,
                                 use_cache=True, pad_token_id=0, return_dict_in_generate=True,
                                 output_logits=True)
    return out.sequences, torch.stack(out.logits, dim=1)


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(size: Size, rounds: int = 5, with_peer: bool = True, with_llama: bool = False,
            seed: int = 0) -> Measurement:
    """Time ours (and HF's, if installed and `with_peer`; our LLaMA preset, if `with_llama`) on `size`,
    alternating sides round by round."""
    torch.manual_seed(seed)
    ours = our_model(size)
    hf = hf_model(size) if with_peer else None
    if hf is not None:
        copy_gpt2_weights(hf, ours)
    prompts = torch.randint(0, size.vocab, (size.batch, size.prompt), generator=torch.Generator().manual_seed(1))
    n_tokens = size.batch * size.new

    tokens, logits = ours_rollout(ours, prompts, size.new, seed)  # also the warm-up
    start = time.perf_counter()
    uncached, uncached_logits = ours_rollout(ours, prompts, size.new, seed, use_cache=False)
    uncached_s = time.perf_counter() - start
    m = Measurement(size, ours.num_params(), 0.0, 0.0, tokens.shape[1] * size.batch - prompts.numel(),
                    n_tokens / uncached_s, int((tokens != uncached).sum()),
                    float((logits - uncached_logits).abs().max()))
    sides = {"ours": lambda: ours_rollout(ours, prompts, size.new, seed)}
    if hf is not None:
        peer_tokens, peer_logits = hf_rollout(hf, prompts, size.new, seed)  # also the warm-up
        m.peer_params = sum(p.numel() for p in hf.parameters())
        m.peer_new_tokens = peer_tokens.shape[1] * size.batch - prompts.numel()
        if peer_tokens.shape == tokens.shape:
            m.peer_mismatches = int((peer_tokens != tokens).sum())
            m.peer_logit_gap = float((peer_logits - logits).abs().max())
        else:
            m.peer_mismatches = max(peer_tokens.numel(), tokens.numel())
        m.attention = hf.config._attn_implementation
        sides["hf"] = lambda: hf_rollout(hf, prompts, size.new, seed)
    if with_llama:
        llama = our_model(size, "llama")
        ours_rollout(llama, prompts, size.new, seed)  # warm-up
        sides["llama"] = lambda: ours_rollout(llama, prompts, size.new, seed)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(sides))  # neither side always goes first
        for name in order:
            times[name].append(_seconds(sides[name]))
    m.tokens_per_s = n_tokens / min(times["ours"])
    m.tokens_per_s_median = n_tokens / statistics.median(times["ours"])
    if "hf" in times:
        m.peer_tokens_per_s = n_tokens / min(times["hf"])
        m.peer_tokens_per_s_median = n_tokens / statistics.median(times["hf"])
    if "llama" in times:
        m.llama_tokens_per_s = n_tokens / min(times["llama"])
    return m


def rows(m: Measurement) -> list[Row]:
    s = m.size
    name = f"{s.label} (d{s.d_model} × {s.n_layers})"
    out = []
    if m.peer_tokens_per_s is not None:
        out.append(Row(f"rollout tokens/s, {name}", m.tokens_per_s, "tok/s", m.peer_tokens_per_s,
                       "HF generate", "≥ 1×", ok=m.tokens_per_s >= m.peer_tokens_per_s))
        out.append(Row(f"  parameters (ours {m.params:,})", m.params, "", m.peer_params, "HF", "equal",
                       ok=m.params == m.peer_params))
        out.append(Row("  tokens generated per call", m.new_tokens, "tok",
                       m.peer_new_tokens, "HF", "equal", ok=m.new_tokens == m.peer_new_tokens))
        out.append(Row("  tokens ≠ HF's (same weights and seed)", m.peer_mismatches, "",
                       target="= 0", ok=m.peer_mismatches == 0))
        out.append(Row("  max |logit − HF's| (info)", m.peer_logit_gap, ""))
    else:
        out.append(Row(f"rollout tokens/s, {name}, no peer", m.tokens_per_s, "tok/s"))
    out.append(Row("  tokens ≠ uncached generation's (same seed)", m.cache_mismatches, "",
                   target="= 0", ok=m.cache_mismatches == 0))
    out.append(Row("  max |logit − uncached's| (info)", m.cache_logit_gap, ""))
    out.append(Row("  KV cache against none, one uncached call (info)", m.tokens_per_s, "tok/s", m.uncached_tokens_per_s,
                   "uncached"))
    return out


def main() -> bool:
    threads = int(os.environ.get("BENCH_THREADS", "1"))
    rounds = int(os.environ.get("BENCH_ROUNDS", "7"))
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        table: list[Row] = []
        for size in SIZES:
            m = measure(size, rounds, with_llama=size is SIZES[0])  # the architecture week 9 trains
            if m.peer_tokens_per_s is None:
                console.print("[yellow]transformers is not installed: our side only, no GPT-2 peer[/]")
            else:
                console.print(f"{size.label}: median of {rounds} rounds ours {m.tokens_per_s_median:,.0f} tok/s, "
                              f"HF {m.peer_tokens_per_s_median:,.0f} tok/s (HF attention: {m.attention})")
            table += rows(m)
            if m.llama_tokens_per_s is not None:
                table.append(Row("  same size, our LLaMA preset (info)", m.llama_tokens_per_s, "tok/s",
                                 m.peer_tokens_per_s, "HF GPT-2" if m.peer_tokens_per_s else ""))
        return report(f"Week 10 rollouts: {BATCH} prompts × {PROMPT} tokens + {NEW} sampled, vocab {VOCAB} "
                      f"(torch {torch.__version__}, {threads} thread{'s' * (threads > 1)} each side)", table)
    finally:
        torch.set_num_threads(saved)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
