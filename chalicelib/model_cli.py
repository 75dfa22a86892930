"""``python -m chalicelib model train|evaluate``: the learned model, rebuilt from the labelled corpora.

``train`` reads every ``*.jsonl`` of ``tests/data`` (fields to, text, topic, nature, urgency), writes
the model into the package (:data:`chalicelib.learned.PATH`) and writes (``docs/model.md``) and prints
the cross-corpus evaluation:
for each fold (a group of corpora by authors of the same round or brief, as ``folds.json`` of the data folder
lists; a corpus it does not name is a fold of its own), a model trained on all the other folds, then the
rules alone, the model alone and the hybrid measured on each corpus of the fold left out. ``evaluate``
prints the evaluation only. Training takes seconds, so the models and the evaluation are kept for the
process, by the digest of the corpora and the configuration: the same inputs are not trained on twice.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from chalicelib import learned, learned_train
from chalicelib.classification import Classifier
from chalicelib.config_loader import load_config

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
REPORT = Path(__file__).resolve().parent.parent / "docs" / "model.md"
HEADER = """# The learned model: cross-corpus evaluation

Written by `python -m chalicelib model train` (do not edit). For each fold of `tests/data` (corpora
grouped by round and brief, `tests/data/folds.json`), a model trained on all the other folds, scored on
each corpus of the fold left out: the rules alone (tuned on every
corpus, so not an unseen figure), the model alone, and the hybrid the classifier runs. "Normal
raised": the share of normal messages the engine made high. See README, "The learned model".

"""
FIELDS = ("topic", "nature", "urgency", "language")


def add_parser(commands) -> None:
    model = commands.add_parser("model", help="the learned model: train it from the labelled corpora, evaluate it")
    model.add_argument("action", choices=("train", "evaluate"))
    model.add_argument("--data", default=str(DATA), help="folder of labelled *.jsonl corpora")
    model.add_argument("--out", default=str(learned.PATH), help="where train writes the model")
    model.add_argument("--report", default=str(REPORT), help="where train writes the evaluation")


def corpora(folder: Path) -> dict[str, list[dict]]:
    out = {}
    for path in sorted(Path(folder).glob("*.jsonl")):
        with path.open(encoding="utf-8") as f:
            out[path.name] = [json.loads(line) for line in f if line.strip()]
    return out


def folds(folder: Path, names) -> dict[str, list[str]]:
    """Fold name -> its corpora (``folds.json``: fold -> file names; a corpus not named is a fold of its own)."""
    path = Path(folder) / "folds.json"
    listed = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    fold_of = {name: fold for fold, members in listed.items() for name in members}
    unknown = set(fold_of) - set(names)
    if unknown:
        raise ValueError(f"folds.json names corpora that are not there: {', '.join(sorted(unknown))}")
    out: dict[str, list[str]] = {}
    for name in names:
        out.setdefault(fold_of.get(name, name), []).append(name)
    return out


def examples(rules: Classifier, rows: list[dict]) -> list[tuple[list[str], dict[str, str]]]:
    """Each message as the classifier reads it (site code stripped, normal words), with its labels."""
    return [(rules.model_words(r["text"], r["to"]), r) for r in rows]


def _digest(folder: Path | str) -> str:
    """What training depends on: every corpus of ``folder`` (names and bytes) and the configuration."""
    digest = hashlib.sha256(load_config().model_dump_json().encode())
    for path in sorted([*Path(folder).glob("*.jsonl"), *Path(folder).glob("folds.json")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def build(folder: Path | str = DATA) -> str:
    """The model file's text, from every corpus of ``folder``."""
    return _build(str(folder), _digest(folder))


@functools.cache
def _build(folder: str, digest: str) -> str:
    return learned.dumps(learned_train.train([example for corpus in _read(folder, digest).values()
                                              for example in corpus]))


def score(classify, rows: list[dict]) -> dict[str, float]:
    """Accuracy per field, high-urgency recall and the share of normal messages raised to high."""
    right = dict.fromkeys(FIELDS, 0)
    high = caught = normal = raised = 0
    for row in rows:
        got = classify(row)
        for f in FIELDS:
            right[f] += got[f] == row[f]
        if row["urgency"] == "high":
            high += 1
            caught += got["urgency"] == "high"
        else:
            normal += 1
            raised += got["urgency"] == "high"
    out = {f: right[f] / len(rows) for f in FIELDS}
    out["recall"] = caught / high if high else 1.0
    out["raised"] = raised / normal if normal else 0.0
    return out


def cross_corpus(folder: Path | str = DATA, only: tuple[str, ...] | None = None) -> list[dict]:
    """For each fold (or each of ``only``): trained on all the others, scored on each of its corpora (rules
    alone, model alone, hybrid)."""
    return _cross_corpus(str(folder), _digest(folder), only)


def checked_folds(folder: Path | str = DATA, count: int = 1) -> tuple[str, ...]:
    """``count`` folds picked by the digest of the data and the configuration: the ones `make test` recomputes
    to check ``docs/model.md`` (any change to the data, the configuration or the classifier moves the figures
    of nearly every fold, so one of them shows it; the next change checks another)."""
    names = sorted(folds(Path(folder), corpora(Path(folder))))
    start = int(_digest(folder), 16) % len(names)
    return tuple(names[(start + i) % len(names)] for i in range(min(count, len(names))))


def read_report(path: Path = REPORT) -> list[dict]:
    """``docs/model.md`` read back into :func:`cross_corpus`'s shape (figures to the tenth of a percent)."""
    results: dict[str, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) != 10 or not cells[1].startswith("`"):
            continue
        fold, corpus, messages, engine, *figures = cells
        row = results.setdefault(corpus.strip("`"), {"corpus": corpus.strip("`"), "fold": fold,
                                                     "messages": int(messages)})
        row[engine] = {f: float(v.rstrip("%")) / 100 for f, v in zip((*FIELDS, "recall", "raised"), figures,
                                                                       strict=True)}
    return list(results.values())


@functools.cache
def _cross_corpus(folder: str, digest: str, only: tuple[str, ...] | None = None) -> list[dict]:
    todo = [(fold, names) for fold, names in folds(Path(folder), corpora(Path(folder))).items()
            if only is None or fold in only]
    workers = min(len(todo), os.cpu_count() or 1)
    if workers < 2:
        return [row for fold, names in todo for row in _fold_results(folder, digest, fold, tuple(names))]
    # The folds are independent: one process each, as many at a time as there are cores (the same figures).
    # Fresh processes ("spawn"), not forks: a fork of a process with threads (a test worker's) may inherit a held lock.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = pool.map(_fold_results, [folder] * len(todo), [digest] * len(todo), [f for f, _ in todo],
                         [tuple(n) for _, n in todo])
        return [row for part in parts for row in part]


@functools.cache
def _read(folder: str, digest: str) -> dict[str, list[tuple[list[str], dict]]]:
    """Every corpus of ``folder`` as the rules read it (:func:`examples`): once per process, for the model and
    every fold it trains."""
    rules = Classifier(load_config(), model=None)
    return {name: examples(rules, rows) for name, rows in corpora(Path(folder)).items()}


def _fold_results(folder: str, digest: str, fold: str, names: tuple[str, ...]) -> list[dict]:
    """One fold: a model trained on every other fold, scored on each of its corpora."""
    config = load_config()
    rules = Classifier(config, model=None)
    read = _read(folder, digest)
    training = [example for other, corpus in read.items() if other not in names for example in corpus]
    model = learned.Model(learned_train.train(training))
    hybrid = Classifier(config, model=model)
    results = []
    for name in names:
        rows = [row for _, row in read[name]]
        words = {row["text"]: w for w, row in read[name]}

        def alone(row, model=model, words=words):
            return {h: o.label for h, o in model.predict(words[row["text"]]).items()}

        results.append({"corpus": name, "fold": fold, "messages": len(rows),
                        "rules": score(lambda r: rules.classify(r["text"], r["to"]).as_dict(), rows),
                        "model": score(alone, rows),
                        "hybrid": score(lambda r, c=hybrid: c.classify(r["text"], r["to"]).as_dict(), rows)})
    return results


def report(results: list[dict]) -> str:
    lines = ["| fold left out | corpus | messages | engine | topic | nature | urgency | language "
             "| high-urgency recall | normal raised |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        for engine in ("rules", "model", "hybrid"):
            s = r[engine]
            lines.append(f"| {r['fold']} | `{r['corpus']}` | {r['messages']} | {engine} | {s['topic']:.1%} "
                         f"| {s['nature']:.1%} | {s['urgency']:.1%} | {s['language']:.1%} | {s['recall']:.1%} "
                         f"| {s['raised']:.1%} |")
    return "\n".join(lines)


def run(args) -> int:
    if args.action == "train":
        text = build(args.data)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out} ({len(text.encode()):,} bytes)")
    table = report(cross_corpus(args.data))
    if args.action == "train":
        Path(args.report).write_text(HEADER + table + "\n", encoding="utf-8")
        print(f"wrote {args.report}")
    print(table)
    return 0
