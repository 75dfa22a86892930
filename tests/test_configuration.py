"""Configuration is data: validated at load time, extended without code changes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from chalicelib.classification import Classifier
from chalicelib.config_loader import DEFAULT_CONFIG_DIR, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def config_dir(tmp_path):
    target = tmp_path / "config"
    shutil.copytree(DEFAULT_CONFIG_DIR, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("filename,old,new,expected", [
    ("sites.toml", 'kind = "coach"', 'kind = "plane"', "kind 'plane'"),
    ("sites.toml", 'codes = ["LEEDS"]', 'codes = ["L8"]', "code 'L8' is used by"),
    ("sites.toml", 'language = "fr"', 'language = "de"', "sites.1.language"),
    ("sites.toml", 'callback_minutes = 10', 'callback_minutes = "soon"', "callback_minutes"),
    ("rules.toml", 'topic = "comfort"', 'topic = "weather"', "unknown topic 'weather'"),
    ("rules.toml", 'sentiment = -1', 'sentiment = 5', "lexicon"),
    ("rules.toml", 'churn_threshold = 2.0', 'churn_treshold = 2.0', "churn_treshold"),
    ("replies.toml", 'name = "anything else"\n', 'name = "anything else"\nwhen = { nature = ["question"] }\n',
     "last reply must have no conditions"),
    ("routing.toml", 'sms = ["site_staff"]', 'sms = ["the_boss"]', "routing.0.sms.0"),
    ("rules.toml", '[aliases]', '[aliases\n', "not valid TOML"),
    ("sites.toml", 'staff_sms = ["+447700900801"]', 'staff_sms = ["07700900801"]', "international format"),
    ("sites.toml", 'numbers = ["+447700900008"]', 'numbers = ["+44 77OO 900008"]', "international format"),
    ("sites.toml", 'alert_from_email = "alerts@example.com"', 'alert_from_email = "alerts"', "not an e-mail"),
    ("sites.toml", 'email_addresses = ["paris@feedback.voix.example"]',
     'email_addresses = ["leeds@feedback.voix.example"]', "is used twice"),
    ("sites.toml", 'email_addresses = ["paris@feedback.voix.example"]',
     'email_addresses = ["feedback@feedback.voix.example"]', "is used twice"),
    ("sites.toml", 'email_addresses = ["paris@feedback.voix.example"]', 'email_addresses = ["paris"]', "not an e-mail"),
])
def test_a_bad_file_fails_fast_naming_the_file_the_key_and_the_problem(config_dir, filename, old, new, expected):
    edit(config_dir / filename, old, new)
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert expected in str(caught.value)
    assert filename in str(caught.value) or "config" in str(caught.value)


def test_numbers_written_as_people_write_them_are_read_as_messages_carry_them(config_dir):
    """A site's number and staff phones are looked up exactly: spaces and 00 must not break that."""
    edit(config_dir / "sites.toml", 'numbers = ["+447700900008"]', 'numbers = ["+44 7700 900008"]')
    edit(config_dir / "sites.toml", 'staff_sms = ["+447700900801"]', 'staff_sms = ["0044 (7700) 900-801"]')
    config = load_config(config_dir)
    assert config.site_by_number("+447700900008").id == "line-8"
    assert config.is_staff("+447700900801")


def test_a_number_written_with_its_national_zero_in_brackets_matches_its_site(config_dir):
    """ "+44 (0)7700 900008" is how British numbers are printed: it is +447700900008, not +4407700900008."""
    edit(config_dir / "sites.toml", 'numbers = ["+447700900008"]', 'numbers = ["+44 (0)7700 900008"]')
    edit(config_dir / "sites.toml", 'staff_sms = ["+447700900801"]', 'staff_sms = ["+44 (0) 7700 900 801"]')
    config = load_config(config_dir)
    assert config.site_by_number("+447700900008").id == "line-8"
    assert "+447700900008" in config.site("line-8").numbers and config.is_staff("+447700900801")
    assert Classifier(config).classify("it's far too hot on this coach", "+447700900008").site == "line-8"


@pytest.mark.parametrize("number", ["+999 1234567", "+44 12", "+33 (0)6", "+44 7700 900008 ext. 2", "+"])
def test_a_number_that_is_no_phone_number_is_refused_at_load(config_dir, number):
    edit(config_dir / "sites.toml", 'numbers = ["+447700900008"]', f'numbers = ["{number}"]')
    with pytest.raises(ConfigError) as caught:
        load_config(config_dir)
    assert "sites.toml" in str(caught.value) and "sites.0.numbers.0" in str(caught.value)
    assert f"{number!r} is not a" in str(caught.value) and "phone number" in str(caught.value)


def test_a_site_is_found_by_its_e_mail_address_in_any_case_and_the_central_address_is_no_site(config_dir):
    edit(config_dir / "sites.toml", 'email_addresses = ["leeds@feedback.voix.example"]',
         'email_addresses = ["Leeds@Feedback.Voix.Example"]')
    config = load_config(config_dir)
    assert config.site_by_address("leeds@feedback.voix.example").id == "store-leeds"
    assert config.site_by_address("LEEDS@feedback.voix.example").id == "store-leeds"
    assert config.site_by_address(config.deployment.central_email) is None
    assert Classifier(config).classify("dirty floor", "leeds@feedback.voix.example").site == "store-leeds"


def test_a_missing_file_is_named(config_dir):
    (config_dir / "routing.toml").unlink()
    with pytest.raises(ConfigError, match="routing.toml: configuration file not found"):
        load_config(config_dir)


def test_a_new_site_and_keyword_need_no_code_change(config_dir):
    with (config_dir / "sites.toml").open("a") as f:
        f.write('''
[[sites]]
id = "line-99"
name = "Night line 99"
short_name = { en = "line 99", fr = "ligne 99" }
kind = "coach"
language = "en"
numbers = ["+447700900099"]
codes = ["N99"]
staff_sms = ["+447700900999"]
manager_email = ["line99@example.com"]
''')
    edit(config_dir / "rules.toml", '"heating", "heater",', '"heating", "heater", "blanket*",')
    classifier = Classifier(load_config(config_dir))
    result = classifier.classify("N99 need blankets", "+447700900000")
    assert result.site == "line-99" and result.topic == "comfort"


def test_a_ten_times_larger_rule_set_loads_and_classifies_the_same(config_dir):
    path = config_dir / "rules.toml"
    text = path.read_text()
    extra = "\n".join(
        f'[[lexicon]]\nname = "generated-{i}"\ntopic = "other"\nweight = 0.01\n'
        f'phrases = [{", ".join(json.dumps(f"zqx{i}w{j}") for j in range(200))}]'
        for i in range(100)
    )
    path.write_text(text + "\n" + extra + "\n")
    big = Classifier(load_config(config_dir))
    small = Classifier(load_config())
    for text in ("L8 freezing", "le chauffeur roule comme un fou", "could you add more tills?"):
        assert big.classify(text, "+447700900000").as_dict() == small.classify(text, "+447700900000").as_dict()


def test_every_environment_variable_the_stack_needs_is_set_for_every_stage():
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    needed = {"TABLE_NAME", "COUNTERS_TABLE", "JOBS_QUEUE", "INBOUND_SMS_TOPIC", "TWILIO_AUTH_TOKEN_PARAM",
              "OPERATOR_TOKEN_SHA256_PARAM", "CUSTOMER_KEY_SECRET_PARAM", "MAX_RECEIVES", "RETENTION_DAYS"}
    for stage, settings in config["stages"].items():
        variables = {**config["environment_variables"], **settings["environment_variables"]}
        assert needed <= set(variables), (stage, needed - set(variables))
        assert variables["TABLE_NAME"] == f"voix-{stage}"
        assert variables["COUNTERS_TABLE"] == f"voix-{stage}-counters"
        assert variables["JOBS_QUEUE"] == f"voix-{stage}-jobs"


def test_the_worker_gives_up_exactly_when_sqs_moves_a_job_to_the_dead_letter_queue():
    class Loader(yaml.SafeLoader):
        pass

    template = yaml.load((ROOT / "infra" / "template.yaml").read_text(), Loader=Loader)
    redrive = template["Resources"]["JobsQueue"]["Properties"]["RedrivePolicy"]
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert int(config["environment_variables"]["MAX_RECEIVES"]) == redrive["maxReceiveCount"]
    visibility = template["Resources"]["JobsQueue"]["Properties"]["VisibilityTimeout"]
    for stage in config["stages"].values():
        assert visibility >= 6 * stage["lambda_functions"]["worker"]["lambda_timeout"]


def test_policies_name_no_wildcard_action():
    for path in (ROOT / ".chalice").glob("policy-*.json"):
        for statement in json.loads(path.read_text())["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            assert all(re.fullmatch(r"[a-z0-9-]+:[A-Za-z]+", a) for a in actions), (path.name, actions)
            assert "Comment" not in statement  # not an IAM policy element: the deploy would fail
            if statement["Resource"] == "*":
                assert statement["Sid"].endswith("HaveNoResourceArn"), (path.name, statement["Sid"])


def test_a_new_topic_flows_from_configuration_to_counters_and_metrics(config_dir, client, monkeypatch):
    from chalicelib import services
    from tests.conftest import auth, drain, post_sms, twilio_params

    edit(config_dir / "rules.toml", '"accessibility", "other"]\ntopic_priority',
         '"accessibility", "luggage", "other"]\ntopic_priority')
    with (config_dir / "rules.toml").open("a") as f:
        f.write('\n[[lexicon]]\nname = "luggage"\ntopic = "luggage"\nweight = 5\n'
                'phrases = ["suitcase", "valise", "luggage hold"]\n')
    monkeypatch.setenv("VOIX_CONFIG_DIR", str(config_dir))
    services.reset()
    assert post_sms(client, twilio_params(body="L8 my suitcase was damaged", sid="SM" + "b" * 32)).status_code == 200
    drain()
    totals = client.http.get("/api/metrics", headers=auth()).json_body["totals"]
    assert totals["topic"]["luggage"] == 1
    filtered = client.http.get("/api/feedback?topic=luggage", headers=auth()).json_body["items"]
    assert [i["topic"] for i in filtered] == ["luggage"]
    assert client.http.get("/api/feedback?topic=weather", headers=auth()).status_code == 400
