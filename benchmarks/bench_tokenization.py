"""Week 2: our byte-level BPE against Hugging Face `tokenizers`, side by side in one run.

Figures (issue 5): `train_bpe` on cs336/corpus.en (vocab 500) ≤ 0.4 s; on Tiny Shakespeare (vocab 10,000)
≤ 3× HF's BPE trainer and peak memory ≤ 10× the file; encoding with GPT-2's vocabulary at least as fast as
HF single-threaded, on Tiny Shakespeare and on the 26-language set; the week's studies at their default
preset within 10 minutes.

HF runs in a subprocess so that its thread pool can be pinned (RAYON_NUM_THREADS=1) or left at its default,
whatever ran before in this process. Every encoding timing starts from a fresh tokenizer on both sides
(cold caches: each pre-token is merged once, then looked up), best of 3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Row, best_of, console, peak_python_memory, report

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
EOT = "<|endoftext|>"

_HF = r"""
import glob, json, sys, time
from tokenizers import Tokenizer, models, pre_tokenizers, trainers
task, args = sys.argv[1], json.loads(sys.argv[2])

def byte_level(tok):
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    return tok

best = float("inf")
for _ in range(args["repeat"]):
    if task == "train":
        tok = byte_level(Tokenizer(models.BPE()))
        trainer = trainers.BpeTrainer(vocab_size=args["vocab_size"], special_tokens=[args["special"]],
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
        start = time.perf_counter()
        tok.train([args["path"]], trainer)
    else:
        texts = [open(p, encoding="utf-8", newline="").read() for p in args["paths"]]
        tok = byte_level(Tokenizer(models.BPE.from_file(args["vocab"], args["merges"])))
        start = time.perf_counter()
        for text in texts:
            tok.encode(text)
    best = min(best, time.perf_counter() - start)
print(json.dumps(best))
"""


def hf_seconds(task: str, threads: int | None, **args) -> float:
    """Best-of-3 wall time of HF doing `task` in a fresh interpreter (threads=None: HF's default pool)."""
    env = dict(os.environ)
    env.pop("RAYON_NUM_THREADS", None)
    env["TOKENIZERS_PARALLELISM"] = "true"
    if threads is not None:
        env["RAYON_NUM_THREADS"] = str(threads)
        env["TOKENIZERS_PARALLELISM"] = "false"
    out = subprocess.run([sys.executable, "-c", _HF, task, json.dumps({"repeat": 3, **args})],
                         env=env, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def _encode_cold(tokenizer, texts: list[str]) -> float:
    """Seconds to encode `texts` with a tokenizer whose cache is still empty."""
    start = time.perf_counter()
    for text in texts:
        tokenizer.encode(text)
    return time.perf_counter() - start


def _week2_default_seconds() -> float:
    """Wall time of every registered week-2 study at its default preset, run through a RunContext."""
    import tempfile

    from studyforge.experiments import registry
    from studyforge.tracking.context import RunContext

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for study in registry.studies_for_week(2):
            cfg = study.config.from_preset("default")
            study.fn(RunContext(out_dir=Path(tmp) / study.id, config=cfg, seed=0), cfg)
    return time.perf_counter() - start


def main() -> bool:
    from studyforge.experiments.tokenization.bpe import Tokenizer, train_bpe

    corpus, shakespeare = DATA / "cs336/corpus.en", DATA / "tinyshakespeare.txt"
    vocab_json, merges_txt = DATA / "cs336/gpt2_vocab.json", DATA / "cs336/gpt2_merges.txt"
    multilingual = sorted((DATA / "multilingual").glob("*.txt"))
    if not all(p.exists() for p in (corpus, shakespeare, vocab_json, merges_txt)) or not multilingual:
        console.print(f"[yellow]tokenization benchmark skipped: shared data not found under {DATA}[/]")
        return True
    rows: list[Row] = []

    # -- training ------------------------------------------------------------------------------------------
    ours = best_of(lambda: train_bpe(corpus, 500, [EOT]))
    hf = hf_seconds("train", None, path=str(corpus), vocab_size=500, special=EOT)
    rows.append(Row("train_bpe corpus.en, vocab 500", ours, "s", hf, "HF trainer", "≤ 0.4 s", ours <= 0.4))

    ours = best_of(lambda: train_bpe(shakespeare, 10_000, [EOT]))
    hf_default = hf_seconds("train", None, path=str(shakespeare), vocab_size=10_000, special=EOT)
    hf_single = hf_seconds("train", 1, path=str(shakespeare), vocab_size=10_000, special=EOT)
    rows.append(Row(f"train_bpe Tiny Shakespeare, vocab 10k (HF: {os.cpu_count()} threads)", ours, "s",
                    hf_default, "HF trainer", "≤ 3× HF", ours <= 3 * hf_default))
    rows.append(Row("train_bpe Tiny Shakespeare, vocab 10k (HF: 1 thread)", ours, "s", hf_single,
                    "HF trainer, 1 thread", "≤ 3× HF", ours <= 3 * hf_single))
    _, peak = peak_python_memory(lambda: train_bpe(shakespeare, 10_000, [EOT]))
    size = shakespeare.stat().st_size
    rows.append(Row("train_bpe Tiny Shakespeare: peak Python memory / file size", peak / size, "×", None, "",
                    "≤ 10×", peak <= 10 * size))

    # -- encoding ----------------------------------------------------------------------------------------------
    for label, paths in (("Tiny Shakespeare", [shakespeare]), (f"{len(multilingual)} languages", multilingual)):
        texts = [p.read_bytes().decode("utf-8") for p in paths]
        megabytes = sum(len(t.encode("utf-8")) for t in texts) / 1e6

        ours_rate = megabytes / min(_encode_cold(Tokenizer.from_files(vocab_json, merges_txt, [EOT]), texts)
                                    for _ in range(3))
        hf_rate = megabytes / hf_seconds("encode", 1, paths=[str(p) for p in paths], vocab=str(vocab_json),
                                         merges=str(merges_txt))
        rows.append(Row(f"encode GPT-2 vocab, {label} ({megabytes:.1f} MB)", ours_rate, "MB/s", hf_rate,
                        "HF, 1 thread", "≥ 1× HF", ours_rate >= hf_rate))

    # -- the week's studies at their default preset (offline data), one after another -------------------------
    seconds = _week2_default_seconds()
    rows.append(Row("week 2 studies, default preset, offline data (5 studies)", seconds, "s", None, "",
                    "≤ 600 s", seconds <= 600))

    return report("Week 2 — tokenization (2-core CPUs are contended: rerun before trusting a ratio)", rows)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
