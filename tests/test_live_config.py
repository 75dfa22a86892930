"""Live configuration on the in-memory fakes (issue 22): versions published against the latest, validated with
every problem's path, the diff kept, rollback as a publish, the shipped files as version 1."""

from __future__ import annotations

import copy
from datetime import UTC, datetime

import pytest

from chalicelib.config_loader import read_raw
from chalicelib.errors import ApiError
from chalicelib.live_config import ConfigService, InvalidConfig, StaleVersion, build, diff, path_of
from tests.fakes import fake_stores

NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def service():
    return ConfigService(store=fake_stores().config, seed=read_raw, now=lambda: NOW)


def line_8(sites):
    return next(s for s in sites["sites"] if s["id"] == "line-8")


def test_the_shipped_files_are_version_1_and_a_publish_is_version_2(service):
    version, sites = service.section("sites")
    assert version == 1 and line_8(sites)["staff_sms"] == ["+447700900801"]
    [first] = service.history()
    assert first["version"] == 1 and first["author"] == "the shipped files" and first["touched"] == [
        "replies", "routing", "rules", "sites"]
    line_8(sites)["staff_sms"] = ["+447700900802"]
    published = service.publish("sites", sites, base_version=1, author="Marie [operator]", comment="new phone")
    assert published["version"] == 2 and published["touched"] == ["sites"] and published["comment"] == "new phone"
    assert published["changes"] == [{"path": f"sites[{sites['sites'].index(line_8(sites))}].staff_sms[0]",
                                      "old": "+447700900801", "new": "+447700900802"}]
    assert published["sections"] == {"sites": 2, "rules": 1, "replies": 1, "routing": 1}
    assert service.section("sites") == (2, sites)
    assert [v["version"] for v in service.history()] == [2, 1]
    assert [v["version"] for v in service.history(limit=1, before=2)] == [1]


def test_a_change_on_a_stale_version_is_refused_and_nothing_is_lost(service):
    _, sites = service.section("sites")
    mine, theirs = copy.deepcopy(sites), copy.deepcopy(sites)
    line_8(mine)["callback_minutes"] = 15
    line_8(theirs)["callback_minutes"] = 20
    service.publish("sites", mine, base_version=1, author="Marie")
    with pytest.raises(StaleVersion) as refused:
        service.publish("sites", theirs, base_version=1, author="Paul")
    assert refused.value.status == 409 and "version 1 is not the latest (2)" in refused.value.message
    assert line_8(service.section("sites")[1])["callback_minutes"] == 15


@pytest.mark.parametrize("change, says", [
    (lambda s: line_8(s).update(staff_sms=["+4477"]), "].staff_sms[0]: "),
    (lambda s: line_8(s).update(timezone="Mars/Olympus"), "].timezone: unknown time zone 'Mars/Olympus'"),
    (lambda s: line_8(s).update(callback_minutes=0), "].callback_minutes: Input should be greater than or equal to 1"),
    (lambda s: line_8(s).update(colour="red"), "].colour: Extra inputs are not permitted"),
    (lambda s: line_8(s).pop("codes"), "].codes: Field required"),
])
def test_an_invalid_change_names_the_field_and_the_problem_and_stores_nothing(service, change, says):
    _, sites = service.section("sites")
    change(sites)
    with pytest.raises(InvalidConfig) as refused:
        service.publish("sites", sites, base_version=1, author="Marie")
    assert refused.value.status == 400
    index = next(i for i, s in enumerate(sites["sites"]) if s["id"] == "line-8")
    assert any(p.startswith(f"sites[{index}") and says in p for p in refused.value.problems), refused.value.problems
    assert service.head()[0] == 1


def test_every_problem_is_listed_and_a_cross_section_one_too(service):
    _, routing = service.section("routing")
    routing["routing"][0]["when"]["topic"] = ["teleportation"]
    with pytest.raises(InvalidConfig) as refused:
        service.publish("routing", routing, base_version=1, author="Marie")
    assert "unknown topic 'teleportation'" in refused.value.message
    _, sites = service.section("sites")
    sites["sites"][0]["staff_sms"] = ["nope"]
    sites["sites"][1]["language"] = "de"
    with pytest.raises(InvalidConfig) as refused:
        service.publish("sites", sites, base_version=1, author="Marie")
    assert len(refused.value.problems) == 2
    assert refused.value.problems[0].startswith("sites[0].staff_sms[0]: ")
    assert refused.value.problems[1].startswith("sites[1].language: ")


def test_rollback_publishes_the_old_configuration_as_the_next_version(service):
    _, sites = service.section("sites")
    line_8(sites)["staff_sms"] = ["+447700900802"]
    service.publish("sites", sites, base_version=1, author="Marie")
    back = service.rollback(1, author="Paul")
    assert back["version"] == 3 and back["rollback_of"] == 1 and back["comment"] == "rollback to version 1"
    assert back["changes"][0]["old"] == "+447700900802" and back["changes"][0]["new"] == "+447700900801"
    assert line_8(service.section("sites")[1])["staff_sms"] == ["+447700900801"]
    with pytest.raises(ApiError) as same:
        service.rollback(3, author="Paul")
    assert same.value.status == 409
    with pytest.raises(ApiError) as missing:
        service.rollback(99, author="Paul")
    assert missing.value.status == 404


def test_nothing_changed_unknown_sections_and_not_an_object_are_refused(service):
    version, replies = service.section("replies")
    with pytest.raises(ApiError) as same:
        service.publish("replies", replies, base_version=version, author="Marie")
    assert same.value.status == 409
    for bad in (lambda: service.section("secrets"), lambda: service.publish("secrets", {}, base_version=1, author="x")):
        with pytest.raises(ApiError) as unknown:
            bad()
        assert unknown.value.status == 404
    with pytest.raises(InvalidConfig):
        service.publish("replies", ["not", "an", "object"], base_version=1, author="Marie")


def test_the_built_configuration_is_the_one_the_files_give():
    from chalicelib.config_loader import load_config

    assert build(read_raw()) == load_config()
    with pytest.raises(InvalidConfig) as missing:
        build({"sites": {}})
    assert "rules: missing" in missing.value.problems


def test_diff_and_paths_read_as_an_operator_writes_them():
    assert diff({"a": [1, {"b": 2}]}, {"a": [1, {"b": 3}, 4], "c": True}) == [
        {"path": "a[1].b", "old": 2, "new": 3}, {"path": "a[2]", "old": None, "new": 4},
        {"path": "c", "old": None, "new": True}]
    assert diff({"x": [1, 2]}, {"x": [1]}) == [{"path": "x[1]", "old": 2, "new": None}]
    assert diff({"gone": 1}, {}) == [{"path": "gone", "old": 1, "new": None}]
    assert path_of(("sites", 2, "staff_sms", 0)) == "sites[2].staff_sms[0]"
    assert path_of(()) == "(top level)"
