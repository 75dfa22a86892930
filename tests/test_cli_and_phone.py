"""The operator CLI and phone number handling."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.phone import InvalidNumber, customer_key, mask, normalise

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "chalicelib", *args], input=stdin, capture_output=True,
                          text=True, cwd=ROOT, timeout=60)


def test_cli_classifies_one_message_as_one_json_object():
    result = run_cli("classify", "--to", "+447700900008", "it's freezing on this coach")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert set(data) == {"site", "topic", "nature", "urgency", "language", "rules", "about_staff"}
    assert data["site"] == "line-8" and data["topic"] == "comfort" and data["nature"] == "complaint"


def test_cli_explains_which_groups_fired_and_what_they_add():
    result = run_cli("classify", "--explain", "--to", "+447700900008", "it's freezing on this coach")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["topic"] == "comfort" and "freezing" in data["words"]
    assert any(f["phrase"] == "freezing" and f["effect"].get("topic") == "comfort" for f in data["fired"])


def test_cli_reads_json_lines_and_answers_in_order():
    lines = [{"to": "+33639980012", "text": "merci au chauffeur"}, {"to": "+447700900000", "text": "LEEDS rude staff"},
             {"text": "what time is the last coach?"}]
    result = run_cli("classify", stdin="".join(json.dumps(line) + "\n" for line in lines))
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["site"] for o in out] == ["line-12", "store-leeds", None]
    assert [o["nature"] for o in out] == ["compliment", "complaint", "question"]


def test_cli_reports_a_bad_line_and_goes_on():
    result = run_cli("classify", stdin='not json\n{"to": "+447700900008", "text": "cold"}\n')
    assert result.returncode == 1
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert "error" in out[0] and out[1]["topic"] == "comfort"


@pytest.mark.parametrize("raw,region,expected", [
    ("+447700900123", None, "+447700900123"), ("07700 900123", "GB", "+447700900123"),
    ("0044 7700 900123", None, "+447700900123"), ("+33 6 39 98 01 01", None, "+33639980101"),
    ("06.39.98.01.01", "FR", "+33639980101"), ("+1 (415) 555-0100", None, "+14155550100"),
])
def test_numbers_are_normalised_to_e164(raw, region, expected):
    assert normalise(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "hello", "+1", "07700 900123", "+44" + "9" * 30, "+999 1234"])
def test_impossible_numbers_are_refused(raw):
    with pytest.raises(InvalidNumber):
        normalise(raw)


def test_masking_keeps_country_and_last_digits_only():
    assert mask("+447700900123") == "+44 77•• •••123"
    assert "•" in mask("+33639980101") and mask("+33639980101").endswith("01")


def test_customer_key_is_keyed_not_a_bare_hash():
    assert customer_key("+447700900123", b"a") != customer_key("+447700900123", b"b")
    assert customer_key("+447700900123", b"a") == customer_key("+447700900123", b"a")
