"""Week 8's training stack: data, exact resume, DDP = single process, sampling, checkpoints, `forge sample`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from workspaces import NEW, OLD, TRUNCATED, bad_record, drafting_workspace, write_record

from studyforge.errors import ForgeError
from studyforge.experiments.language_modeling.checkpoint import export, find_checkpoint, load_model
from studyforge.experiments.language_modeling.data import (
    BPETokenizer,
    CharTokenizer,
    TokenData,
    load_data,
    step_generator,
    tokenizer_from_dict,
)
from studyforge.experiments.language_modeling.generate import filter_logits, generate, sample_next
from studyforge.experiments.language_modeling.trainer import TrainConfig, Trainer
from studyforge.experiments.transformer.config import TransformerConfig

torch.set_num_threads(1)

TEXT = "".join(f"Line {i}: the quick brown fox jumps over the lazy dog, said speaker {i % 7}.\n" for i in range(400))


@pytest.fixture
def corpus(tmp_path) -> Path:
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT)
    return path


def tiny_model(vocab: int, **kw) -> TransformerConfig:
    return TransformerConfig(**{"vocab_size": vocab, "d_model": 32, "n_layers": 2, "n_heads": 2, "max_len": 16, **kw})


# -- data ---------------------------------------------------------------------------------------------------


def test_char_and_bpe_tokenizers_round_trip(corpus):
    data = load_data(str(corpus))
    assert data.source == str(corpus) and data.vocab_size == len(set(TEXT))
    assert len(data.train) + len(data.val) == len(TEXT)  # one token per character
    assert data.tokenizer.decode(data.val[:20]) == TEXT[len(data.train):len(data.train) + 20]  # the tail validates
    bpe = load_data(str(corpus), tokenizer="bpe", bpe_vocab_size=300)
    assert isinstance(bpe.tokenizer, BPETokenizer) and bpe.vocab_size == 300
    assert len(bpe.train) < 0.8 * len(data.train)  # merges shorten the stream
    for tok in (data.tokenizer, bpe.tokenizer):
        again = tokenizer_from_dict(json.loads(json.dumps(tok.to_dict())))
        assert again.decode(again.encode("the lazy dog")) == "the lazy dog"
        assert again.encode("quick fox") == tok.encode("quick fox")
    with pytest.raises(ValueError, match="not in the vocabulary"):
        CharTokenizer.from_text("abc").encode("abz")


def test_tiled_windows_cover_the_split_once(corpus):
    data = load_data(str(corpus))
    x, y = data.tiled_windows("val", 16)
    n = (len(data.val) - 1) // 16
    assert x.shape == y.shape == (n, 16)
    assert torch.equal(x.flatten(), data.val[: n * 16]) and torch.equal(y.flatten(), data.val[1 : n * 16 + 1])
    with pytest.raises(ValueError, match="shorter than one window"):
        data.tiled_windows("val", len(data.val))


def test_random_windows_reach_every_start_including_the_last():
    """Starts 0 … N − length − 1 are all drawn: the split's final token is a target, and a split of exactly
    length + 1 tokens is one window (both were out of reach with an exclusive bound one too low)."""
    tokens = torch.arange(12)
    data = TokenData(tokens, tokens[:5].clone(), CharTokenizer(list("abcdefghijkl")), "test")
    length = 8  # starts 0, 1, 2, 3
    seen = set()
    for step in range(50):
        x, y = data.batch("train", 8, length, step_generator(0, step))
        assert torch.equal(y, x + 1)  # y is x shifted by one
        seen.update(x[:, 0].tolist())
    assert seen == {0, 1, 2, 3}
    x, y = data.batch("val", 3, 4, torch.Generator().manual_seed(0))  # exactly length + 1 tokens
    assert x.tolist() == [[0, 1, 2, 3]] * 3 and y.tolist() == [[1, 2, 3, 4]] * 3
    with pytest.raises(ValueError, match="shorter than one window"):
        data.batch("val", 1, 5, torch.Generator())


def test_offline_fallback_when_the_corpus_is_missing():
    data = load_data("no/such/file.txt", max_chars=20_000)
    assert "offline fallback" in data.source and data.chars == 20_000


def test_step_batches_depend_only_on_seed_step_and_rank(corpus):
    data = load_data(str(corpus))
    x1, y1 = data.step_batch(0, 5, 4, 8)
    x2, _ = data.step_batch(0, 5, 4, 8)
    assert torch.equal(x1, x2) and torch.equal(x1[:, 1:], y1[:, :-1])
    halves = [data.step_batch(0, 5, 4, 8, rank=r, world=2)[0] for r in (0, 1)]
    assert torch.equal(torch.cat(halves), x1)  # ranks split the same global batch
    assert not torch.equal(data.step_batch(0, 6, 4, 8)[0], x1)


# -- trainer ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("optimizer", ["adamw", "lion", "adafactor"])
def test_resume_reproduces_the_uninterrupted_loss_curve_exactly(corpus, tmp_path, optimizer):
    data = load_data(str(corpus))
    mcfg = tiny_model(data.vocab_size, dropout=0.1, ffn="moe" if optimizer == "lion" else "dense")
    tcfg = TrainConfig(steps=8, batch_size=4, warmup=3, optimizer=optimizer, lr=3e-3, eval_every=0)
    full = Trainer(mcfg, tcfg, data)
    full.fit()

    first = Trainer(mcfg, tcfg, data)
    first.fit(4)
    path = first.save(tmp_path / "ckpt.pt")
    torch.rand(100)  # disturb the global RNG: the checkpoint must restore it
    resumed = Trainer(mcfg, tcfg.model_copy(update={"seed": 99}), data)  # other init: the checkpoint overrides it
    resumed.load(path)
    resumed.cfg = tcfg
    resumed.fit()
    assert [r["loss"] for r in resumed.history] == [r["loss"] for r in full.history]
    for a, b in zip(resumed.model.parameters(), full.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_training_learns_and_evaluates_in_bf16_with_checkpointing(corpus):
    data = load_data(str(corpus))
    mcfg = tiny_model(data.vocab_size, norm="rmsnorm", activation="swiglu", position="rope", ffn_multiple_of=8)
    trainer = Trainer(mcfg, TrainConfig(steps=60, batch_size=8, lr=1e-2, warmup=5, precision="bf16",
                                        grad_checkpointing=True, eval_windows=20), data)
    evals = []
    trainer.fit(on_eval=evals.append)
    assert trainer.history[0]["loss"] > 2.5 and evals[-1]["val_loss"] < 2.0  # ln(vocab) ≈ 3.5 at the start
    assert evals[-1]["val_ppl"] == pytest.approx(torch.tensor(evals[-1]["val_loss"]).exp().item(), rel=1e-6)
    assert evals[-1]["tokens"] == 60 * 8 * 16


def test_ddp_with_two_processes_equals_single_process(corpus, tmp_path):
    """torchrun --nproc_per_node 2 (gloo, ZeRO-sharded AdamW) against one process on the same global batches."""
    spec = {"model": tiny_model(80).model_dump(), "data": {"corpus_path": str(corpus)},
            "train": {"steps": 6, "batch_size": 8, "warmup": 2, "lr": 3e-3, "eval_every": 0, "zero": True},
            "out": str(tmp_path / "ddp.pt")}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    # The Triton tests set TRITON_INTERPRET=1 for the whole session; the DDP children must not inherit it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRITON")}
    env.update(OMP_NUM_THREADS="1", PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "studyforge.experiments.language_modeling.launch", str(tmp_path / "spec.json")],
                          capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = torch.load(tmp_path / "ddp.pt", weights_only=False)
    assert ddp["world_size"] == 2 and len(ddp["rng"]) == 2

    data = load_data(str(corpus))
    single = Trainer(TransformerConfig(**spec["model"]), TrainConfig(**{**spec["train"], "zero": False}), data)
    single.fit()
    assert [r["loss"] for r in ddp["history"]] == pytest.approx([r["loss"] for r in single.history], abs=1e-5)
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(ddp["model"][name], value, atol=1e-5, rtol=1e-4)
    # the consolidated ZeRO state has every parameter's Adam moments
    assert len(ddp["optimizer"]["state"]) == len(list(single.model.parameters()))


# -- sampling -----------------------------------------------------------------------------------------------


def test_top_k_top_p_and_temperature():
    logits = torch.log(torch.tensor([[0.5, 0.25, 0.15, 0.1]]))
    assert torch.isinf(filter_logits(logits, top_k=2)[0, 2:]).all()
    # top-p 0.6: 0.5 alone is short of it, 0.5 + 0.25 reaches it
    kept = filter_logits(logits, top_p=0.6)[0]
    assert torch.isfinite(kept[:2]).all() and torch.isinf(kept[2:]).all()
    assert torch.isfinite(filter_logits(logits, top_p=0.01)[0, 0])  # the top token always stays
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_next(logits.expand(4000, 4), 1.0, generator=g)]).flatten()
    freq = torch.bincount(draws, minlength=4).float() / 4000
    torch.testing.assert_close(freq, torch.tensor([0.5, 0.25, 0.15, 0.1]), atol=0.03, rtol=0)
    assert sample_next(logits, 0.0).item() == 0
    cold = torch.bincount(sample_next(logits.expand(4000, 4), 0.25, generator=g), minlength=4).float() / 4000
    # p_τ ∝ p^(1/τ): at τ = 1/4 the top token gets 0.5⁴ / Σ p⁴
    expected = torch.tensor([0.5, 0.25, 0.15, 0.1]) ** 4
    assert cold[0].item() == pytest.approx((expected / expected.sum())[0].item(), abs=0.03)


def test_sampling_is_reproducible_and_top_k_1_is_greedy():
    torch.manual_seed(0)
    from studyforge.experiments.transformer.model import Transformer

    model = Transformer(tiny_model(30)).eval()
    prompt = torch.tensor([[1, 2, 3]])
    a = generate(model, prompt, 10, 1.0, generator=torch.Generator().manual_seed(4))
    b = generate(model, prompt, 10, 1.0, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and a.shape == (1, 13)
    assert torch.equal(generate(model, prompt, 10, 1.0, top_k=1), generate(model, prompt, 10, 0.0))


# -- checkpoints and the CLI ------------------------------------------------------------------------------


def _fake_run(root: Path, corpus: Path) -> tuple[str, Path]:
    """A completed run record with a trained-for-a-few-steps model checkpoint, as a study would leave it."""
    import datetime as dt

    from studyforge.tracking.records import RunRecord, record_dir

    data = load_data(str(corpus))
    trainer = Trainer(tiny_model(data.vocab_size), TrainConfig(steps=3, batch_size=4, eval_every=0), data)
    trainer.fit()
    run_id = "20261126-101502-s0-abcd"
    folder = record_dir(root / "runs", 8, "language_modeling.train_small_lm", run_id)
    (folder / "checkpoints").mkdir(parents=True)
    torch.save(export(trainer.model, data.tokenizer, step=3), folder / "checkpoints" / "model.pt")
    RunRecord(run_id=run_id, experiment="language_modeling.train_small_lm", week=8, preset="quick", seeds=[0],
              config={}, status="completed", started=dt.datetime(2026, 11, 26, 10, 15),
              checkpoints=[{"name": "model", "path": "checkpoints/model.pt"}]).save(folder)
    return run_id, folder


def test_load_model_round_trip(corpus, tmp_path):
    run_id, folder = _fake_run(tmp_path, corpus)
    assert find_checkpoint(folder) == folder / "checkpoints" / "model.pt"
    model, tok, cfg = load_model(folder)
    assert cfg.d_model == 32 and not model.training
    same, _, _ = load_model(folder / "checkpoints" / "model.pt")
    ids = torch.tensor([tok.encode("the quick")])
    torch.testing.assert_close(model(ids).logits, same(ids).logits)
    assert model.head.weight is model.tok.weight  # still tied after loading


def test_forge_sample_cli(corpus, mini_workspace):
    from typer.testing import CliRunner

    from studyforge.cli.main import app

    run_id, _ = _fake_run(mini_workspace, corpus)
    runner = CliRunner()
    res = runner.invoke(app, ["-C", str(mini_workspace), "sample", run_id[:20], "--prompt", "the quick",
                              "--max-new-tokens", "12", "--seed", "3", "--top-k", "5", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    assert payload["text"].startswith("the quick") and len(payload["text"]) == len("the quick") + 12
    again = runner.invoke(app, ["-C", str(mini_workspace), "sample", run_id, "--prompt", "the quick",
                                "--max-new-tokens", "12", "--seed", "3", "--top-k", "5", "--json"])
    assert json.loads(again.stdout)["text"] == payload["text"]  # seeded
    bad = runner.invoke(app, ["-C", str(mini_workspace), "sample", "nope", "--prompt", "x"])
    assert bad.exit_code == 2 and "no run with id" in bad.output
    unknown = runner.invoke(app, ["-C", str(mini_workspace), "sample", run_id, "--prompt", "ЖЖ"])
    assert unknown.exit_code == 2 and "cannot encode the prompt" in unknown.output


def test_sample_finds_its_run_beside_an_unreadable_one(tmp_path):
    from studyforge.experiments.language_modeling.sampling import find_run

    ws = drafting_workspace(tmp_path, run=False)  # its run records are written by hand
    write_record(ws)
    bad_record(ws, NEW, TRUNCATED)
    assert find_run(ws.runs_dir, OLD[:15]).run_id == OLD
    with pytest.raises(ForgeError, match="not valid JSON"):  # the bad one itself: say why, not "no such run"
        find_run(ws.runs_dir, NEW)


def test_sample_says_when_the_checkpoint_is_a_quick_runs(corpus, mini_workspace):
    from typer.testing import CliRunner

    from studyforge.cli.main import app

    runner = CliRunner()
    run_id, folder = _fake_run(mini_workspace, corpus)  # a quick-preset record
    args = ["-C", str(mini_workspace), "sample", run_id, "--prompt", "the quick", "--max-new-tokens", "5"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    (line,) = [x for x in result.output.splitlines() if "quick" in x and "preset" in x]
    assert "noise" in line
    as_json = runner.invoke(app, [*args, "--json"])
    assert json.loads(as_json.stdout)["preset"] == "quick"
    run = json.loads((folder / "run.json").read_text())
    (folder / "run.json").write_text(json.dumps({**run, "preset": "default"}))
    again = runner.invoke(app, args)
    assert again.exit_code == 0 and "noise" not in again.output and "preset" not in again.output


# -- study helpers --------------------------------------------------------------------------------------------


def test_study_helpers_known_answers():
    import math

    from studyforge.experiments.language_modeling.harness import grad_spikes
    from studyforge.experiments.language_modeling.studies.common import bits_per_char
    from studyforge.experiments.language_modeling.studies.perplexity_vs_model_size import power_law_fit
    from studyforge.experiments.transformer.studies.width_vs_depth import shape_for

    alpha, a = power_law_fit([1e3, 1e4, 1e5], [4.0, 2.0, 1.0])  # halves per decade: α = log10 2
    assert alpha == pytest.approx(math.log10(2)) and a == pytest.approx(4.0 * 1e3 ** alpha)
    assert bits_per_char(math.log(2) * 3, 1.5) == pytest.approx(2.0)  # 3 bits/token over 1.5 chars/token
    assert shape_for(12 * 4 * 64**2, 4, 16) == 64 and shape_for(12 * 1 * 128**2, 1, 16) == 128
    norms = [1.0] * 60
    norms[55] = 5.0
    assert grad_spikes(norms, window=50, factor=4.0) == 1
    assert grad_spikes([1.0, 100.0], window=50) == 0  # no history yet, no verdict


def test_a_split_is_decoded_once_and_kept():
    from studyforge.experiments.language_modeling.data import load_data

    data = load_data("no/such/corpus.txt", max_chars=5_000)
    text = data.text("val")
    assert text == data.tokenizer.decode(data.val.tolist())
    assert data.text("val") is text  # the same object: not decoded again
    assert data.text("train") == data.tokenizer.decode(data.train.tolist())
