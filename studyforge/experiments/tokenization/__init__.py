"""Week 2: tokenization from scratch — byte-level BPE (training and encoding), BPE-dropout, WordPiece and a
Unigram language-model tokenizer, plus the studies that compare them.

Modules: `pretokenize` (the GPT-2 pre-tokenizer, special tokens, streaming and parallel chunking),
`bpe` (`train_bpe`, `Tokenizer`, `DropoutTokenizer`), `wordpiece` (`WordPieceTokenizer`) and
`unigram` (`UnigramTokenizer`); `data` and `metrics` for the studies, which live one per module in
`studies/`, with their figures in `plots`.
"""
