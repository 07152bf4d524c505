"""WordPiece: merges chosen by likelihood, encoding by greedy longest match.

Schuster & Nakajima, "Japanese and Korean Voice Search" (ICASSP 2012; no arXiv id) introduced WordPiece;
Wu et al., "Google's Neural Machine Translation System" (arXiv:1609.08144) and Devlin et al., "BERT"
(arXiv:1810.04805) made it the tokenizer of a generation of models. Two things differ from BPE:

* **Training** merges the pair that most increases the likelihood of the training data under a unigram
  model of the symbols, not the most frequent pair. Merging a, b into ab changes the log-likelihood by
  about c(ab) · log(p(ab) / (p(a) p(b))), and ranking pairs by the ratio inside,

      score(a, b) = c(ab) / (c(a) · c(b)),

  prefers pairs whose parts rarely occur apart ("q" + "##u") over pairs of common symbols ("e" + "##s").
* **Encoding** does not replay merges: each word is cut greedily, longest vocabulary entry first, from
  left to right; a piece that continues a word is spelled with a `##` prefix; a word that cannot be cut
  becomes `[UNK]` as a whole.

Words come from BERT's pre-tokenizer: split at whitespace, and every punctuation character is a word of
its own. Unlike byte-level BPE, the alphabet is the characters seen in training, so unseen characters
give `[UNK]` and decoding is lossy (spaces are normalised).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

import regex

from studyforge.experiments.tokenization.bpe import learn_merges

# BERT's punctuation: Unicode category P*, plus the ASCII symbols that are not letters or digits
_PUNCT = r"\p{P}!-/:-@\[-`{-~"
BERT_WORD_RE = regex.compile(rf"[^\p{{White_Space}}{_PUNCT}]+|[{_PUNCT}]")
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CONTINUATION = "##"
WORD_START = b"\xff"  # marks word-initial symbols in training labels


def bert_pretokenize(text: str) -> list[str]:
    """BERT's basic split (without lower-casing or accent stripping).

    >>> bert_pretokenize("Don't stop, 2 ok!")
    ['Don', "'", 't', 'stop', ',', '2', 'ok', '!']
    """
    return BERT_WORD_RE.findall(text)


class WordPieceTokenizer:
    """A WordPiece vocabulary (`tokens[id]`, continuation pieces spelled `##x`) and its greedy encoder."""

    def __init__(self, tokens: Sequence[str], unk_token: str = "[UNK]", max_word_chars: int = 100):
        self.tokens = list(tokens)
        self.id_of = {t: i for i, t in enumerate(self.tokens)}
        if unk_token not in self.id_of:
            raise ValueError(f"the vocabulary must contain the unknown token {unk_token!r}")
        self.unk_token, self.unk_id = unk_token, self.id_of[unk_token]
        self.max_word_chars = max_word_chars
        self.max_piece_chars = max(len(t.removeprefix(CONTINUATION)) for t in self.tokens)

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int, special_tokens: Sequence[str] = SPECIAL_TOKENS,
              strategy: str = "likelihood") -> WordPieceTokenizer:
        """Learn a vocabulary of `vocab_size` tokens (specials + alphabet + merges) from `texts`.

        Every word starts as its first character followed by `##`-continuation characters; merges are
        picked by `strategy` ("likelihood", WordPiece's score; "frequency" gives BPE's choice).
        """
        word_counts: Counter[str] = Counter()
        for text in texts:
            word_counts.update(bert_pretokenize(text))
        # A symbol's label is its UTF-8 spelling, with a 0xFF byte (never part of UTF-8) in front when it
        # starts a word: merged labels then say by themselves whether they continue a word, and equal
        # labels mean the same symbol.
        symbol_id: dict[bytes, int] = {}
        labels: list[bytes] = []
        words, counts = [], []
        for word, c in word_counts.items():
            ids = []
            for k, ch in enumerate(word):
                label = ch.encode("utf-8") if k else WORD_START + ch.encode("utf-8")
                if label not in symbol_id:
                    symbol_id[label] = len(labels)
                    labels.append(label)
                ids.append(symbol_id[label])
            words.append(ids)
            counts.append(c)
        specials = list(dict.fromkeys(special_tokens))
        num_new = max(0, vocab_size - len(specials) - len(labels))
        learn_merges(words, counts, labels, num_new, strategy)  # type: ignore[arg-type]

        def spell(label: bytes) -> str:
            if label.startswith(WORD_START):
                return label[1:].decode("utf-8")
            return CONTINUATION + label.decode("utf-8")

        tokens = list(dict.fromkeys([*specials, *map(spell, labels)]))
        return cls(tokens, unk_token="[UNK]" if "[UNK]" in specials else specials[0])

    def encode_word(self, word: str) -> list[int]:
        """Greedy longest-match-first, left to right.

        With the vocabulary {un, ##aff, ##able, ##a, [UNK]}: "unaffable" -> un ##aff ##able, and
        "unx" -> [UNK] (nothing matches at "x", so the whole word is unknown).
        """
        if len(word) > self.max_word_chars:
            return [self.unk_id]
        ids, start = [], 0
        while start < len(word):
            prefix = CONTINUATION if start else ""
            for end in range(min(len(word), start + self.max_piece_chars), start, -1):
                i = self.id_of.get(prefix + word[start:end])
                if i is not None:
                    ids.append(i)
                    start = end
                    break
            else:
                return [self.unk_id]
        return ids

    def encode(self, text: str) -> list[int]:
        cache: dict[str, list[int]] = {}
        out: list[int] = []
        for word in bert_pretokenize(text):
            ids = cache.get(word)
            if ids is None:
                ids = cache[word] = self.encode_word(word)
            out.extend(ids)
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Tokens joined with spaces, `##` pieces glued to the piece before (spacing is not restored)."""
        text = " ".join(self.tokens[i] for i in ids)
        return text.replace(" " + CONTINUATION, "")

    def __len__(self) -> int:
        return len(self.tokens)
