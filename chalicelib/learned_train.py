"""Training the learned model: multinomial logistic regression per head (numpy arithmetic), deterministic.

The features are :func:`chalicelib.learned.features` (a message's words, their character 3-5-grams,
word pairs; numbers folded to ``0``), counted as ``Model.predict`` counts them and scaled by
``1/sqrt(vectors + 1)`` (its words plus its known pairs), features seen in fewer than ``MIN_COUNT``
messages pruned. One softmax per head (topic, nature, urgency, language), trained together by
stochastic gradient descent with a per-feature AdaGrad step, ``EPOCHS`` passes over the messages in an
order drawn from a fixed seed, weight decay ``L2`` after each pass (the topic ``other``'s bias is kept as
learned: lowering it by 0.5, as until the label review, now costs topic on the cross-corpus table); a
high-urgency message weighs ``HIGH_WEIGHT`` times in the urgency head (recall first). The arithmetic is
numpy's. Weights are kept in whole hundredths and a feature whose weights all round below ``MIN_WEIGHT``
is dropped. The messages are sorted first, so the
same data gives the same bytes whatever the order given.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable

from chalicelib.learned import HEADS, UNIT, _spans, features

MIN_COUNT = 2
EPOCHS = 10
RATE = 0.2
L2 = 1e-5
HIGH_WEIGHT = 3.0
SEED = 23
MIN_WEIGHT = 2  # hundredths


def _rows(examples, labels, spans):
    """Each message as (sorted (feature, scaled count) pairs, its label's column per head)."""
    counted = [(Counter(feats), words, row_labels) for feats, words, row_labels in examples]
    seen = Counter(f for counts, _, _ in counted for f in counts)  # in how many messages
    kept = sorted(f for f, n in seen.items() if n >= MIN_COUNT)
    index = {f: i for i, f in enumerate(kept)}
    rows = []
    for feats, words, row_labels in counted:
        counts, pairs = [], 0
        for f, c in feats.items():
            i = index.get(f)
            if i is not None:
                counts.append((i, c))
                pairs += c if f.startswith("b:") else 0
        shrink = 1.0 / math.sqrt(len(words) + pairs + 1)
        targets = [start + labels[h].index(label)
                   for h, (start, _), label in zip(HEADS, spans, row_labels, strict=True)]
        rows.append((sorted((i, c * shrink) for i, c in counts), targets))
    return kept, rows


def train(examples: Iterable[tuple[list[str], dict[str, str]]]) -> dict:
    """The model document from (normal words, labels) pairs: deterministic, whatever the order given.

    The arithmetic is numpy's (a training-only dependency, ``requirements-dev.txt``; the model it writes is
    read by pure Python): element-wise operations and sums in a fixed order, one thread, so the same data
    gives the same bytes on the same machine and numpy version."""
    import numpy as np  # noqa: PLC0415 - training only; the Lambda package never trains

    given = sorted((list(words), tuple(labels[h] for h in HEADS)) for words, labels in examples)
    labels = {h: sorted({row[1][k] for row in given}) for k, h in enumerate(HEADS)}
    spans = _spans(labels)
    width = spans[-1][1]
    kept, rows = _rows([(features(words), words, row_labels) for words, row_labels in given], labels, spans)
    arrays = [(np.array([i for i, _ in xs], dtype=np.int64), np.array([c for _, c in xs], dtype=np.float64),
               np.array([c * c for _, c in xs], dtype=np.float64), targets) for xs, targets in rows]
    weights = np.zeros((len(kept), width))
    squares = np.full(len(kept), 1e-8)
    bias = np.zeros(width)
    urgency = spans[HEADS.index("urgency")]
    high = urgency[0] + labels["urgency"].index("high") if "high" in labels["urgency"] else -1
    order = list(range(len(rows)))
    rng = random.Random(SEED)
    starts = np.array([start for start, _ in spans])
    head = np.repeat(np.arange(len(spans)), [end - start for start, end in spans])  # column -> its head
    boost = np.ones(width)
    boost[urgency[0]:urgency[1]] = HIGH_WEIGHT
    for _ in range(EPOCHS):
        rng.shuffle(order)
        for n in order:
            index, counts, counts2, targets = arrays[n]
            rows_w = weights[index]
            total = bias + (counts[:, None] * rows_w).sum(axis=0)  # not BLAS: its result depends on alignment
            e = np.exp(total - np.maximum.reduceat(total, starts)[head])  # one softmax per head
            gradient = e / np.add.reduceat(e, starts)[head]
            gradient[targets] -= 1.0
            if high in targets:
                gradient *= boost
            bias -= RATE * gradient
            squares[index] += counts2 * float((gradient * gradient).sum())
            weights[index] = rows_w - np.outer(RATE * counts / np.sqrt(squares[index]), gradient)
        weights *= 1.0 - L2 * len(rows) * RATE
    bias, weights = bias.tolist(), weights.tolist()
    document: dict = {"version": 3, "kind": "logistic", "min_count": MIN_COUNT, "epochs": EPOCHS, "seed": SEED,
                      "messages": len(rows), "labels": labels, "priors": [round(b * UNIT) for b in bias],
                      "features": {}}
    for f, vector in zip(kept, weights, strict=True):
        rounded = [round(w * UNIT) for w in vector]
        if any(abs(w) >= MIN_WEIGHT for w in rounded):
            document["features"][f] = rounded
    return document
