"""The suite does not depend on the date it runs on.

1. Domain code reads "now" only through ``chalicelib.clock`` (an AST scan with an explicit allow-list), so a
   test that sets ``chalicelib.clock.source`` moves the webhook, the worker, the cases and the API together.
2. The date-sensitive test modules pass with the whole process clock moved (libfaketime's ``faketime``: moto's
   SQS visibility and the local stack's subprocesses move too), a year ahead and a few years back.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ["app.py", "chalicelib", "infra"]

# Reads of the real clock: any reference (called or passed along) is a read.
ALWAYS = {
    "datetime.datetime.now", "datetime.datetime.utcnow", "datetime.datetime.today", "datetime.date.today",
    "time.time", "time.time_ns", "time.monotonic", "time.monotonic_ns", "time.perf_counter",
    "time.perf_counter_ns", "time.clock_gettime", "time.clock_gettime_ns",
    "uuid.uuid1", "uuid.uuid6", "uuid.uuid7",  # time-based UUIDs carry the current time
}
# Reads of the real clock only when the time argument is left out: ``time.gmtime()`` reads it, ``gmtime(0)`` not.
WITHOUT_TIME_ARGUMENT = {
    "time.gmtime": 0, "time.localtime": 0, "time.ctime": 0, "time.asctime": 0, "time.strftime": 1,
    "email.utils.formatdate": 0, "email.utils.localtime": 0,
}

# Every allowed read, and why it may read wall time rather than the injected clock. Nothing else may.
ALLOWED = {
    ("chalicelib/clock.py", "datetime.datetime.now"):
        "the injected clock's default source: the one place domain time comes from",
    ("infra/local.py", "time.monotonic"):
        "how long to wait for a local server's port: an elapsed-time timeout, not a date",
    ("infra/simulate.py", "time.monotonic"):
        "how long `make simulate --watch` keeps answering staff replies: an elapsed time, not a date",
    ("infra/moto_speedups.py", "time.time"):
        "moto's own SQS visibility check, sped up: AWS-side time, which the real SQS keeps on its own clock",
    ("chalicelib/services.py", "time.monotonic"):
        "how long since a warm process asked for the configuration's version: an elapsed time, not a date",
    ("chalicelib/api/studio.py", "time.perf_counter"):
        "how long a backtest took, logged: an elapsed time, not a date",
    ("infra/deploy.py", "time.time"):
        "a unique CloudFormation change-set name and CloudFront CallerReference: identifiers, not dates",
}


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> dotted module path, from every import in the module (functions' own imports included)."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    names[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    names[top] = top
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.AST, names: dict[str, str]) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in names:
        return None
    return ".".join([names[node.id], *reversed(parts)])


def clock_reads(source: str) -> list[tuple[int, str]]:
    """(line, qualified name) of each read of the real clock in ``source``."""
    tree = ast.parse(source)
    names = _aliases(tree)
    calls = {id(node.func): node for node in ast.walk(tree) if isinstance(node, ast.Call)}
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Name, ast.Attribute)) or isinstance(getattr(node, "ctx", None), ast.Store):
            continue
        name = _dotted(node, names)
        if name in ALWAYS:
            found.append((node.lineno, name))
        elif name in WITHOUT_TIME_ARGUMENT:
            call = calls.get(id(node))
            if call is None or (len(call.args) <= WITHOUT_TIME_ARGUMENT[name] and not call.keywords):
                found.append((node.lineno, name))
    return sorted(set(found))


def scanned_files() -> list[Path]:
    files = []
    for entry in SCANNED:
        path = ROOT / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def test_domain_code_reads_the_real_clock_only_through_chalicelib_clock():
    unexplained, used = [], set()
    for path in scanned_files():
        relative = path.relative_to(ROOT).as_posix()
        for line, name in clock_reads(path.read_text(encoding="utf-8")):
            if (relative, name) in ALLOWED:
                used.add((relative, name))
            else:
                unexplained.append(f"{relative}:{line} {name}")
    assert unexplained == [], ("read the time with chalicelib.clock.utcnow (or a `now` parameter defaulting to "
                               "it), or add the read to ALLOWED with the reason it must be wall time")
    assert set(ALLOWED) == used, "allow-list entries that no longer match any read: remove them"


@pytest.mark.parametrize("snippet, expected", [
    ("from datetime import UTC, datetime\nx = datetime.now(UTC)", ["datetime.datetime.now"]),
    ("import datetime as dt\nx = dt.datetime.utcnow()", ["datetime.datetime.utcnow"]),
    ("from datetime import date\nx = date.today()", ["datetime.date.today"]),
    ("import time\ndef f():\n    return int(time.time())", ["time.time"]),
    ("from time import time as wall\nx = wall()", ["time.time"]),
    ("import time\nx = time.gmtime()", ["time.gmtime"]),
    ("import time\nx = time.strftime('%Y')", ["time.strftime"]),
    ("import uuid\nx = uuid.uuid1()", ["uuid.uuid1"]),
    ("from email.utils import formatdate\nx = formatdate()", ["email.utils.formatdate"]),
    ("import time\nclock = time.monotonic  # passed along, read later", ["time.monotonic"]),
    # not reads of the clock
    ("import time\nx = time.gmtime(0)\ny = time.strftime('%Y', x)\ntime.sleep(1)", []),
    ("from datetime import UTC, datetime\nx = datetime.fromtimestamp(0, UTC)", []),
    ("from chalicelib.clock import utcnow\nx = utcnow()", []),
    ("import uuid\nx = uuid.uuid4()", []),
    ("def now():\n    return 1\nx = now()", []),
])
def test_the_scan_finds_each_way_of_reading_the_real_clock(snippet, expected):
    assert [name for _, name in clock_reads(snippet)] == expected


def test_one_injected_clock_moves_the_webhook_the_worker_and_the_cases(client, svc, monkeypatch):
    """The finding: the test clock moved the webhook only; the worker opened cases on the real date."""
    from datetime import UTC, datetime

    from chalicelib import clock
    from tests.conftest import drain, post_sms, table_items, twilio_params

    moment = datetime(2031, 3, 9, 13, 45, tzinfo=UTC)
    monkeypatch.setattr(clock, "source", lambda: moment)
    assert post_sms(client, twilio_params(body="L8 the driver is drunk and dangerous")).status_code == 200
    drain()
    [message] = table_items("MSG#")
    [case] = table_items("CASE#")
    assert message["received_at"] == case["created_at"] == "2031-03-09T13:45:00.000Z"
    assert message["processed_at"] == "2031-03-09T13:45:00.000Z"


# -- the date-sensitive tests with the process clock moved ---------------------------------------------
FAKETIME = shutil.which("faketime")
# The tests whose code paths compare times (chosen to keep this under a minute per offset): rate windows and
# alert storms, escalation deadlines and promises kept or missed, links and tokens that expire, short codes
# that live 7 days, rolling caps, counts landing in closed hours, digests of yesterday, scorecards over rosters,
# survey quiet hours, retention TTLs, and the real local stack over HTTP (its subprocesses and moto move too).
DATE_SENSITIVE = [
    "tests/test_abuse.py::test_staff_get_at_most_three_alerts_an_hour_about_one_sender",
    "tests/test_abuse.py::test_the_sender_window_slides_and_forgets_the_oldest_senders",
    "tests/test_abuse.py::test_a_held_back_case_pages_nobody_when_replayed_or_escalated",
    "tests/test_access_matrix.py::test_every_route_refuses_an_expired_or_foreign_or_tampered_token",
    "tests/test_access.py::test_the_operator_mints_viewer_tokens_that_work_until_they_expire",
    "tests/test_closing_the_loop.py::test_stop_opts_out_once_with_time_and_source_then_feedback_is_still_answered",
    "tests/test_closing_the_loop.py::test_staff_reply_ok_code_acknowledges_the_case_and_is_not_feedback",
    "tests/test_closing_the_loop.py::test_short_codes_are_unique_among_live_cases",
    "tests/test_closing_the_loop.py::test_an_expired_link_is_refused",
    "tests/test_closing_the_loop.py::test_an_expired_link_gets_410_through_the_api",
    "tests/test_closing_the_loop.py::test_an_unacknowledged_urgent_case_escalates_to_the_manager_then_to_care",
    "tests/test_closing_the_loop.py::test_an_acknowledged_case_never_escalates",
    "tests/test_digest.py",
    "tests/test_failures.py::test_a_late_retry_of_a_pending_message_requeues_it_but_a_concurrent_duplicate_does_not",
    "tests/test_failures.py::test_two_copies_of_an_alert_job_at_once_send_one_sms",
    "tests/test_failures.py::test_a_parked_message_stored_meanwhile_by_a_retry_is_counted_once",
    "tests/test_offers.py::test_a_customer_gets_one_offer_per_period_then_the_reply_without_a_code",
    "tests/test_offers.py::test_the_customer_cap_is_a_rolling_window_not_a_calendar_block",
    "tests/test_operator_api.py::test_day_metrics_read_day_items_and_stay_exact_at_the_period_edges",
    "tests/test_operator_api.py::test_acknowledging_records_the_time_to_acknowledge_in_the_metrics",
    "tests/test_operator_api.py::test_demo_data_read_back_equals_what_was_generated",
    "tests/test_operator_api.py::test_a_late_count_shows_at_once_in_the_site_and_network_views",
    "tests/test_operator_api.py::test_a_message_processed_after_its_hour_is_in_the_counts_of_that_hour",
    "tests/test_operator_api.py::test_a_promise_missed_after_its_hour_shows_in_the_site_and_network_views",
    "tests/test_scorecards.py",
    "tests/test_surveys.py::test_sending_skips_opted_out_numbers_and_respects_the_frequency_cap",
    "tests/test_surveys.py::test_quiet_hours_hold_the_send_until_morning",
    "tests/test_surveys.py::test_quiet_delay",
    "tests/test_surveys.py::test_the_survey_cap_is_a_rolling_window",
    "tests/test_privacy.py::test_every_item_carries_a_retention_ttl_of_at_most_13_months",
    "tests/test_local_stack.py::test_sms_through_both_channels_is_answered_stored_and_alerted",
]
# libfaketime (0.9.10) and Python's waits: with the monotonic clock faked, waits on a semaphore or a condition
# never end (glibc's sem_clockwait is not intercepted); with it real, libfaketime's clock_nanosleep refuses
# Python's absolute deadline (EINVAL). So the monotonic clock stays real and time.sleep waits on an Event.
SLEEP_THROUGH_AN_EVENT = """
import threading, time

def _sleep(seconds):
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    threading.Event().wait(seconds)

time.sleep = _sleep
"""


# Each offset's rerun in two halves (the stack test alone, the in-process ones together), so that `make test`'s
# workers run the four at the same time.
HALVES = {"stack": [t for t in DATE_SENSITIVE if "test_local_stack" in t],
          "in-process": [t for t in DATE_SENSITIVE if "test_local_stack" not in t]}


def test_the_halves_hold_every_date_sensitive_test_once():
    assert sorted(HALVES["stack"] + HALVES["in-process"]) == sorted(DATE_SENSITIVE) and all(HALVES.values())


@pytest.mark.timeout(900)  # a hang guard: a whole pytest run in a subprocess, slower when the workers share 2 cores
@pytest.mark.parametrize("half", sorted(HALVES))
@pytest.mark.parametrize("offset", ["+365d", "-1100d"])  # a year ahead; three years back, before the test dates
def test_the_date_sensitive_tests_pass_with_the_clock_moved(offset, half, tmp_path):
    assert FAKETIME, "faketime is missing: `make test` installs it (Debian: apt-get install faketime)"
    (tmp_path / "shim").mkdir()
    (tmp_path / "shim" / "sitecustomize.py").write_text(SLEEP_THROUGH_AN_EVENT, encoding="utf-8")
    path = os.pathsep.join(filter(None, [str(tmp_path / "shim"), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1", "PYTHONPATH": path}  # inherited by the stack
    command = [FAKETIME, "-f", offset, sys.executable, "-c", "import datetime; print(datetime.date.today())"]
    moved = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert moved != str(__import__("datetime").date.today())  # the clock did move
    command = [FAKETIME, "-f", offset, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "--basetemp", str(tmp_path / "pytest"), *HALVES[half]]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"on {moved}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
