"""The language-model stack on a CUDA GPU: the same numbers as on the CPU, bf16 autocast, KV-cache decoding.

These run only where CUDA is present (CI has no GPU: they skip there); the CPU tests cover the same code paths.
"""

from __future__ import annotations

import pytest
import torch

from studyforge.experiments.language_modeling.data import load_data
from studyforge.experiments.language_modeling.generate import generate
from studyforge.experiments.language_modeling.trainer import TrainConfig, Trainer
from studyforge.experiments.transformer.config import TransformerConfig
from studyforge.experiments.transformer.model import Transformer

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

TEXT = "".join(f"Line {i}: the quick brown fox jumps over the lazy dog, said speaker {i % 7}.\n" for i in range(400))
LLAMA = {"norm": "rmsnorm", "activation": "swiglu", "position": "rope", "n_kv_heads": 2, "ffn_multiple_of": 8}


@pytest.fixture
def data(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    return load_data(str(path))


def model_cfg(vocab: int, **kw) -> TransformerConfig:
    return TransformerConfig(**{"vocab_size": vocab, "d_model": 64, "n_layers": 2, "n_heads": 4, "max_len": 32, **kw})


@pytest.mark.parametrize("arch", [{}, LLAMA, {"ffn": "moe", "moe": {"n_experts": 4, "top_k": 2}}])
def test_cuda_fp32_training_follows_the_cpu_loss_curve(data, arch):
    cfg = TrainConfig(steps=20, batch_size=8, lr=3e-3, warmup=2, eval_windows=10)
    curves = {}
    for device in ("cpu", "cuda"):
        trainer = Trainer(model_cfg(data.vocab_size, **arch), cfg, data, device)
        trainer.fit()
        curves[device] = [row["loss"] for row in trainer.history]
    assert curves["cuda"][-1] < curves["cuda"][0] - 0.5
    # same initial weights and batches; only the order of floating-point sums differs
    torch.testing.assert_close(torch.tensor(curves["cuda"]), torch.tensor(curves["cpu"]), atol=5e-3, rtol=5e-3)


def test_cuda_bf16_autocast_with_checkpointing_learns(data):
    cfg = TrainConfig(steps=60, batch_size=8, lr=1e-2, warmup=5, precision="bf16", grad_checkpointing=True,
                      eval_windows=20)
    trainer = Trainer(model_cfg(data.vocab_size, **LLAMA), cfg, data, "cuda")
    evals = []
    trainer.fit(on_eval=evals.append)
    assert next(trainer.model.parameters()).dtype == torch.float32  # master weights stay fp32
    assert trainer.history[0]["loss"] > 2.5 and evals[-1]["val_loss"] < 2.0


@pytest.mark.parametrize("arch", [{}, LLAMA, {"mixer": "mamba", "mamba_d_state": 4}, {"mixer": "retnet"}])
def test_cuda_kv_cache_generation_equals_full_recomputation(arch):
    torch.manual_seed(1)
    model = Transformer(model_cfg(23, max_len=16, **arch)).cuda().eval()
    prompt = torch.randint(0, 23, (2, 5), device="cuda")
    cached, logits_c = generate(model, prompt, 20, temperature=0, use_cache=True, return_logits=True)
    full, logits_f = generate(model, prompt, 20, temperature=0, use_cache=False, return_logits=True)
    assert torch.equal(cached, full)
    torch.testing.assert_close(logits_c, logits_f, atol=1e-4, rtol=1e-4)


def test_cuda_attention_variants_run_and_flash_memory_stays_linear():
    """Week 3's `--device cuda` path: every variant runs on the GPU, and the allocator's peak shows flash
    attention's O(T) memory against naive attention's (T, T) scores."""
    from studyforge.experiments.attention.catalogue import VARIANTS, measure

    for name, variant in VARIANTS.items():
        m = measure(name, min(1024, variant.max_len), head_dim=64, device="cuda", repeat=1)
        assert m.seconds > 0 and m.peak_bytes > 0, name
    flash, naive = (measure(name, 4096, head_dim=64, device="cuda", repeat=1).peak_bytes
                    for name in ("flash", "dot_product"))
    assert flash * 8 <= naive  # naive holds 4096² fp32 scores (64 MiB) and their softmax
