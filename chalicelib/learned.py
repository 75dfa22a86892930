"""A small learned model for what nobody listed: a linear model over words, word pairs and character n-grams.

Pure Python. The model (trained by :mod:`chalicelib.learned_train`: multinomial logistic regression,
one softmax per head: topic, nature, urgency, language) keeps, per feature, one weight per label of
every head, side by side, in whole hundredths. The file is JSON, written with sorted keys.

``Model.predict`` sums, per word, one precomputed vector (its own weight and its character
3-5-grams' weights, kept per word), adds the word pairs' weights, scales the sum by
``1/sqrt(vectors + 1)`` as in training, adds the bias, and returns per head the label, a probability
(softmax) and the words that weighed most for it.
"""

from __future__ import annotations

import functools
import json
import math
from operator import add
from pathlib import Path

PATH = Path(__file__).parent / "model" / "voix-model.json"
HEADS = ("topic", "nature", "urgency", "language")
UNIT = 100  # weights are stored as whole hundredths: small, exact, quick to read and add
GRAMS = (3, 4, 5)
_MAX_CACHE = 50_000


def word_features(word: str) -> list[str]:
    """A word's own features: the word, and the character 3-5-grams of ``<word>`` for words of letters."""
    if word.isdigit():
        return ["w:0"]
    if word.startswith("g:"):
        return [word]
    if word.startswith("="):  # a gloss: read as the English word
        word = word[1:]
    features = [f"w:{word}"]
    if word.isalpha() and len(word) > 2:
        padded = f"<{word}>"
        features += [padded[i:i + n] for n in GRAMS for i in range(len(padded) - n + 1)]
    return features


def _key(word: str) -> str:
    return "0" if word.isdigit() else word


def pair_features(words: list[str]) -> list[str]:
    """A message's word pairs (its normal words, in order, the glosses ``=english`` and the rules' groups ``g:name``
    left out): with each word's own (:func:`word_features`), every feature the model reads of the message."""
    keys = [_key(w) for w in words if not w.startswith(("g:", "="))]
    return [f"b:{a} {b}" for a, b in zip(keys, keys[1:], strict=False)]


def dumps(document: dict) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def _spans(labels: dict[str, list[str]]) -> list[tuple[int, int]]:
    spans, start = [], 0
    for head in HEADS:
        spans.append((start, start + len(labels[head])))
        start += len(labels[head])
    return spans


class Opinion:
    """One head's answer: the label, its probability, and (worked out when asked) the words that
    weighed most for it over the runner-up."""

    __slots__ = ("label", "probability", "_vectors", "_names", "_best", "_second", "_scores", "_columns")

    def __init__(self, label: str, probability: float, vectors: list, names: list[str], best: int, second: int,
                 scores: dict[str, float] | None = None, columns: dict[str, int] | None = None):
        self.label, self.probability = label, probability
        self._vectors, self._names, self._best, self._second = vectors, names, best, second
        self._scores = scores or {label: 0.0}  # label -> score less the best's, times the scale
        self._columns = columns or {label: best}  # label -> its column in the vectors

    def probability_of(self, label: str) -> float:
        """The probability of any label of this head (0 for one it does not know)."""
        if label not in self._scores:
            return 0.0
        return math.exp(self._scores[label]) * self.probability

    def labels(self) -> list[str]:
        """Every label of this head."""
        return list(self._scores)

    def because(self, count: int = 3, label: str | None = None) -> list[tuple[str, float]]:
        """The words that weighed most for the label (or for ``label``) over the runner-up (or the label)."""
        a, b = self._best, self._second
        if label is not None and label != self.label and label in self._columns:
            a, b = self._columns[label], self._best
        margins = sorted(((v[a] - v[b], name) for v, name in zip(self._vectors, self._names, strict=True)),
                         key=lambda m: -m[0])[:count]
        return [(name, round(d / UNIT, 1)) for d, name in margins if d > 0]

    def explain(self, head: str, label: str | None = None) -> str:
        """``model:head=label (probability; words)``: the answer, or ``label`` with its own probability."""
        label = label or self.label
        words = ", ".join(f"{w} {v:+.1f}" for w, v in self.because(label=label))
        return f"model:{head}={label} ({self.probability_of(label):.2f}{'; ' + words if words else ''})"


class Model:
    """A trained document, ready to score: word vectors worked out once per distinct word."""

    def __init__(self, document: dict, cache_size: int = _MAX_CACHE):
        self._labels = [document["labels"][h] for h in HEADS]
        self._spans = _spans(document["labels"])
        self._weights: dict[str, list[float]] = document["features"]
        self._priors: list[float] = document["priors"]
        self._zero = [0] * len(self._priors)
        self._words: dict[str, list[float]] = {}
        self._cache_size = cache_size

    def _vector(self, word: str) -> list[float]:
        vector = self._zero
        weights = self._weights
        for f in word_features(word):
            w = weights.get(f)
            if w is not None:
                vector = list(map(add, vector, w))
        if len(self._words) < self._cache_size:
            self._words[word] = vector
        return vector

    def predict(self, words: list[str]) -> dict[str, Opinion]:
        """Each head's opinion on a message given as its normal words. The last answer is kept: the rules
        studio's backtest asks twice in a row for each message (live rules, then the draft; the model is the
        same), and the second time costs nothing."""
        key = tuple(words)
        last = self.__dict__.get("_last")
        if last is not None and last[0] == key:
            return last[1]
        out = self._predict(words)
        self._last = (key, out)
        return out

    def _predict(self, words: list[str]) -> dict[str, Opinion]:
        known = self._words.get
        vectors = [known(w) or self._vector(w) for w in words]
        names = [f"[{w[2:]}]" if w.startswith("g:") else f"({w[1:]})" if w.startswith("=") else w
                 for w in words]  # a rules' group: [name]; a gloss: (english)
        weights = self._weights
        for pair in pair_features(words):
            w = weights.get(pair)
            if w is not None:
                vectors.append(w)
                names.append(pair[2:])
        shrink = 1.0 / math.sqrt(len(vectors) + 1)  # as trained: features scaled, the bias apart
        summed = map(sum, zip(self._zero, *vectors, strict=True))
        total = [p + shrink * v for p, v in zip(self._priors, summed, strict=True)]
        scale = 1.0 / UNIT
        out = {}
        for head, labels, (start, end) in zip(HEADS, self._labels, self._spans, strict=True):
            scores = total[start:end]
            order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))
            best, second = order[0], order[min(1, len(order) - 1)]
            top = scores[best]
            probability = 1.0 / sum(math.exp((s - top) * scale) for s in scores)
            out[head] = Opinion(labels[best], probability, vectors, names, start + best, start + second,
                                {label: (s - top) * scale for label, s in zip(labels, scores, strict=True)},
                                {label: start + i for i, label in enumerate(labels)})
        return out


@functools.cache
def shipped() -> Model | None:
    """The model shipped in the package, loaded once per container (None if the file is missing)."""
    try:
        return Model(json.loads(PATH.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return None
