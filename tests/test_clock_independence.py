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
    ("infra/moto_speedups.py", "time.time"):
        "moto's own SQS visibility check, sped up: AWS-side time, which the real SQS keeps on its own clock",
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


# -- the date-sensitive modules with the process clock moved -------------------------------------------
FAKETIME = shutil.which("faketime")
# Modules whose code paths compare times: rate windows and alert storms, escalation deadlines and promises,
# links and tokens that expire, rolling caps, retention and roll-ups, digests, scorecards over rosters,
# survey quiet hours, and the real local stack over HTTP (its subprocesses and moto move with the clock).
DATE_SENSITIVE = [
    "tests/test_abuse.py", "tests/test_access.py", "tests/test_closing_the_loop.py", "tests/test_digest.py",
    "tests/test_failures.py", "tests/test_offers.py", "tests/test_operator_api.py", "tests/test_scorecards.py",
    "tests/test_surveys.py", "tests/test_privacy.py", "tests/test_local_stack.py",
]


@pytest.mark.parametrize("offset", ["+365d", "-1100d"])
def test_the_date_sensitive_tests_pass_with_the_clock_moved(offset, tmp_path):
    assert FAKETIME, "faketime is missing: `make test` installs it (Debian: apt-get install faketime)"
    env = {**os.environ, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # timeouts keep counting real seconds
    command = [FAKETIME, "-f", offset, sys.executable, "-c", "import datetime; print(datetime.date.today())"]
    moved = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert moved != str(__import__("datetime").date.today())  # the clock did move
    command = [FAKETIME, "-f", offset, sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x",
               "--basetemp", str(tmp_path / "pytest"), *DATE_SENSITIVE]
    run = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, f"on {moved}:\n{run.stdout[-6000:]}\n{run.stderr[-2000:]}"
