"""The generated configuration of many sites (infra/sites.py): `make run SITES=2000`, `make demo-data SITES=2000`."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest

from chalicelib.classification import Classifier
from chalicelib.config_loader import DEFAULT_CONFIG_DIR, load_config
from infra import sites
from infra.simulate import CUSTOMERS

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    folder = sites.write(tmp_path_factory.mktemp("sites") / "sites-2000", 2000)
    return folder, load_config(folder)


def test_two_thousand_sites_load_as_a_valid_configuration_with_every_file(big):
    folder, config = big
    assert len(config.sites) == 2000
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in DEFAULT_CONFIG_DIR.iterdir())
    for name in ("rules.toml", "replies.toml", "routing.toml"):
        assert (folder / name).read_bytes() == (DEFAULT_CONFIG_DIR / name).read_bytes()
    demo = load_config(DEFAULT_CONFIG_DIR)
    assert config.deployment == demo.deployment and config.sites_file.kinds == demo.sites_file.kinds


def test_the_demo_sites_come_first_unchanged(big):
    _, config = big
    demo = load_config(DEFAULT_CONFIG_DIR).sites
    assert config.sites[:len(demo)] == demo


def test_a_mix_of_coach_lines_and_stores_in_britain_and_france(big):
    _, config = big
    mix = Counter((s.kind, s.language, s.timezone) for s in config.sites)
    assert set(mix) == {(k, lang, zone) for k in ("coach", "store")
                        for lang, zone in (("en", "Europe/London"), ("fr", "Europe/Paris"))}
    assert min(mix.values()) >= 100
    stores = [s for s in config.sites if s.kind == "store"]
    assert 0.5 < len(stores) / len(config.sites) < 0.85
    assert sum(bool(s.roster) for s in stores) > len(stores) // 4
    assert {s.emergency_number for s in config.sites if s.language == "en"} == {"999"}
    assert {s.emergency_number for s in config.sites if s.language == "fr"} == {"112"}


def test_numbers_codes_ids_names_and_addresses_are_unique(big):
    _, config = big
    site_numbers = [n for s in config.sites for n in s.numbers]
    staff = [n for s in config.sites for n in s.staff_sms]
    assert len(site_numbers) == len(staff) == 2000
    assert len(set(site_numbers + staff + config.deployment.central_numbers)) == 4001
    for kind in ("id", "name"):
        assert len({getattr(s, kind) for s in config.sites}) == 2000
    codes = [c for s in config.sites for c in s.codes]
    assert len(codes) == len(set(codes))
    emails = [e for s in config.sites for e in s.manager_email]
    assert len(emails) == len(set(emails)) and all(e.endswith("@example.com") for e in emails)


def test_numbers_come_from_the_drama_and_fiction_ranges_and_never_a_customers(big):
    _, config = big
    # Ofcom's drama numbers (mobile 07700 900xxx; 0113 496 0xxx and the like) and ARCEP's fiction numbers
    uk = ["7700900", "1134960", "1144960", "1154960", "1164960", "1174960", "1184960", "1214960", "1314960",
          "1414960", "1514960", "1614960", "1914980", "2079460", "2896496", "2920180"]
    fr = ["63998", "19900", "26191", "35301", "46571", "53649"]
    fiction = re.compile(rf"\+44({'|'.join(uk)})\d{{3}}|\+33({'|'.join(fr)})\d{{4}}")
    for site in config.sites:
        for number in [*site.numbers, *site.staff_sms]:
            assert fiction.fullmatch(number), (site.id, number)
            parsed = phonenumbers.parse(number)  # E.164 as written: the same number back
            assert phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164) == number
    staff = {n for s in config.sites[4:] for n in s.staff_sms}
    assert not staff & set(CUSTOMERS)  # a demo customer is never taken for staff
    for used in ("+447700900123", "+447700900555", "+447700900999", "+33639980444"):  # the tests' numbers
        assert not config.is_staff(used)


def test_sms_names_are_plain_ascii(big):
    _, config = big
    for site in config.sites:
        assert site.short_name.en.isascii() and site.short_name.fr.isascii(), site.id


def test_a_text_reaches_a_generated_site_by_its_number_and_by_its_code(big):
    _, config = big
    classifier = Classifier(config)
    central = config.deployment.central_numbers[0]
    for site in (config.sites[100], config.sites[1500], config.sites[-1]):
        assert classifier.classify("the toilets were dirty", site.numbers[0]).site == site.id
        assert classifier.classify(f"{site.codes[0].lower()} the toilets were dirty", central).site == site.id


def test_the_same_seed_gives_the_same_file_and_another_seed_another(tmp_path):
    assert sites.generate(300) == sites.generate(300)
    assert sites.generate(300, seed=1) != sites.generate(300)
    assert tomllib.loads(sites.generate(300))["sites"][:4] == tomllib.loads(
        (DEFAULT_CONFIG_DIR / "sites.toml").read_text())["sites"]


def test_fewer_sites_than_the_demo_has_is_refused(tmp_path):
    with pytest.raises(ValueError, match="at least 4"):
        sites.generate(3)


def test_the_command_writes_a_directory_the_stack_can_read(tmp_path):
    out = tmp_path / "sites-20"
    done = subprocess.run([sys.executable, "-m", "infra.sites", "--count", "20", "--out", str(out)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(load_config(out).sites) == 20
    refused = subprocess.run([sys.executable, "-m", "infra.sites", "--count", "2", "--out", str(tmp_path / "x")],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "at least 4" in refused.stderr


def test_make_run_and_demo_data_read_the_generated_directory():
    dry = subprocess.run(["make", "-n", "-o", ".venv/.installed", "run", "demo-data", "SITES=30"], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert any("-m infra.sites --count 30 --out .local/sites-30" in line for line in lines)
    folder = f"VOIX_CONFIG_DIR={ROOT}/.local/sites-30"
    assert any(folder in line and "-m infra.local" in line for line in lines)
    assert any(folder in line and "-m infra.demo_data" in line for line in lines)
    plain = subprocess.run(["make", "-n", "-o", ".venv/.installed", "run"], cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
    assert "VOIX_CONFIG_DIR" not in plain.stdout and "infra.sites" not in plain.stdout


def test_demo_data_spreads_the_demo_texts_over_the_generated_sites(tmp_path):
    from infra.demo_data import generate

    config = load_config(sites.write(tmp_path / "sites-60", 60))
    messages, _, _ = generate(config, 1500, 2, seed=3)
    per_site = Counter(m.get("site") for m in messages)
    assert len([s for s in config.sites if per_site[s.id]]) >= 50
    assert per_site.most_common(1)[0][1] > 3 * min(per_site[s.id] for s in config.sites if per_site[s.id])


def test_demo_data_on_the_demo_configuration_is_unchanged_by_the_spreading(monkeypatch):
    from datetime import UTC, datetime

    from infra.demo_data import generate

    demo = load_config(DEFAULT_CONFIG_DIR)
    now = datetime(2026, 11, 2, 12, tzinfo=UTC)
    spread = generate(demo, 300, 2, seed=5, now=now)
    monkeypatch.setattr(sites, "spreader", lambda config, seed: lambda number: number)
    assert generate(demo, 300, 2, seed=5, now=now) == spread
