"""Glosses (rules.toml, ``[glosses]``): English words the learned model reads for words of languages nobody wrote
rules for, in any alphabet. They reach the model only, never the rules."""

from __future__ import annotations

import shutil

import pytest

from chalicelib.classification import Classifier, _foreign_words
from chalicelib.config_loader import DEFAULT_CONFIG_DIR, ConfigError, load_config


@pytest.fixture(scope="module")
def config():
    return load_config()


def _glosses(words: list[str]) -> list[str]:
    return [w[1:] for w in words if w.startswith("=")]


@pytest.mark.parametrize("text,expected", [
    ("店員さんがとても親切でした。ありがとうございます。", {"staff", "thanks", "kind", "shop"}),  # Japanese, no spaces
    ("Автобус очень грязный, под сиденьями мусор", {"coach", "dirty", "seat", "rubbish"}),  # Russian, endings attached
    ("Kierowcy byli bardzo uprzejmi", {"driver", "kind"}),  # Polish stems: kierowc*, uprzejm*
    ("Teşekkürler, şoför çok kibardı", {"thanks", "driver"}),  # Turkish, accents folded: tesekkur*, sofor*
    ("버스가 한 시간 늦게 도착했어요", {"coach", "hours", "late", "arrival"}),  # Korean
    ("Der Sicherheitsgurt ist kaputt, überall Glasscherben", {"belt", "broken", "glass"}),  # German
    ("رجل في الحافلة يصرخ ويهدد الركاب", {"coach", "threatening"}),  # Arabic
    ("Un uomo ha molestato mia figlia, la minaccia ancora", {"harassing", "threatening"}),  # Italian
])
def test_words_of_other_languages_and_alphabets_are_glossed_in_english(config, text, expected):
    assert set(_glosses(Classifier(config).model_words(text, "+447700900008"))) == expected


def test_a_latin_gloss_matches_a_whole_word_or_a_stem_never_inside_a_word(config):
    classifier = Classifier(config)
    assert "=expensive" in classifier.model_words("Muy caro", "+447700900008")  # caro
    assert not _glosses(classifier.model_words("Lovely carousel by the tills", "+447700900008"))


def test_no_gloss_is_an_english_or_french_word_so_english_and_french_messages_read_as_before(config):
    classifier = Classifier(config)
    known = set(classifier._en) | set(classifier._fr)
    latin = set(classifier._gloss_words) | set(classifier._gloss_stems)
    assert not latin & known, sorted(latin & known)
    assert not _glosses(classifier.model_words("Arrivé en mai, génial, le chauffeur était super", "+33639980012"))


def test_glosses_reach_the_model_not_the_rules(config):
    rules = Classifier(config, model=None)
    result = rules.classify("Teşekkürler, şoför çok kibardı", "+447700900008")
    assert (result.language, result.nature, result.topic) == ("other", "unclear", "other")
    assert "=driver" in rules.model_words("Teşekkürler, şoför çok kibardı", "+447700900008")


def test_the_explanation_names_a_gloss_in_brackets(config):
    result = Classifier(config).classify("店員さんがとても親切でした。ありがとうございます。", "+447700900101")
    line = next(r for r in result.rules if r.startswith("model:nature"))
    assert "(thanks)" in line or "(kind)" in line, result.rules


def test_a_long_message_in_a_script_without_spaces_counts_its_words():
    assert _foreign_words("すみません、レジで30分以上待ちました。スタッフが少なすぎます。") >= 8
    assert _foreign_words("Спасибо") == 1
    assert _foreign_words("thanks") == 0


def test_a_japanese_compliment_and_a_russian_complaint_are_read_not_left_unclear(config):
    classifier = Classifier(config)
    thanks = classifier.classify("店員さんがとても親切でした。ありがとうございます。", "+447700900101")
    assert (thanks.language, thanks.nature, thanks.topic) == ("other", "compliment", "staff"), thanks.rules
    dirty = classifier.classify("Автобус очень грязный, под сиденьями мусор и липкий пол.", "+447700900008")
    assert (dirty.language, dirty.nature, dirty.topic) == ("other", "complaint", "cleanliness"), dirty.rules


@pytest.mark.parametrize("line,problem", [
    ('impolite = ["mal-educado"]', "must be one word"),
    ('impolite = ["ab*"]', "must be one word"),
    ('"Rude words" = ["grosero"]', "must be one English word"),
])
def test_a_gloss_that_cannot_be_matched_is_refused_at_load(tmp_path, line, problem):
    shutil.copytree(DEFAULT_CONFIG_DIR, tmp_path / "config")
    rules = tmp_path / "config" / "rules.toml"
    text = rules.read_text(encoding="utf-8")
    rules.write_text(text.replace("[glosses]\n", f"[glosses]\n{line}\n", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=problem):
        load_config(tmp_path / "config")


def test_a_complaint_naming_the_staff_in_another_language_is_not_sent_to_them(config):
    # the rules cannot read its conduct words: "the driver drove fast on the phone" in Polish names the driver
    from chalicelib.recipients import recipients_for

    result = Classifier(config).classify("Kierowca jechał bardzo szybko i rozmawiał przez telefon, boję się",
                                         "+447700900008")
    assert (result.language, result.topic, result.urgency, result.about_staff) == ("other", "safety", "high", True)
    assert "about: the staff on duty (named in another language: driver)" in result.rules
    assert not any(r.role == "site_staff" for r in recipients_for(config, result)), result.rules


def test_a_sentence_in_another_language_is_never_unclear(config):
    # six words or more in a language nothing reads (Georgian): something to act on, the model's likeliest nature
    # other than unclear (its likeliest is unclear). "This bus is very bad and the driver was rude today" is a
    # complaint; the model of the fourth session of 2026-12-05 gives question 0.14, complaint 0.11: with no word
    # read, that choice is a guess, and the README says so
    classifier = Classifier(config)
    text = "ეს ავტობუსი ძალიან ცუდია და მძღოლი უხეში იყო დღეს"
    said = classifier._opinions(classifier.model_words(text, "+447700900008"))["nature"]
    assert said.label == "unclear"
    likeliest = max((n for n in said.labels() if n != "unclear"), key=said.probability_of)
    result = classifier.classify(text, "+447700900008")
    assert (result.language, result.nature) == ("other", likeliest), result.rules
    assert any(r.startswith(f"model:nature={likeliest}") for r in result.rules), result.rules
    assert Classifier(config).classify("Hallo, guten Tag", "+447700900008").nature == "unclear"


@pytest.mark.parametrize("text,gloss", [
    ("Zgubiłem portfel w autokarze", "lost"),  # Polish ł (NFKD leaves it whole): zgubil*
    ("Kierowca kazał mi zapłacić jeszcze raz", "paid"),  # zaplaci*
    ("Mağaza pazar günü açık mı?", "open"),  # Turkish dotless ı: acik
    ("Kasiyer yardımcı oldu", "helpful"),  # yardimci
])
def test_letters_unicode_does_not_take_apart_are_read_as_their_base_letter(config, text, gloss):
    """Without the hand-made map these words split at the letter ("zgubi em", "ac k") and no gloss matched."""
    assert gloss in _glosses(Classifier(config).model_words(text, "+447700900008"))


def test_a_ligature_is_read_as_two_letters_so_a_french_phrase_with_it_fires():
    result = Classifier(load_config(), model=None).classify("j'ai mal au cœur dans ce car", "+33639980012")
    assert "comfort: mal au coeur" in result.rules, result.rules
