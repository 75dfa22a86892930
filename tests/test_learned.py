"""The learned model (issue 23): rebuilt byte for byte, honest cross-corpus figures, rules first."""

from __future__ import annotations

import contextlib
import json
import random
import re
import shutil
from pathlib import Path

import pytest

from chalicelib import learned, learned_train, model_cli
from chalicelib.__main__ import main
from chalicelib.classification import Classifier
from chalicelib.config_loader import load_config

# the hybrid's figures on each corpus of each fold left out (tests/data/folds.json), as measured when the model was
# frozen for the fresh evaluation (README, "The learned model"), held as floors (topic, nature, high-urgency
# recall) and ceilings (normal raised)
CORPUS_BARS = {
    "abroad-2026-12-05p.jsonl": (0.90, 0.88, 0.97, 0.03), "abroad-2026-12-05s.jsonl": (0.84, 0.91, 0.91, 0.03),
    "corpus.jsonl": (0.94, 0.98, 0.95, 0.00), "corpus3.jsonl": (0.92, 0.95, 0.96, 0.03),
    "holdout.jsonl": (0.97, 0.97, 1.00, 0.02), "holdout2.jsonl": (0.94, 0.98, 1.00, 0.02),
    "corpus4.jsonl": (0.88, 0.94, 0.94, 0.04), "corpus5.jsonl": (0.88, 0.92, 0.99, 0.04),
    "corpus6.jsonl": (0.81, 0.75, 0.95, 0.09), "corpus7.jsonl": (0.85, 0.93, 0.95, 0.01),
    "corpus8.jsonl": (0.90, 0.92, 0.98, 0.02), "corpus9.jsonl": (0.83, 0.89, 0.95, 0.03),
    "francais-2026-12-04.jsonl": (0.96, 0.95, 0.97, 0.01), "month-2026-12-04.jsonl": (0.92, 0.94, 0.98, 0.03),
    "visitors-2026-12-04.jsonl": (0.86, 0.91, 0.97, 0.02), "fresh-2026-12-04.jsonl": (0.94, 0.95, 0.97, 0.02),
    "fresh-2026-12-04b.jsonl": (0.95, 0.95, 1.00, 0.04), "fresh-2026-12-04c.jsonl": (0.84, 0.95, 0.95, 0.05),
    "fresh-2026-12-04d.jsonl": (0.91, 0.94, 0.98, 0.03), "fresh-2026-12-04e.jsonl": (0.93, 0.96, 0.98, 0.03),
    "fresh-2026-12-04f.jsonl": (0.94, 0.95, 0.95, 0.01), "fresh-2026-12-04g.jsonl": (0.95, 0.95, 0.96, 0.03),
    "fresh-2026-12-04h.jsonl": (0.90, 0.96, 0.98, 0.03), "fresh-2026-12-05j.jsonl": (0.92, 0.95, 1.00, 0.02),
    "fresh-2026-12-05l.jsonl": (0.94, 0.96, 1.00, 0.02), "fresh-2026-12-05m.jsonl": (0.94, 0.97, 0.97, 0.03),
    "fresh-2026-12-05n.jsonl": (0.91, 0.97, 1.00, 0.03), "fresh-2026-12-05o.jsonl": (0.89, 0.94, 0.97, 0.02),
    "fresh-2026-12-05r.jsonl": (0.90, 0.95, 0.97, 0.02), "fresh-2026-12-05t.jsonl": (0.91, 0.95, 1.00, 0.02),
    "fresh-2026-12-05u.jsonl": (0.91, 0.93, 1.00, 0.03), "fresh-2026-12-05v.jsonl": (0.93, 0.97, 0.94, 0.04),
    "fresh-2026-12-05w.jsonl": (0.88, 0.94, 0.97, 0.05), "fresh-2026-12-05x.jsonl": (0.89, 0.94, 1.00, 0.05),
    "fresh-2026-12-05y.jsonl": (0.92, 0.95, 1.00, 0.04), "fresh-2026-12-05z.jsonl": (0.87, 0.92, 1.00, 0.00),
    "fresh-2026-12-05za.jsonl": (0.91, 0.92, 0.97, 0.04), "fresh-2026-12-05zb.jsonl": (0.90, 0.96, 0.97, 0.02),
    "fresh-2026-12-05zc.jsonl": (0.92, 0.95, 0.97, 0.04), "fresh-2026-12-05zd.jsonl": (0.91, 0.93, 0.94, 0.02),
    "fresh-2026-12-05ze.jsonl": (0.93, 0.94, 0.97, 0.03), "fresh-2026-12-05zf.jsonl": (0.94, 0.95, 1.00, 0.03),
    "fresh-2026-12-05zg.jsonl": (0.90, 0.98, 0.94, 0.02), "fresh-2026-12-05zh.jsonl": (0.92, 0.96, 0.91, 0.03),
    "fresh-2026-12-05zi.jsonl": (0.91, 0.92, 1.00, 0.03), "fresh-2026-12-06zj.jsonl": (0.92, 0.95, 1.00, 0.02),
    "fresh-2026-12-06zk.jsonl": (0.91, 0.93, 0.94, 0.02), "fresh-2026-12-06zl.jsonl": (0.90, 0.92, 0.97, 0.04),
    "fresh-2026-12-06zm.jsonl": (0.91, 0.94, 0.97, 0.03), "fresh-2026-12-06zn.jsonl": (0.90, 0.93, 1.00, 0.02),
    "fresh-2026-12-06zo.jsonl": (0.89, 0.96, 1.00, 0.01), "fresh-2026-12-06zp.jsonl": (0.90, 0.94, 1.00, 0.03),
    "fresh-2026-12-06zq.jsonl": (0.86, 0.91, 1.00, 0.04), "sms-2026-12-04.jsonl": (0.89, 0.94, 0.98, 0.02),
    "sms-2026-12-04b.jsonl": (0.91, 0.93, 0.98, 0.03), "subjects-2026-12-04.jsonl": (0.88, 0.89, 1.00, 0.03),
    "urgent-calls-2026-12-04.jsonl": (0.85, 0.90, 0.98, 0.09), "winter-2026-12-04.jsonl": (0.92, 0.95, 1.00, 0.02),
    "topics-2026-12-04.jsonl": (0.87, 0.93, 0.96, 0.03), "topics-2026-12-04b.jsonl": (0.88, 0.90, 0.97, 0.03),
    "train-2026-12-05tb1.jsonl": (0.89, 0.98, 0.84, 0.06), "train-2026-12-05tc1.jsonl": (0.90, 0.94, 0.98, 0.03),
    "train-2026-12-05tc10.jsonl": (0.89, 0.94, 0.93, 0.03), "train-2026-12-05tc2.jsonl": (0.92, 0.96, 0.98, 0.04),
    "train-2026-12-05tc3.jsonl": (0.93, 0.94, 0.89, 0.03), "train-2026-12-05tc4.jsonl": (0.88, 0.94, 1.00, 0.04),
    "train-2026-12-05tc5.jsonl": (0.89, 0.93, 0.84, 0.04), "train-2026-12-05tc6.jsonl": (0.92, 0.94, 1.00, 0.03),
    "train-2026-12-05tc7.jsonl": (0.89, 0.95, 0.97, 0.03), "train-2026-12-05tc8.jsonl": (0.91, 0.94, 0.96, 0.02),
    "train-2026-12-05tc9.jsonl": (0.88, 0.92, 0.97, 0.03), "train-2026-12-05tc11.jsonl": (0.92, 0.94, 0.98, 0.04),
    "train-2026-12-05tc12.jsonl": (0.94, 0.97, 0.98, 0.01), "train-2026-12-05tc13.jsonl": (0.93, 0.96, 0.96, 0.02),
    "train-2026-12-05tc14.jsonl": (0.90, 0.94, 0.95, 0.06), "train-2026-12-05tc15.jsonl": (0.94, 0.95, 1.00, 0.02),
    "train-2026-12-05tc16.jsonl": (0.86, 0.94, 0.96, 0.03), "train-2026-12-05tc17.jsonl": (0.90, 0.91, 0.98, 0.03),
    "train-2026-12-05tc18.jsonl": (0.92, 0.95, 1.00, 0.04), "train-2026-12-05tc19.jsonl": (0.91, 0.93, 0.97, 0.01),
    "train-2026-12-05tc20.jsonl": (0.82, 0.86, 0.93, 0.10), "train-2026-12-05tc21.jsonl": (0.90, 0.93, 1.00, 0.02),
    "train-2026-12-05tc22.jsonl": (0.91, 0.94, 0.98, 0.01), "train-2026-12-05tc23.jsonl": (0.88, 0.95, 1.00, 0.02),
    "train-2026-12-05tc24.jsonl": (0.90, 0.94, 0.92, 0.04), "train-2026-12-05tc25.jsonl": (0.89, 0.94, 0.96, 0.05),
    "train-2026-12-05tc26.jsonl": (0.82, 0.85, 0.82, 0.04), "train-2026-12-05tc27.jsonl": (0.93, 0.95, 1.00, 0.03),
    "train-2026-12-05tc28.jsonl": (0.96, 0.96, 1.00, 0.02), "train-2026-12-06tc29.jsonl": (0.95, 0.96, 0.98, 0.05),
    "train-2026-12-06tc30.jsonl": (0.89, 0.96, 0.98, 0.04), "train-2026-12-06tc31.jsonl": (0.91, 0.94, 0.98, 0.02),
    "train-2026-12-06tc32.jsonl": (0.91, 0.96, 0.96, 0.03), "train-2026-12-06tc33.jsonl": (0.86, 0.89, 0.84, 0.03),
    "train-2026-12-06tc34.jsonl": (0.87, 0.96, 0.95, 0.03), "train-2026-12-06tc35.jsonl": (0.85, 0.92, 0.97, 0.03),
    "train-2026-12-06tc36.jsonl": (0.91, 0.95, 1.00, 0.02), "train-2026-12-06tc37.jsonl": (0.91, 0.96, 1.00, 0.04),
    "train-2026-12-06tc38.jsonl": (0.92, 0.93, 1.00, 0.03), "train-2026-12-06tc39.jsonl": (0.91, 0.94, 1.00, 0.03),
    "train-2026-12-06tc40.jsonl": (0.92, 0.92, 0.98, 0.03), "train-2026-12-06tc41.jsonl": (0.93, 0.97, 0.98, 0.03),
    "train-2026-12-06tc42.jsonl": (0.88, 0.94, 0.96, 0.04), "train-2026-12-06tc43.jsonl": (0.91, 0.94, 0.92, 0.02),
    "train-2026-12-06tc44.jsonl": (0.92, 0.94, 1.00, 0.04), "train-2026-12-06tc45.jsonl": (0.93, 0.96, 1.00, 0.04),
    "train-2026-12-06tc46.jsonl": (0.89, 0.96, 0.94, 0.02), "train-2026-12-06tc47.jsonl": (0.79, 0.91, 0.94, 0.02),
    "train-2026-12-06tc48.jsonl": (0.84, 0.89, 0.94, 0.06), "train-2026-12-06tc49.jsonl": (0.87, 0.96, 0.96, 0.02),
    "train-2026-12-06tc50.jsonl": (0.82, 0.91, 0.93, 0.01), "train-2026-12-06tc51.jsonl": (0.90, 0.94, 1.00, 0.03),
    "train-2026-12-06tc52.jsonl": (0.86, 0.94, 0.92, 0.03), "train-2026-12-06tc53.jsonl": (0.91, 0.94, 1.00, 0.03),
    "train-2026-12-06tc54.jsonl": (0.89, 0.93, 1.00, 0.02), "train-2026-12-06tc55.jsonl": (0.93, 0.95, 1.00, 0.01),
    "train-2026-12-06tc56.jsonl": (0.89, 0.95, 1.00, 0.02), "train-2026-12-06tc57.jsonl": (0.92, 0.94, 0.95, 0.04),
    "train-2026-12-06tc58.jsonl": (0.84, 0.95, 0.95, 0.03), "train-2026-12-06tc59.jsonl": (0.94, 0.96, 1.00, 0.04),
    "train-2026-12-06tc60.jsonl": (0.93, 0.98, 1.00, 0.03), "train-2026-12-06tc61.jsonl": (0.90, 0.95, 0.98, 0.02),
    "train-2026-12-06tc62.jsonl": (0.91, 0.96, 0.98, 0.01), "train-2026-12-06tc63.jsonl": (0.88, 0.95, 0.98, 0.02),
    "train-2026-12-06tc64.jsonl": (0.89, 0.92, 0.97, 0.03), "train-2026-12-06tc65.jsonl": (0.82, 0.95, 0.90, 0.03),
    "train-2026-12-06tc66.jsonl": (0.81, 0.92, 0.94, 0.04), "train-2026-12-06tc67.jsonl": (0.86, 0.97, 0.94, 0.03),
    "train-2026-12-06tc68.jsonl": (0.90, 0.94, 0.96, 0.02), "urgency-2026-12-04.jsonl": (0.82, 0.91, 0.96, 0.09),
    "urgency-2026-12-04b.jsonl": (0.85, 0.93, 0.94, 0.08),
}
# over every corpus left out (weighed by size): what the model must add to the rules, and the raised budget
MEAN_BARS = {"topic": 0.89, "nature": 0.94, "recall": 0.96}
MAX_RAISED = 0.05
# training the model and the cross-corpus folds takes about a minute of CPU once per process: on a loaded
# 2-core machine the first test to ask for them may wait a few minutes
pytestmark = pytest.mark.timeout(900)


@contextlib.contextmanager
def untraced():
    """Coverage paused: training is numpy arithmetic driven by a Python loop, and line tracing doubles its
    time for lines the small determinism test below covers anyway."""
    try:
        import coverage  # noqa: PLC0415
    except ImportError:  # pragma: no cover - `make test` installs it
        yield
        return
    current = coverage.Coverage.current()
    if current is not None:
        current.stop()
    try:
        yield
    finally:
        if current is not None:
            current.start()


def cross_corpus() -> list[dict]:
    """The fold `make test` recomputes (one, picked by the digest of the data: model_cli.checked_folds)."""
    with untraced():
        return model_cli.cross_corpus(only=model_cli.checked_folds())


def build() -> str:
    with untraced():
        return model_cli.build()
ITALIAN = "L'autista ci ha lasciati alla fermata sotto la pioggia senza aprire le porte"  # no sentiment word listed


@pytest.fixture(scope="module")
def config():
    return load_config()


def test_the_shipped_model_is_the_one_the_command_builds_from_the_shipped_data():
    assert learned.PATH.read_text(encoding="utf-8") == build()


def test_the_shipped_model_is_logistic_regression_with_softer_probabilities_than_naive_bayes(config):
    document = json.loads(learned.PATH.read_text(encoding="utf-8"))
    assert (document["kind"], document["seeds"], document["epochs"]) == ("logistic", list(learned_train.SEEDS),
                                                                            learned_train.EPOCHS)
    rules, model = Classifier(config, model=None), learned.shipped()
    rows = model_cli.corpora(model_cli.DATA)["holdout.jsonl"]
    unsure = [w for w, _ in model_cli.examples(rules, rows) if model.predict(w)["nature"].probability < 0.9]
    assert len(unsure) > 20  # naive Bayes was sure of nearly everything (0.99 was its urgency threshold)


def test_training_and_evaluation_happen_once_per_process_for_the_same_inputs():
    assert cross_corpus() is cross_corpus()
    assert build() is build()


def test_training_is_deterministic_whatever_the_order(config):
    rules = Classifier(config, model=None)
    rows = [row for corpus in model_cli.corpora(model_cli.DATA).values() for row in corpus][:150]
    shuffled = list(rows)
    random.Random(7).shuffle(shuffled)
    first = learned.dumps(learned_train.train(model_cli.examples(rules, rows)))
    assert first == learned.dumps(learned_train.train(model_cli.examples(rules, shuffled)))


def test_the_evaluation_written_is_the_one_the_command_computes_from_the_shipped_data():
    # `python -m chalicelib model train` writes every fold into docs/model.md (about two minutes of CPU); this
    # recomputes one fold, picked by the digest of the data and the configuration: a change to either, or to
    # the classifier, moves the figures of nearly every fold, so a report not rewritten since shows here
    written = model_cli.read_report()
    data = model_cli.corpora(model_cli.DATA)
    assert {(r["fold"], r["corpus"], r["messages"]) for r in written} == {
        (fold, name, len(data[name])) for fold, names in model_cli.folds(model_cli.DATA, data).items()
        for name in names}
    assert model_cli.REPORT.read_text(encoding="utf-8") == model_cli.HEADER + model_cli.report(written) + "\n"
    computed = cross_corpus()
    checked = set(model_cli.checked_folds())
    assert len(checked) == 1 and {r["fold"] for r in computed} == checked
    assert model_cli.report(computed) == model_cli.report([r for r in written if r["fold"] in checked])


def test_cross_corpus_figures_are_printed_and_meet_the_bars(capsys):
    results = model_cli.read_report()  # every fold, as the command computed it (checked just above)
    with capsys.disabled():
        print("\n" + model_cli.report(results))
    assert {r["corpus"] for r in results} == set(CORPUS_BARS)
    for r in results:
        hybrid, (topic, nature, recall, raised) = r["hybrid"], CORPUS_BARS[r["corpus"]]
        for field, bar in {"topic": topic, "nature": nature, "recall": recall}.items():
            assert hybrid[field] >= bar, (r["corpus"], field, hybrid[field])
        assert hybrid["raised"] <= raised, (r["corpus"], hybrid["raised"])
    total = sum(r["messages"] for r in results)
    mean = {e: {f: sum(r[e][f] * r["messages"] for r in results) / total for f in ("topic", "nature", "recall",
                                                                                  "raised")}
            for e in ("rules", "model", "hybrid")}
    for field, bar in MEAN_BARS.items():
        assert mean["hybrid"][field] >= bar, (field, mean["hybrid"][field])
    assert mean["hybrid"]["raised"] <= MAX_RAISED
    assert mean["hybrid"]["recall"] >= mean["model"]["recall"] + 0.03  # the rules catch what the model misses
    assert mean["hybrid"]["recall"] >= mean["rules"]["recall"] + 0.15  # and the model what nobody listed


class Stub:
    """A model with fixed opinions."""

    def __init__(self, topic="comfort", nature="compliment", urgency="normal", probability=1.0):
        vectors, names = [[200, 0]], ["word"]  # hundredths, as a trained model keeps them
        self.opinions = {h: learned.Opinion(label, probability, vectors, names, 0, 1)
                         for h, label in (("topic", topic), ("nature", nature), ("urgency", urgency),
                                          ("language", "en"))}

    def predict(self, words):
        return self.opinions


def test_a_safety_phrase_always_wins_over_the_model(config):
    c = Classifier(config, model=Stub(topic="price", nature="compliment", urgency="normal"))
    for text in ("a man just pulled a knife at the back of the coach!", "the driver is speeding like mad",
                 "the driver is speeding and someone said the smoke is nothing"):  # a doubtful word beside
        result = c.classify(text, "+447700900008")
        assert (result.topic, result.nature, result.urgency, result.urgency_reason) == (
            "safety", "complaint", "high", "safety"), result.rules
        assert not any(r.startswith("model:") for r in result.rules)


@pytest.mark.parametrize("text,topic", [
    ("LEEDS: waited ages for someone to open the cigarette cabinet", "waiting"),
    ("the community noticeboard by the door is a lovely touch", "other"),
    ("last week a case fell off the rack, no one was hurt", "other"),  # a negated safety phrase is doubtful
])
def test_doubtful_safety_words_are_urgent_unless_the_model_is_sure_they_are_not(config, text, topic):
    rules = Classifier(config, model=None).classify(text, "+447700900101")
    assert (rules.urgency, rules.urgency_reason, rules.topic) == ("high", "safety", "safety"), rules.rules
    doubting = Stub(topic=topic, nature="complaint", urgency="normal", probability=0.85)
    unsure = Classifier(config, model=doubting).classify(text, "+447700900101")
    # below DOUBT_PROBABILITY: still urgent, for safety; the subject is the model's from SAFETY_TOPIC_OVERRIDE
    assert (unsure.urgency, unsure.urgency_reason, unsure.topic) == ("high", "safety", topic), unsure.rules
    sure = Classifier(config, model=Stub(topic=topic, nature="complaint", urgency="normal", probability=0.95))
    result = sure.classify(text, "+447700900101")
    assert (result.urgency, result.urgency_reason, result.topic) == ("normal", None, topic), result.rules
    line = next(r for r in result.rules if r.startswith("model:urgency=normal (0.95"))
    assert "not urgent despite" in line and "safety" in line, line


def test_the_model_raises_urgency_only_when_sure_and_says_so(config):
    text = "third time this week the coach just never turned up, had to get a taxi"
    sure = Classifier(config, model=Stub(nature="complaint", urgency="high", probability=0.995)).classify(text)
    assert sure.urgency == "high" and sure.urgency_reason == "churn"
    assert "model:urgency=high (0.99; word +2.0)" in sure.rules
    unsure = Classifier(config, model=Stub(nature="complaint", urgency="high", probability=0.40)).classify(text)
    assert unsure.urgency == "normal"


def test_the_model_raises_from_its_probability_of_high_even_when_normal_is_likelier_and_says_high(config):
    text = "third time this week the coach just never turned up, had to get a taxi"
    stub = Stub(nature="complaint", urgency="normal", probability=0.52)
    vectors, names = [[0, 150]], ["taxi"]
    stub.opinions["urgency"] = learned.Opinion("normal", 0.52, vectors, names, 0, 1, {"normal": 0.0, "high": -0.08},
                                               {"normal": 0, "high": 1})
    result = Classifier(config, model=stub).classify(text)
    assert (result.urgency, result.urgency_reason, result.nature) == ("high", "churn", "complaint"), result.rules
    assert "model:urgency=high (0.48; taxi +1.5)" in result.rules, result.rules


def test_a_message_no_rule_reads_is_unclear_only_when_short_otherwise_the_model_says_its_nature(config):
    sure = Classifier(config, model=Stub(topic="product", nature="complaint", probability=0.9))
    long = sure.classify("the bananas were green as grass again", "+447700900101")
    assert Classifier(config, model=None).classify("the bananas were green as grass again",
                                                   "+447700900101").nature == "unclear"
    assert (long.nature, long.topic) == ("complaint", "product"), long.rules
    assert "model:nature=complaint (0.90; word +2.0)" in long.rules
    short = sure.classify("bananas green", "+447700900101")
    assert short.nature == "unclear", short.rules  # the unclear test stays the rules' under four words
    # nothing to act on has no subject (the label definitions: unclear is topic other), and the line says so
    assert short.topic == "other" and "topic: other (unclear, not product)" in short.rules, short.rules


def test_the_model_turns_a_complaint_into_a_question_only_when_the_message_asks_something(config):
    asking = Classifier(config, model=Stub(topic="punctuality", nature="question", probability=0.95))
    said = asking.classify("Hola, el autobús llega tarde otra vez", "+447700900008")  # "hola" opens questions
    assert said.nature == "complaint" and "nature: complaint (positive 0, negative 1)" in said.rules, said.rules
    asked = asking.classify("the coach is late again, when will it get here?", "+447700900008")
    assert asked.nature == "question", asked.rules


def test_the_model_reads_the_rules_groups_beside_the_words(config):
    c = Classifier(config)
    words = c.model_words("L8 the driver was so rude to my mum", "+447700900000")
    assert words[:7] == ["the", "driver", "was", "so", "rude", "to", "my"], words
    assert {"g:staff-bad", "g:on-duty"} <= set(words) and words == words[:8] + sorted(words[8:]), words
    document = json.loads(learned.PATH.read_text(encoding="utf-8"))
    assert any(f.startswith("g:") for f in document["features"])  # the shipped model was trained so


def test_a_sure_model_overrides_a_topic_word_read_in_a_sentence_about_something_else(config):
    text = "thanks for the lovely 50 minute wait at the stop, the driver was nice"  # one topic rule: waiting
    rules = Classifier(config, model=None).classify(text, "+447700900008")
    result = Classifier(config, model=Stub(topic="punctuality", nature="complaint", probability=0.7)).classify(
        text, "+447700900008")
    assert rules.topic == "waiting" and result.topic == "punctuality", result.rules
    line = next(r for r in result.rules if r.startswith("model:topic=punctuality (0.70 against waiting "))
    assert line.endswith("; word +2.0)"), line
    unsure = Classifier(config, model=Stub(topic="punctuality", nature="complaint", probability=0.25))  # < 0.3
    assert unsure.classify(text, "+447700900008").topic == rules.topic


def test_a_sure_model_overrides_the_rules_nature_but_not_an_urgent_one_nor_the_staffs_conduct(config):
    text = "thanks for the lovely 50 minute wait at the stop"  # sarcasm: "thanks", "lovely" read as praise
    rules = Classifier(config, model=None).classify(text, "+447700900008")
    result = Classifier(config, model=Stub(topic="waiting", nature="complaint", probability=0.85)).classify(
        text, "+447700900008")
    assert rules.nature == "compliment" and result.nature == "complaint", result.rules
    assert any(r.startswith("model:nature=complaint (0.85 against compliment ") for r in result.rules)
    assert Classifier(config, model=Stub(topic="waiting", nature="complaint", probability=0.55)).classify(
        text, "+447700900008").nature == "compliment"
    rude = Classifier(config, model=Stub(topic="staff", nature="compliment", probability=0.95)).classify(
        "the driver was so rude to my mum", "+447700900008")
    assert (rude.nature, rude.about_staff) == ("complaint", True), rude.rules
    fire = Classifier(config, model=Stub(topic="comfort", nature="suggestion", probability=0.99)).classify(
        "the engine is on fire, there are flames!", "+447700900008")
    assert (fire.topic, fire.nature, fire.urgency) == ("safety", "complaint", "high")


def test_the_explanation_names_the_deciding_part(config):
    c = Classifier(config)
    by_rules = c.classify("L8 coach 45 min late again", "+447700900000")
    assert by_rules.topic == "punctuality" and not any(r.startswith("model:") for r in by_rules.rules)
    by_model = c.classify(ITALIAN, "+447700900008")
    assert (by_model.topic, by_model.nature, by_model.language) == ("staff", "complaint", "other")
    line = next(r for r in by_model.rules if r.startswith("model:nature=complaint ("))
    # the words that weighed most for it over the runner-up, each with its weight (a gloss in brackets)
    assert re.fullmatch(r"model:nature=complaint \(0\.\d\d; \S+ \+\d+\.\d(, \S+ \+\d+\.\d)*\)", line), line
    assert by_model.rules[-1].startswith("model:language=other ("), by_model.rules


def test_a_store_worker_on_her_phone_is_a_staff_complaint_not_urgent_safety(config):
    c = Classifier(config)
    store = c.classify("the woman at the till carried on on her phone while I waited", "+447700900101")
    assert (store.nature, store.urgency, store.about_staff) == ("complaint", "normal", True), store.rules
    assert store.topic != "safety"
    coach = c.classify("driver on his phone the whole way", "+447700900008")
    assert (coach.topic, coach.urgency, coach.about_staff) == ("safety", "high", True), coach.rules
    assert "phone-at-the-wheel: on his phone (someone driving)" in coach.rules


def test_rules_alone_without_a_model(config, monkeypatch, tmp_path):
    monkeypatch.setattr(learned, "PATH", tmp_path / "missing.json")
    learned.shipped.cache_clear()
    try:
        result = Classifier(config).classify(ITALIAN, "+447700900008")
        assert (result.language, result.nature) == ("fr", "complaint")  # the rules alone misread the language
        assert not any(r.startswith("model:") for r in result.rules)
    finally:
        learned.shipped.cache_clear()


@pytest.fixture
def small_data(tmp_path):
    """Three small corpora (two folds): the shipped data's model and report are checked above, without training
    all twelve folds a second time."""
    data = tmp_path / "data"
    data.mkdir()
    for name in ("corpus.jsonl", "holdout.jsonl", "holdout2.jsonl"):
        shutil.copy(model_cli.DATA / name, data / name)
    (data / "folds.json").write_text('{"early": ["corpus.jsonl", "holdout.jsonl"]}', encoding="utf-8")
    return data


def test_the_command_trains_and_evaluates(small_data, tmp_path, capsys):
    data = small_data
    out, report = tmp_path / "model.json", tmp_path / "model.md"
    with untraced():
        assert main(["model", "train", "--data", str(data), "--out", str(out), "--report", str(report)]) == 0
        assert out.read_text(encoding="utf-8") == model_cli.build(data)
        assert report.read_text(encoding="utf-8") == model_cli.HEADER + model_cli.report(
            model_cli.cross_corpus(data)) + "\n"
    written = model_cli.read_report(report)
    assert [(r["fold"], r["corpus"]) for r in written] == [
        ("early", "corpus.jsonl"), ("early", "holdout.jsonl"), ("holdout2.jsonl", "holdout2.jsonl")]
    assert all(0.5 < r["hybrid"]["topic"] <= 1 for r in written)
    model = learned.Model(json.loads(out.read_text(encoding="utf-8")))
    assert json.loads(out.read_text())["labels"]["urgency"] == ["high", "normal"]
    assert model.predict(["late", "again"])["topic"].label == "punctuality"
    printed = capsys.readouterr().out
    assert f"wrote {out}" in printed and "| holdout2.jsonl | `holdout2.jsonl` | 266 | hybrid |" in printed


@pytest.mark.parametrize("text,topic,nature", [
    ("El autobús llegó con una hora de retraso otra vez", "punctuality", "complaint"),
    ("La tienda estaba muy sucia y nadie limpiaba", "cleanliness", "complaint"),
    ("Der Fahrer war sehr unfreundlich zu meiner Mutter", "staff", "complaint"),
    ("Vielen Dank an den Fahrer, sehr hilfsbereit", "staff", "compliment"),
    ("Il pullman era in ritardo di quaranta minuti", "punctuality", "complaint"),
    ("Il biglietto è troppo costoso per questo servizio", "price", "complaint"),
    ("A casa de banho da loja estava muito suja", "cleanliness", "complaint"),
    ("Muito obrigado, o motorista foi muito atencioso", "staff", "compliment"),
])
def test_spanish_german_italian_portuguese_are_classified_not_dropped(config, text, topic, nature):
    result = Classifier(config).classify(text, "+447700900008")
    assert (result.language, result.topic, result.nature) == ("other", topic, nature), result.rules


def test_evaluate_prints_without_writing(small_data, capsys):
    before = (learned.PATH.read_bytes(), model_cli.REPORT.read_bytes())
    with untraced():
        assert main(["model", "evaluate", "--data", str(small_data)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" not in printed and "| early | `holdout.jsonl` | 181 | model |" in printed
    assert (learned.PATH.read_bytes(), model_cli.REPORT.read_bytes()) == before


def test_the_model_arbitrates_between_the_topics_the_rules_found_but_never_a_safety_one(config):
    c = Classifier(config)
    text = "staff member on the shoe section was so helpful, found me my size from the back"
    assert Classifier(config, model=None).classify(text, "+447700900101").topic == "product"
    result = c.classify(text, "+447700900101")
    assert result.topic == "staff"
    assert any(r.startswith("model:topic=staff (") and "against product" in r for r in result.rules), result.rules
    sure = Classifier(config, model=Stub(topic="comfort", urgency="normal"))
    danger = sure.classify("the seats are filthy and the driver was speeding", "+447700900008")
    assert danger.topic == "safety" and danger.urgency == "high"


def test_one_line_says_why_the_nature_even_when_the_model_finds_it_unclear(config):
    stub = Stub(topic="other", nature="unclear")
    stub.opinions["language"] = stub.opinions["topic"]  # not "other": the rules' language stands
    result = Classifier(config, model=stub).classify("Hola, buenos días, muchas cosas", "+447700900008")
    assert (result.language, result.nature) == ("other", "unclear"), result.rules
    assert [r for r in result.rules if "nature" in r] == ["model:nature=unclear (1.00; word +2.0)"]


# tests/data/unseen/: the fresh corpora, never used for training, by authors who saw only the label definitions and
# a brief. zr to zu, then zv to zy (docs/briefs/WRITER-zr.md … -zy.md) were commissioned after the freeze at 1bb1f83
# and measured once against it, the second four under a rule fixed before they were written
# (docs/briefs/MEASURE-1bb1f83.md; README, "The latest fresh corpora"); their figures are floors (normal raised a
# ceiling). (Earlier fresh corpora, each measured once, are training data.)
UNSEEN: dict[str, tuple[int, dict[str, float], float]] = {
    "fresh-2026-12-06zr.jsonl": (300, {"topic": 0.92, "nature": 0.95, "language": 1.00, "recall": 0.97}, 0.03),
    "fresh-2026-12-06zs.jsonl": (300, {"topic": 0.89, "nature": 0.92, "language": 1.00, "recall": 0.97}, 0.02),
    "fresh-2026-12-06zt.jsonl": (300, {"topic": 0.92, "nature": 0.96, "language": 1.00, "recall": 1.00}, 0.02),
    "fresh-2026-12-06zu.jsonl": (300, {"topic": 0.92, "nature": 0.94, "language": 1.00, "recall": 0.97}, 0.04),
    "fresh-2026-12-06zv.jsonl": (300, {"topic": 0.92, "nature": 0.95, "language": 1.00, "recall": 0.89}, 0.04),
    "fresh-2026-12-06zw.jsonl": (300, {"topic": 0.94, "nature": 0.96, "language": 1.00, "recall": 1.00}, 0.02),
    "fresh-2026-12-06zx.jsonl": (300, {"topic": 0.97, "nature": 0.96, "language": 0.99, "recall": 1.00}, 0.03),
    "fresh-2026-12-06zy.jsonl": (300, {"topic": 0.94, "nature": 0.94, "language": 1.00, "recall": 0.94}, 0.02),
}
# the issue's goal over the eight together, as the rule fixed before the second four were written counts it
GOAL = {"topic": 0.92, "nature": 0.92, "recall": 0.95}
GOAL_RAISED = 0.05


def unseen(name: str) -> list[dict]:
    path = Path(__file__).parent / "data" / "unseen" / name
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("name", sorted(UNSEEN))
def test_the_fresh_corpora_written_after_the_work_hold_their_measured_figures(name, config, capsys):
    size, floors, raised = UNSEEN[name]
    rows = unseen(name)
    assert len(rows) == size
    classifier = Classifier(config)
    figures = model_cli.score(lambda r: classifier.classify(r["text"], r["to"]).as_dict(), rows)
    with capsys.disabled():
        print(f"\n{name} (unseen):", {k: f"{v:.1%}" for k, v in figures.items()})
    for field, floor in floors.items():
        assert figures[field] >= floor, (field, figures[field])
    assert figures["raised"] <= raised


def test_the_fresh_corpora_together_meet_the_issues_goal(config):
    rows = [row for name in sorted(UNSEEN) for row in unseen(name)]
    assert len(rows) == 2400
    classifier = Classifier(config)
    figures = model_cli.score(lambda r: classifier.classify(r["text"], r["to"]).as_dict(), rows)
    for field, goal in GOAL.items():
        assert figures[field] >= goal, (field, figures[field])
    assert figures["raised"] <= GOAL_RAISED


def test_an_operators_phrase_is_never_overruled_by_the_model(tmp_path):
    """A phrase added after the model was trained (rules studio, live configuration) is the operator's word:
    the model neither overrules nor arbitrates the topic it gives, nor the nature."""
    from pathlib import Path

    folder = tmp_path / "config"
    shutil.copytree(Path(learned.__file__).parent / "config", folder)
    rules = folder / "rules.toml"
    rules.write_text(rules.read_text(encoding="utf-8") + '\n[[lexicon]]\nname = "comfort-mine"\ntopic = "comfort"\n'
                     'weight = 1\nphrases = ["wobbl*", "rickety"]\n\n[[lexicon]]\nname = "praise-mine"\nsentiment = 1\n'
                     'phrases = ["smashing"]\n', encoding="utf-8")
    config = load_config(folder)
    sure = Stub(topic="price", nature="complaint", probability=0.99)
    for text in ("the seat is rickety", "so wobbly today"):
        result = Classifier(config, model=sure).classify(text, "+447700900008")
        assert result.topic == "comfort" and not any(r.startswith("model:topic") for r in result.rules), result.rules
    praise = Classifier(config, model=sure).classify("smashing service on the coach today", "+447700900008")
    assert praise.nature == "compliment" and not any(r.startswith("model:nature") for r in praise.rules), praise.rules
    blank = Stub(topic="other", nature="unclear", probability=0.9)  # a word it never saw: "nothing said"
    repeated = Classifier(config, model=blank).classify("rickety rickety", "+447700900008")
    assert (repeated.topic, repeated.nature) == ("comfort", "complaint"), repeated.rules
    shipped = Classifier(load_config(), model=sure).classify("the seats are really comfy", "+447700900008")
    assert shipped.topic == "price", shipped.rules  # the shipped phrases stay the model's to overrule


def test_doubtful_safety_words_in_a_compliment_the_model_is_sure_of_are_not_urgent(config):
    text = "the driver handled a drunk passenger so calmly"
    praise = Stub(topic="staff", nature="compliment", urgency="high", probability=0.9)
    result = Classifier(config, model=praise).classify(text, "+447700900008")
    assert (result.urgency, result.nature, result.topic) == ("normal", "compliment", "staff"), result.rules
    assert any(r.startswith("model:nature=compliment (0.90; not urgent despite the doubtful safety words drunk")
               for r in result.rules), result.rules
    unsure = Stub(topic="staff", nature="compliment", urgency="high", probability=0.7)
    assert Classifier(config, model=unsure).classify(text, "+447700900008").urgency == "high"


@pytest.mark.parametrize("text", [
    "Le sol est trempé à l'entrée, j'ai failli tomber",
    "the floor by the tills is soaking, I nearly slipped",
    "Hay agua cayendo del techo en los probadores, casi me caigo",
])
def test_a_near_fall_is_urgent_unless_the_model_is_sure_it_is_not(config, text):
    """22 of the corpora's 31 near falls are urgent (the hazard is still there), 9 are not ("I'm fine")."""
    assert Classifier(config, model=None).classify(text, "+33639980101").urgency == "high"
    unsure = Stub(topic="safety", nature="complaint", urgency="normal", probability=0.7)
    assert Classifier(config, model=unsure).classify(text, "+33639980101").urgency == "high"
    sure = Stub(topic="safety", nature="complaint", urgency="normal", probability=0.95)
    result = Classifier(config, model=sure).classify(text, "+33639980101")
    assert result.urgency == "normal" and any("not urgent despite the doubtful safety words" in r
                                              for r in result.rules), result.rules


def test_two_doubtful_safety_words_are_certain_whatever_the_model_says(config):
    sure = Stub(topic="waiting", nature="complaint", urgency="normal", probability=0.99)
    hurt = Classifier(config, model=sure).classify("LEEDS the idiot at the till shoved me, I am hurt", "+447700900000")
    assert (hurt.urgency, hurt.urgency_reason) == ("high", "safety"), hurt.rules
    assert not any("not urgent despite" in r for r in hurt.rules)


def test_a_greeting_in_another_language_stays_unclear(config):
    for text in ("Hallo, guten Tag", "Buongiorno a tutti", "Hola buenas"):
        result = Classifier(config).classify(text, "+447700900008")
        assert (result.language, result.nature, result.urgency) == ("other", "unclear", "normal"), result.rules


RELABEL = Path(__file__).parent / "data" / "relabel" / "relabel-2026-12-05.jsonl"


def relabelled() -> list[dict]:
    return [json.loads(line) for line in RELABEL.read_text(encoding="utf-8").splitlines() if line.strip()]


def authored(corpus: str) -> list[dict]:
    """A training corpus with its author's labels: the label review's changes (README, "Labels read by the
    definitions") undone."""
    rows = [json.loads(line) for line in (model_cli.DATA / corpus).read_text(encoding="utf-8").splitlines()]
    for change in relabelled():
        if change["corpus"] == corpus:
            rows[change["line"] - 1].update(change["before"])
    return rows


def test_each_label_the_review_changed_is_recorded_with_what_it_was_and_why():
    data = model_cli.corpora(model_cli.DATA)
    changes = relabelled()
    assert 300 <= len(changes) <= 0.05 * sum(map(len, data.values()))  # a few in a hundred, as the README says
    for change in changes:
        row = data[change["corpus"]][change["line"] - 1]
        assert row["text"] == change["text"] and {k: row[k] for k in change["after"]} == change["after"], change
        assert change["before"] != change["after"] and change["why"]
        assert change["after"]["nature"] != "unclear" or change["after"]["topic"] == "other"
    assert len({(c["corpus"], c["line"]) for c in changes}) == len(changes)


@pytest.mark.parametrize("corpus,figures", [
    ("fresh-2026-12-04c.jsonl", ("96.0%", "98.2%", 1.0)),  # the previous round's fresh corpus (now training data)
    ("fresh-2026-12-04d.jsonl", ("91.8%", "98.5%", 1.0)),
])
def test_a_second_annotator_agrees_with_the_fresh_corpus_as_the_readme_says(corpus, figures):
    from pathlib import Path

    data = Path(__file__).parent / "data"
    author = authored(corpus)  # the author's labels, before the label review
    name = corpus.rsplit("/", 1)[-1].removesuffix(".jsonl")
    second = [json.loads(line) for line in (data / "agreement" / f"{name}.second.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    assert sorted(r["n"] for r in second) == list(range(len(author))) == list(range(400))
    agree = {f: sum(author[r["n"]][f] == r[f] for r in second) / len(second) for f in ("topic", "nature", "urgency")}
    assert (f"{agree['topic']:.1%}", f"{agree['nature']:.1%}", agree["urgency"]) == figures, agree


@pytest.mark.parametrize("name,figures", [
    ("fresh-2026-12-05zb", ("98.7%", "98.7%", 1.0)),  # fresh corpora measured once (training data since)
    ("fresh-2026-12-05zd", ("99.0%", "98.3%", 1.0)),
])
def test_a_second_annotator_agrees_with_the_fresh_corpora_zb_and_zd_as_the_readme_says(name, figures):
    """A second reader who saw only the label definitions and the texts (docs/briefs/ANNOTATOR-zb.md, -zd.md)
    labelled each message in the same order."""
    data = Path(__file__).parent / "data"
    author = [json.loads(line) for line in (data / f"{name}.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    second = [json.loads(line) for line in (data / "agreement" / f"{name}.second.jsonl").read_text(
        encoding="utf-8").splitlines() if line.strip()]
    assert [(r["to"], r["text"]) for r in second] == [(r["to"], r["text"]) for r in author] and len(author) == 300
    agree = {f: sum(a[f] == b[f] for a, b in zip(author, second, strict=True)) / len(author)
             for f in ("topic", "nature", "urgency")}
    assert (f"{agree['topic']:.1%}", f"{agree['nature']:.1%}", agree["urgency"]) == figures, agree


def test_doubtful_words_judged_not_urgent_no_longer_name_the_topic(config):
    sure = Stub(topic="comfort", nature="complaint", urgency="normal", probability=0.95)
    sure.opinions["topic"] = learned.Opinion("comfort", 0.2, [[200, 0]], ["word"], 0, 1)  # too unsure to override
    result = Classifier(config, model=sure).classify("LEEDS: waited ages for someone to open the cigarette cabinet",
                                                     "+447700900101")
    assert (result.urgency, result.topic) == ("normal", "waiting"), result.rules  # the rules' other topic


def test_a_sure_model_names_the_subject_of_doubtful_safety_words_which_stay_urgent_but_never_of_a_certain_one(config):
    stub = Classifier(config, model=Stub(topic="staff", nature="complaint", urgency="high", probability=0.9))
    doubtful = stub.classify("security followed me round the whole shop like a thief", "+447700900101")
    assert (doubtful.topic, doubtful.urgency, doubtful.urgency_reason) == ("staff", "high", "safety"), doubtful.rules
    assert any(r.startswith("model:topic=staff (0.90 against safety") for r in doubtful.rules), doubtful.rules
    certain = stub.classify("a man just pulled a knife at the back of the coach!", "+447700900008")
    assert (certain.topic, certain.urgency) == ("safety", "high"), certain.rules


def test_the_model_takes_a_rules_topic_to_other_only_when_sure(config):
    # "hola" opens many tourists' questions (topic other): at 0.51 it no longer takes a late bus from punctuality
    for probability, topic in ((0.55, "punctuality"), (0.65, "other")):
        stub = Classifier(config, model=Stub(topic="other", nature="complaint", probability=probability))
        result = stub.classify("Hola, el autobús llega tarde otra vez", "+447700900008")
        assert result.topic == topic, result.rules


@pytest.mark.parametrize("text,probability,nature,urgency", [
    ("seat belts on 23 and 24 are both snapped, got my 2 kids with me", 0.55, "complaint", "high"),
    ("seat belts on 23 and 24 are both snapped, got my 2 kids with me", 0.45, "complaint", "normal"),
    ("are the coaches fitted with seatbelts for kids?", 0.9, "question", "normal"),  # asking is no danger
])
def test_a_complaint_the_model_files_under_safety_is_urgent(config, text, probability, nature, urgency):
    """No safety phrase fired, the model names the topic safety and the message complains: a danger in words
    nobody listed ("snapped", "hanging by its wires") is high, and the explanation says the model read it."""
    assert Classifier(config, model=None).classify(text, "+447700900008").urgency == "normal"
    stub = Stub(topic="safety", nature=nature, urgency="normal", probability=probability)
    result = Classifier(config, model=stub).classify(text, "+447700900008")
    assert (result.topic, result.nature, result.urgency) == ("safety", nature, urgency), result.rules
    if urgency == "high":
        assert result.urgency_reason == "safety"
        assert any(r.startswith("model:urgency=high (a danger: topic safety at 0.55") for r in result.rules)
