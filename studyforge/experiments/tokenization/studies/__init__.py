"""Week 2's registered studies, one module per study: `bpe_from_scratch` (BPE merge by merge on "aaabdaaabac",
frequency vs likelihood merges, BPE-dropout), `cross_lingual_compression` (bytes per token and tokens per word
against vocabulary size, per language and domain), `vocab_efficiency_vs_coverage` (vocabulary used on held-out
text, byte fallback, token lengths), `information_theory` (token entropy and a unigram code against zlib and
lzma) and `tokenizer_wars` (our BPE, WordPiece and Unigram against Hugging Face `tokenizers` and
`sentencepiece`); `common` holds the corpora and the BPE helpers they share, `tokenization.plots` their figures.
"""
