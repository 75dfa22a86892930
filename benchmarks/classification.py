"""Classification throughput: the compiled rule engine against a naive keyword scan, same run.

    python -m benchmarks.classification [--messages 10000] [--repeats 5]

The corpus is 10,000 distinct messages made from the labelled corpora (tests/data),
each varied (fillers, numbers, casing, emoji) so that no two are the same text. The
naive baseline lower-cases the text and tests every phrase of every rule with ``in``.
The ten-times rule set adds nine renamed copies of every rule group: as many phrases,
none of which occur in the messages, so only the size of the tables changes.
Single process, single thread: messages per second is per core. The engines' passes are
interleaved, so that a slower moment of the machine weighs on each alike.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILLERS = ["honestly", "today", "again", "pls", "this morning", "at 8:15", "bus 45", "tbh", "x", "!!", "😡", "👍",
           "coach 12", "store 3", "sorry", "by the way", "ok", "merci", "svp", "aujourd'hui"]


def corpus(size: int, seed: int = 2026) -> list[dict]:
    base = []
    for name in ("corpus.jsonl", "holdout.jsonl", "holdout2.jsonl"):
        with (ROOT / "tests" / "data" / name).open(encoding="utf-8") as f:
            base += [json.loads(line) for line in f if line.strip()]
    rng = random.Random(seed)
    seen, out = set(), []
    while len(out) < size:
        m = rng.choice(base)
        words = [rng.choice(FILLERS) for _ in range(rng.randint(0, 3))]
        text = m["text"]
        if words:
            text = f"{text} {' '.join(words)}" if rng.random() < 0.7 else f"{' '.join(words)} {text}"
        if rng.random() < 0.1:
            text = text.upper()
        if text not in seen:
            seen.add(text)
            out.append({"text": text, "to": m["to"]})
    return out


def ten_times(config):
    """The configuration with nine renamed copies of every rule group (10x the phrases)."""
    groups = list(config.rules.lexicon)
    extra = []
    for k in range(1, 10):
        for group in groups:
            phrases = [" ".join(f"{w}q{k}z" for w in p.rstrip("*").split()) + ("*" if p.endswith("*") else "")
                       for p in group.phrases]
            extra.append(group.model_copy(update={"name": f"{group.name}-copy{k}", "phrases": phrases}))
    rules = config.rules.model_copy(update={"lexicon": groups + extra})
    return config.model_copy(update={"rules": rules})


class NaiveClassifier:
    """The baseline: every phrase of every rule tested with ``in`` on the lower-cased text."""

    def __init__(self, config):
        self._rules = [(g.topic, g.sentiment, [p.rstrip("*").lower() for p in g.phrases]) for g in config.rules.lexicon]

    def classify(self, text: str, to_number: str | None = None) -> dict:
        lowered = text.lower()
        topics: dict[str, int] = {}
        score = 0
        for topic, sentiment, phrases in self._rules:
            for phrase in phrases:
                if phrase in lowered:
                    if topic:
                        topics[topic] = topics.get(topic, 0) + 1
                    score += sentiment
        return {"topic": max(topics, key=topics.get) if topics else "other", "score": score}


def one_pass(classifier, messages) -> float:
    started = time.perf_counter()
    for m in messages:
        classifier.classify(m["text"], m["to"])
    return len(messages) / (time.perf_counter() - started)


def rate(classifier, messages, repeats: int) -> float:
    """Median messages per second over ``repeats`` passes (after one warm-up pass)."""
    one_pass(classifier, messages)
    return statistics.median(one_pass(classifier, messages) for _ in range(repeats))


def stages(engine, messages) -> dict[str, float]:
    """Microseconds per message in the engine's two main stages, timed message by message."""
    clock = time.perf_counter
    words = evidence = 0.0
    for m in messages:
        started = clock()
        body = engine.site_for(m["text"], m["to"])[2]
        tokens, lookup = engine._words_of(body)
        middle = clock()
        engine._evidence(tokens, lookup)
        words += middle - started
        evidence += clock() - middle
    return {"words": words / len(messages) * 1e6, "evidence": evidence / len(messages) * 1e6}


def reference_loop_ms() -> float:
    """This machine's pace on a plain Python loop, for comparing figures across machines."""
    import timeit

    return min(timeit.repeat("sum(range(10**7))", number=1, repeat=5)) * 1000


def run(messages: int = 10_000, repeats: int = 5) -> dict:
    from chalicelib.classification import Classifier
    from chalicelib.config_loader import load_config

    config = load_config()
    big = ten_times(config)
    texts = corpus(messages)
    engines = {"engine": Classifier(config), "engine_10x": Classifier(big), "naive": NaiveClassifier(config),
               "naive_10x": NaiveClassifier(big)}
    naive_texts = texts[: max(1, len(texts) // 10)]  # the 10x naive scan is slow: a tenth of the corpus
    for name, engine in engines.items():  # warm-up (the engine's word caches fill here)
        one_pass(engine, naive_texts if name == "naive_10x" else texts)
    passes: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(repeats):  # interleaved: a slower moment of the machine hits every engine alike
        for name, engine in engines.items():
            passes[name].append(one_pass(engine, naive_texts if name == "naive_10x" else texts))
    results = {"messages": len(texts), "repeats": repeats,
               "phrases": sum(len(g.phrases) for g in config.rules.lexicon),
               "phrases_10x": sum(len(g.phrases) for g in big.rules.lexicon),
               **{name: statistics.median(values) for name, values in passes.items()}}
    results["engine_range"] = [min(passes["engine"]), max(passes["engine"])]
    timed = [stages(engines["engine"], texts) for _ in range(repeats)]
    results["stages_us"] = {key: statistics.median(t[key] for t in timed) for key in ("words", "evidence")}
    results["reference_loop_ms"] = reference_loop_ms()
    results["engine_10x_ratio"] = results["engine_10x"] / results["engine"]
    results["engine_vs_naive"] = results["engine"] / results["naive"]
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    r = run(args.messages, args.repeats)
    print(f"{r['messages']} distinct messages, {r['phrases']} phrases (10x: {r['phrases_10x']}), "
          f"median of {r['repeats']} passes, one core")
    for key in ("engine", "engine_10x", "naive", "naive_10x"):
        print(f"  {key:<11} {r[key]:>10,.0f} messages/s")
    print(f"  engine at 10x rules: {r['engine_10x_ratio']:.2f} of its speed; engine / naive: "
          f"{r['engine_vs_naive']:.1f}x")
    print(f"  per message: words {r['stages_us']['words']:.1f} us, evidence {r['stages_us']['evidence']:.1f} us, "
          f"all {1e6 / r['engine']:.1f} us; sum(range(10**7)) takes {r['reference_loop_ms']:.0f} ms here")


if __name__ == "__main__":
    main()
