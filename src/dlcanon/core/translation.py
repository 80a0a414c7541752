"""Sequence to sequence on real text: the verse-aligned Bible pairs, a word vocabulary, padded batches, beam search
and BLEU. Shared by the translation papers (sutskever2014, cho2014, bahdanau2015) and the captioner (vinyals2015).

    pairs = bible_pairs("kjv", "rv1909")              # [(verse key, English tokens, Spanish tokens)], 31,084
    train, valid, test = split(pairs, test=0.05, valid=0.02)     # by a hash of the verse key: stable, no seed
    src_vocab = Vocab.build((s for _, s, _ in train), size=8000)
    x, x_len = src_vocab.batch([s for _, s, _ in test])           # (N, T) int64, PAD-padded, EOS-terminated
    hyps = beam_search(step, state, n=len(test), beam=12, max_len=60)
    bleu([tgt_vocab.decode(h) for h in hyps], [t for _, _, t in test])

The split depends only on each verse's key, so every paper (and every length filter) sees the same test verses,
and a verse never moves between train and test when a preset changes its sizes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import torch

from .data import bible

PAD, BOS, EOS, UNK = 0, 1, 2, 3
SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")

_TOKEN = re.compile(r"\w+|[^\w\s]")


def tokenize(text: str) -> list[str]:
    """Lower-cased words and single punctuation marks: "EN el principio crió Dios," -> en el principio crió dios ,"""
    return _TOKEN.findall(text.lower())


def bible_pairs(src: str = "kjv", tgt: str = "rv1909") -> list[tuple[str, list[str], list[str]]]:
    """(verse key, source tokens, target tokens) for every verse both Bibles have, in canonical order.
    KJV and RV1909 share 31,084 verses (18 Spanish verses are merged into a neighbour and so missing)."""
    a, b = bible.load(src), bible.load(tgt)
    return [(k, tokenize(a[k]), tokenize(b[k])) for k in a if k in b and a[k].strip() and b[k].strip()]


def part(key: str, test: float, valid: float = 0.0) -> str:
    """'test', 'valid' or 'train' for a verse key, from the first 8 bytes of its SHA-256: fixed for ever."""
    u = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big") / 2.0**64
    return "test" if u < test else "valid" if u < test + valid else "train"


def split(pairs: Sequence[tuple], test: float = 0.05, valid: float = 0.0) -> tuple[list, list, list]:
    """(train, valid, test) by `part` on each pair's first element (its key), order kept."""
    if not (0 <= test < 1 and 0 <= valid < 1 and test + valid < 1):
        raise ValueError(f"test and valid must be fractions with test + valid < 1, got {test} and {valid}")
    out: dict[str, list] = {"train": [], "valid": [], "test": []}
    for p in pairs:
        out[part(p[0], test, valid)].append(p)
    return out["train"], out["valid"], out["test"]


def within(pairs: Iterable[tuple], max_words: int, min_words: int = 1) -> list:
    """The pairs whose source and target both have min_words..max_words tokens."""
    return [p for p in pairs if min_words <= len(p[1]) <= max_words and min_words <= len(p[2]) <= max_words]


@dataclass(frozen=True)
class Vocab:
    """Words by index: the four specials first (PAD, BOS, EOS, UNK), then the kept words, most frequent first."""

    words: tuple[str, ...]
    index: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        if self.words[: len(SPECIALS)] != SPECIALS:
            raise ValueError(f"a vocabulary starts with {SPECIALS}")
        object.__setattr__(self, "index", {w: i for i, w in enumerate(self.words)})

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], size: int, min_count: int = 1) -> Vocab:
        """The `size` - 4 most frequent words seen at least `min_count` times (ties alphabetical), plus specials."""
        if size <= len(SPECIALS):
            raise ValueError(f"size must exceed the {len(SPECIALS)} special symbols, got {size}")
        counts = Counter(w for s in sentences for w in s)
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(SPECIALS + tuple(kept[: size - len(SPECIALS)]))

    def __len__(self) -> int:
        return len(self.words)

    def encode(self, tokens: Sequence[str]) -> list[int]:
        return [self.index.get(w, UNK) for w in tokens]

    def decode(self, ids: Iterable[int]) -> list[str]:
        """Words up to the first EOS; PAD and BOS dropped."""
        out = []
        for i in ids:
            i = int(i)
            if i == EOS:
                break
            if i not in (PAD, BOS):
                out.append(self.words[i])
        return out

    def batch(self, sentences: Sequence[Sequence[str]], eos: bool = True, reverse: bool = False,
              max_len: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(N, T) int64 ids, PAD after each sentence, and (N,) lengths (EOS included when `eos`). `reverse` reverses
        each sentence's words (EOS stays last), as Sutskever et al. feed the source; `max_len` truncates first."""
        seqs = []
        for s in sentences:
            ids = self.encode(s[:max_len] if max_len else s)
            if reverse:
                ids.reverse()
            seqs.append(ids + [EOS] if eos else ids)
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.int64)
        out = torch.full((len(seqs), int(lengths.max()) if seqs else 0), PAD, dtype=torch.int64)
        for i, s in enumerate(seqs):
            out[i, : len(s)] = torch.tensor(s, dtype=torch.int64)
        return out, lengths

    def coverage(self, sentences: Iterable[Sequence[str]]) -> float:
        """Share of tokens that are in the vocabulary (not UNK)."""
        n = k = 0
        for s in sentences:
            n += len(s)
            k += sum(w in self.index for w in s)
        return k / max(n, 1)


State = object
"""Whatever a decoder carries between steps: a tensor, or a tuple/list/dict of them."""


def select(state: State, index: torch.Tensor, dim: int = 0) -> State:
    """`state` with every tensor's rows `index` along `dim` (recursively through tuples, lists and dicts)."""
    if isinstance(state, torch.Tensor):
        return state.index_select(dim, index)
    if isinstance(state, tuple | list):
        return type(state)(select(s, index, dim) for s in state)
    if isinstance(state, dict):
        return {k: select(v, index, dim) for k, v in state.items()}
    if state is None:
        return None
    raise TypeError(f"cannot reorder a decoder state of type {type(state).__name__}")


def device_of(state: State) -> torch.device:
    """The device of the first tensor in `state` (depth first, through tuples, lists and dicts); the CPU if none."""
    return next((t.device for t in _tensors(state)), torch.device("cpu"))


def _tensors(state: State):
    if isinstance(state, torch.Tensor):
        yield state
    elif isinstance(state, tuple | list | dict):
        for s in state.values() if isinstance(state, dict) else state:
            yield from _tensors(s)


Step = Callable[[torch.Tensor, State], tuple[torch.Tensor, State]]
"""step(previous tokens (B*K,), state) -> (log-probabilities of the next token (B*K, V), new state)."""


@torch.no_grad()
def beam_search(step: Step, state: State, n: int, beam: int, max_len: int, dim: int = 0,
                alpha: float = 0.0) -> list[list[int]]:
    """Left-to-right beam search for `n` sentences at once; beam=1 is greedy decoding.

    `state` holds the n sentences' decoder states along `dim` (each is repeated `beam` times here, row b*beam + k is
    sentence b's hypothesis k). A hypothesis ends at EOS; ended ones keep their score and are extended only by PAD.
    The best hypothesis is chosen by log-probability / length**alpha (alpha=0: the plain sum, as Sutskever et al.).
    Returns each sentence's best token ids, without BOS and EOS."""
    if beam < 1 or max_len < 1:
        raise ValueError(f"beam and max_len must be at least 1, got {beam} and {max_len}")
    K, dev = beam, device_of(state)  # every index and bookkeeping tensor lives beside the state (CPU or GPU)
    state = select(state, torch.arange(n, device=dev).repeat_interleave(K), dim)
    tokens = torch.full((n * K,), BOS, dtype=torch.int64, device=dev)
    score = torch.full((n, K), float("-inf"), device=dev)
    score[:, 0] = 0.0  # at first all K copies are the same hypothesis: expand only one
    done = torch.zeros(n * K, dtype=torch.bool, device=dev)
    length = torch.zeros(n * K, device=dev)
    history = torch.zeros(n * K, 0, dtype=torch.int64, device=dev)
    for _ in range(max_len):
        logp, state = step(tokens, state)
        V = logp.shape[-1]
        logp = logp.float().clone()
        logp[done] = float("-inf")
        logp[done, PAD] = 0.0  # an ended hypothesis stays as it is
        total = (score.reshape(-1, 1) + logp).reshape(n, K * V)
        score, flat = total.topk(K, dim=1)
        origin = (flat // V + torch.arange(n, device=dev).unsqueeze(1) * K).reshape(-1)
        tokens = (flat % V).reshape(-1)
        state, history, done, length = select(state, origin, dim), history[origin], done[origin], length[origin]
        length = length + (~done).float()
        done = done | (tokens == EOS)
        history = torch.cat([history, tokens.unsqueeze(1)], 1)
        if bool(done.all()):
            break
    final = score.reshape(-1) / length.clamp(min=1) ** alpha if alpha else score.reshape(-1)
    best = final.reshape(n, K).argmax(1) + torch.arange(n, device=dev) * K
    out = []
    for row in history[best].tolist():
        words = []
        for t in row:
            if t in (EOS, PAD):
                break
            words.append(t)
        out.append(words)
    return out


def bleu(hypotheses: Sequence[Sequence[str]], references: Sequence[Sequence[str]], order: int = 4) -> float:
    """Corpus BLEU (0-100; BLEU-4 unless `order` says otherwise, e.g. 1 for BLEU-1) by sacrebleu over our tokens
    (tokenize='none': the text is already tokenised, so the figure counts words and punctuation exactly as the models
    see them), one reference per sentence."""
    from sacrebleu.metrics import BLEU

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references")
    metric = BLEU(tokenize="none", max_ngram_order=order, force=True)  # our tokens on purpose: no detokenize warning
    return metric.corpus_score([" ".join(h) for h in hypotheses], [[" ".join(r) for r in references]]).score
