"""Week 2's data loaders, metrics and studies: offline corpora, cached downloads, and known answers from the
studies' summaries (the "aaabdaaabac" table, English-trained tokenizers favouring English)."""

from __future__ import annotations

import json
import math
import sys

import pytest

from studyforge.errors import ForgeError
from studyforge.experiments.tokenization import data as datalib
from studyforge.experiments.tokenization import metrics
from studyforge.experiments.tokenization.studies.bpe_from_scratch import BPEStepsConfig, bpe_from_scratch
from studyforge.experiments.tokenization.studies.cross_lingual_compression import (
    CompressionConfig,
    cross_lingual_compression,
)
from studyforge.experiments.tokenization.studies.information_theory import (
    InformationConfig,
    information_theory,
)
from studyforge.experiments.tokenization.studies.tokenizer_wars import WarsConfig, tokenizer_wars
from studyforge.experiments.tokenization.studies.vocab_efficiency_vs_coverage import (
    EfficiencyConfig,
    vocab_efficiency_vs_coverage,
)
from studyforge.tracking.context import RunContext


def run(study, config_cls, tmp_path, **overrides):
    cfg = config_cls.from_preset("quick", overrides)
    ctx = RunContext(out_dir=tmp_path / "run", config=cfg, seed=0)
    study(ctx, cfg)
    return ctx.summary_values, ctx


# -- data ----------------------------------------------------------------------------------------------------


def test_offline_corpora_are_deterministic_and_labelled():
    english, python = datalib.english_prose(50_000), datalib.python_source(50_000)
    assert english.domain == "english_prose" and english.source.startswith("offline")
    assert 40_000 < len(english.text) <= 50_000 and english.text == datalib.english_prose(50_000).text
    assert "def " in python.text and python.text == datalib.python_source(50_000).text
    train, held = english.split()
    assert held and train and len(held) < len(train) / 5
    assert sorted((train + held).splitlines()) == sorted(x for x in english.text.splitlines() if x.strip())


def test_multilingual_folder_and_filters(shared_data):
    folder = shared_data / "multilingual"
    corpora = datalib.multilingual(str(folder), max_chars=5_000)
    assert len(corpora) == 26 and {c.name for c in corpora} == set(datalib.LINGUA_LANGUAGES)
    assert all(c.domain == "multilingual" and 0 < len(c.text) <= 5_000 for c in corpora)
    assert [c.name for c in datalib.multilingual(str(folder), 1_000, ["fi", "ja"])] == ["fi", "ja"]
    with pytest.raises(ForgeError):
        datalib.multilingual(str(folder / "nope"))


def test_urls_are_downloaded_once_and_then_read_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDYFORGE_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "remote.txt"
    source.write_text("first line\nsecond line\n", encoding="utf-8")
    url = source.as_uri()  # file:// goes through urllib like https://, without a network
    text, where = datalib.read_source(url)
    assert text == "first line\nsecond line\n" and "cached" in where
    source.unlink()  # "offline" now: the cached copy answers
    assert datalib.read_source(url)[0] == text
    with pytest.raises(ForgeError):
        datalib.fetch_url((tmp_path / "missing.txt").as_uri())
    with pytest.raises(ForgeError):
        datalib.read_source(str(tmp_path / "cache"))  # a folder is not a text file

def test_hf_source_needs_datasets_or_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # as if it were not installed: `import datasets` fails
    with pytest.raises(ForgeError, match="datasets"):
        datalib.read_source("hf:roneneldan/TinyStories?split=validation")


def test_hf_source_reads_a_local_dataset_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "train.jsonl").write_text('{"text": "Once upon a time"}\n{"text": "there was a cat."}\n')
    text, provenance = datalib.read_source(f"hf:{folder}?split=train")
    assert "Once upon a time" in text and "there was a cat." in text
    assert str(folder) in provenance


# -- metrics ----------------------------------------------------------------------------------------------------


def test_entropy_and_compressors_known_answers():
    assert metrics.unigram_entropy(list(range(8)) * 5) == pytest.approx(3.0)
    assert metrics.unigram_entropy([1, 1, 1, 2]) == pytest.approx(-(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
    repetitive = "abc" * 10_000
    assert metrics.compressed_bits_per_byte(repetitive, "zlib") < 0.05
    assert metrics.compressed_bits_per_byte(repetitive, "lzma") < 0.05
    import random

    rng = random.Random(0)
    noise = "".join(rng.choice("01") for _ in range(40_000))
    # one random bit per byte of text: no compressor can beat 1 bit per byte
    assert 1.0 <= metrics.compressed_bits_per_byte(noise, "lzma") < 1.3


# -- studies ----------------------------------------------------------------------------------------------------


def test_bpe_from_scratch_toy_known_answer(tmp_path):
    summary, ctx = run(bpe_from_scratch, BPEStepsConfig, tmp_path)
    toy = summary["toy"]
    assert toy["lengths"] == [11, 9, 7, 5] and toy["wikipedia_lengths"] == [11, 9, 7, 5]
    assert toy["final_sequence"] == "XdXac" and toy["spelled"] == ["aa", "aaa", "aaab"]
    assert toy["merges"] == ["aa -> Z", "Za -> Y", "Yb -> X"]
    english = summary["english"]
    # frequency merges compress held-out text better than likelihood merges (which glue rare pairs first)
    assert english["frequency"]["bytes_per_token"] > english["likelihood"]["bytes_per_token"]
    assert english["frequency"]["first_merges"][0] in (" t", " a", "e ", "he", "in", "th", "  ")
    dropout = summary["dropout"]
    assert dropout["p0"]["length_ratio"] == 1.0
    ratios = [dropout[k]["length_ratio"] for k in sorted(dropout, key=lambda k: dropout[k]["p"])]
    assert ratios == sorted(ratios) and ratios[-1] > 1.2
    assert (ctx.out_dir / "figures" / "toy_sequence_length.png").is_file()
    rows = (ctx.out_dir / "tables" / "toy_merges.csv").read_text().splitlines()
    assert rows[1].endswith("aaabdaaabac,11") and rows[-1].endswith("XdXac,5")


def test_cross_lingual_compression_on_26_languages(tmp_path, shared_data):
    folder = shared_data / "multilingual"
    summary, _ = run(cross_lingual_compression, CompressionConfig, tmp_path, multilingual=str(folder),
                     language_chars=8_000, languages=["en", "de", "ru", "zh", "hi"])
    assert summary["data"]["languages"] == ["de", "en", "hi", "ru", "zh"] and "only 5" in summary["data"]["note"]
    bpt = summary["bytes_per_token"]["english_only"]
    # an English-trained byte-level BPE compresses English prose best and barely compresses Hindi or Chinese
    assert bpt["english"]["v600"] > bpt["de"]["v600"] > bpt["hi"]["v600"]
    assert bpt["zh"]["v600"] < 1.2 and bpt["hi"]["v600"] < 1.2
    # sharing the vocabulary out helps the other scripts
    assert summary["bytes_per_token"]["balanced"]["hi"]["v600"] > bpt["hi"]["v600"]
    # and more vocabulary never compresses less
    for regime in ("english_only", "balanced"):
        for corpus in summary["bytes_per_token"][regime].values():
            assert corpus["v600"] >= corpus["v300"] - 1e-9


def test_information_theory_and_efficiency_quick(tmp_path):
    summary, _ = run(information_theory, InformationConfig, tmp_path)
    bpb = summary["bits_per_byte"]["english"]
    assert bpb["v256"] > bpb["v300"] > bpb["v600"]  # merges move redundancy into the vocabulary
    # the byte-level unigram code is the byte entropy of the text: between 4 and 5 bits for English
    assert 4.0 < bpb["v256"] < 5.2
    # zlib and lzma use context, a unigram code over bytes does not (on 4 kB, lzma's headers still cost)
    assert max(summary["lzma_bits_per_byte"]["english"], summary["zlib_bits_per_byte"]["english"]) < bpb["v256"]
    summary, _ = run(vocab_efficiency_vs_coverage, EfficiencyConfig, tmp_path / "b")
    assert 0 < summary["english_vocab_used"] <= 1
    assert summary["byte_fallback"]["python"]["v600"] <= summary["byte_fallback"]["python"]["v300"]


def test_tokenizer_wars_quick(tmp_path):
    summary, ctx = run(tokenizer_wars, WarsConfig, tmp_path)
    names = {"ours_bpe", "ours_wordpiece", "ours_wordpiece_freq", "ours_unigram", "hf_bpe", "hf_wordpiece",
             "hf_unigram", "spm_unigram", "spm_bpe"}
    assert set(summary["train_seconds"]) == names
    assert summary["unk_rate"]["english"]["ours_bpe"] == 0.0  # byte-level: nothing is unknown
    # same algorithm, same data: our BPE and HF's agree on how a word splits
    assert summary["examples"]["Pythonic"]["ours_bpe"] == summary["examples"]["Pythonic"]["hf_bpe"]
    table = json.dumps(summary["examples"], ensure_ascii=False)
    assert "##" in table and "▁" in table
    assert (ctx.out_dir / "tables" / "segmentations.csv").is_file()
