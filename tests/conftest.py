"""Shared fixtures: fake AWS credentials, moto with the real template, the Chalice test client."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from urllib.parse import urlencode

import pytest

OPERATOR_TOKEN = "test-operator-token"
TWILIO_TOKEN = "test-twilio-auth-token"
TWILIO_ACCOUNT = "AC" + "1" * 32
WEBHOOK_URL = "https://voix.example.com/api/sms/twilio"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")  # Debian's, driven by Playwright
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-west-2", "AWS_REGION": "eu-west-2",
    "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_DEV": "false", "POWERTOOLS_LOG_LEVEL": "WARNING",
    "TABLE_NAME": "voix-dev", "COUNTERS_TABLE": "voix-dev-counters", "JOBS_QUEUE": "voix-dev-jobs",
    "INBOUND_SMS_TOPIC": "voix-dev-inbound-sms",
    "TWILIO_AUTH_TOKEN": TWILIO_TOKEN, "TWILIO_ACCOUNT_SID": TWILIO_ACCOUNT, "TWILIO_WEBHOOK_URL": WEBHOOK_URL,
    "OPERATOR_TOKEN_SHA256": hashlib.sha256(OPERATOR_TOKEN.encode()).hexdigest(),
    "CUSTOMER_KEY_SECRET": "test-customer-key-secret", "LINK_SIGNING_KEY": "test-link-signing-key",
    "REPLY_SENDER": "log", "MAX_RECEIVES": "5", "AUDIT_TOKEN_SHA256": hashlib.sha256(b"test-audit").hexdigest(),
})
for leaked in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "SQS_PARTIAL_BATCH"):
    os.environ.pop(leaked, None)

from chalicelib import services as services_module  # noqa: E402
from infra import chalice_local  # noqa: E402

chalice_local.apply()  # unknown routes: the deployed API's JSON 404, locally as in the cloud


def _untraced(owner, name: str) -> None:
    """``owner.name`` run with coverage's line tracer paused on the calling thread (see ``_aws_calls_untraced``);
    a call made while tracing is already off (nested, or no coverage) leaves it alone."""
    import sys

    original = getattr(owner, name)
    if getattr(original, "untraced", False):
        return

    def untraced(*args, **kwargs):
        tracer = sys.gettrace()
        if type(tracer).__name__ != "CTracer":  # no coverage, a debugger, or already paused
            return original(*args, **kwargs)
        tracer.stop()  # the tracer takes itself off this thread at its next event
        try:
            return original(*args, **kwargs)
        finally:
            tracer.start()

    untraced.untraced = True
    setattr(owner, name, untraced)


def _aws_calls_untraced() -> None:
    """Coverage's line tracer paused for the length of each AWS API call (botocore's client and, in process,
    moto's backends) and of each client's creation: no code of chalicelib runs inside them (it registers no
    botocore hook), so the report is the same, and tracing botocore's and moto's own calls was a third of the
    in-process tests' time. Only the calling thread's tracer is paused."""
    import botocore.client
    import botocore.session

    _untraced(botocore.client.BaseClient, "_make_api_call")
    _untraced(botocore.session.Session, "create_client")


_aws_calls_untraced()


# Tests that share a module-scoped fixture (a running stack, a browser, a packaged template) stay in one
# xdist worker (`make test` runs `--dist loadgroup`); the two modules that run `chalice package` share one
# worker too, as they write the same dependency cache under .chalice/.
# The learned model's tests share the trained model and its cross-corpus evaluation (about 40 s of CPU, kept for
# the process): one worker, or each would train them again.
SHARED_WORKER = {"test_deploy_package.py": "chalice-package", "test_least_privilege.py": "chalice-package",
                 "test_learned.py": "learned-model"}


def _long(item) -> bool:
    """The tests that take minutes: local stacks, the browser, packaging, the faketime reruns."""
    return bool(item.get_closest_marker("stack") or item.get_closest_marker("browser")
                or item.path.name in SHARED_WORKER or item.originalname.endswith("_with_the_clock_moved"))


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which reads the groups to suffix the node ids
def pytest_collection_modifyitems(config, items):
    for item in items:
        module = item.path.name
        fixtures = item._fixtureinfo.name2fixturedefs.values()
        if module in SHARED_WORKER or any(defs and defs[-1].scope == "module" for defs in fixtures):
            item.add_marker(pytest.mark.xdist_group(SHARED_WORKER.get(module, module)))
    # the long ones first (a stable sort: each module keeps its order), so that the workers do not wait at the
    # end for one that started last
    items[:] = sorted(items, key=lambda item: not _long(item))


@pytest.fixture(scope="session")
def packaged(tmp_path_factory):
    """`python -m infra.package` for dev and prod, run once and read by test_deploy_package.py and
    test_least_privilege.py (one xdist worker holds both: SHARED_WORKER); stage -> its output folder."""
    import subprocess
    import sys
    from pathlib import Path

    out = {}
    for stage in ("dev", "prod"):
        folder = tmp_path_factory.mktemp(stage)
        run = subprocess.run([sys.executable, "-m", "infra.package", "--stage", stage, "--out", str(folder)],
                             cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout + run.stderr
        out[stage] = folder
    return out


_loader = None


def _default_session_with_shared_models():
    """The boto3 default session for one test, on a botocore loader shared by the whole process.

    moto clears ``boto3.DEFAULT_SESSION`` when it starts, so each test's clients came from a new session that
    read every service model and endpoint rule set from JSON again (most of the fixture's time). The models
    are read-only data: sharing their loader changes no behaviour; sessions, clients and moto's state are
    still new for each test."""
    import boto3
    import botocore.session

    global _loader
    core = botocore.session.get_session()
    if _loader is None:
        _loader = core.get_component("data_loader")
    else:
        core.register_component("data_loader", _loader)
    boto3.DEFAULT_SESSION = boto3.Session(botocore_session=core)


def _one_rsa_key_per_process():
    """moto generates an RSA key pair for every KMS key, asymmetric or not (the template's two symmetric
    keys: a fifth of the fixture's time). Voix never signs with KMS; one key pair per key spec is reused."""
    import functools

    import moto.kms.models

    if not hasattr(moto.kms.models.generate_private_key, "cache_info"):
        moto.kms.models.generate_private_key = functools.lru_cache(maxsize=None)(moto.kms.models.generate_private_key)


def _parse_each_template_once():
    """moto parses the stack's template with PyYAML's pure-Python loader each time a stack is created (a third
    of the fixture's time). The template is the same text in nearly every test: parsed once, each stack gets its
    own deep copy, so no test can change another's template."""
    import copy
    import functools

    from moto.cloudformation.models import Stack

    if hasattr(Stack, "_voix_parse_once"):
        return
    parse = functools.lru_cache(maxsize=8)(Stack.parse_template)
    Stack.parse_template = staticmethod(
        lambda template: copy.deepcopy(parse(template)) if isinstance(template, str) else parse.__wrapped__(template))
    Stack._voix_parse_once = True


@contextmanager
def _moto_deployment():
    """moto with the resources of infra/template.yaml created through CloudFormation, patched as the local
    stack's moto is (``infra/moto_speedups.py``: transactions that copy only their items, the item limit
    on every update)."""
    import boto3
    from moto import mock_aws

    from infra import moto_speedups
    from infra.resources import create_stack

    assert moto_speedups.apply(), "moto no longer looks as infra/moto_speedups.py expects"

    _one_rsa_key_per_process()
    _parse_each_template_once()
    with mock_aws():
        _default_session_with_shared_models()
        outputs = create_stack(boto3.client("cloudformation"), "dev")
        boto3.client("sesv2").create_email_identity(EmailIdentity="example.com")
        services_module.reset()
        yield outputs
        services_module.reset()


@pytest.fixture
def aws():
    """A deployment of its own for each test (see ``_moto_deployment``)."""
    with _moto_deployment() as outputs:
        yield outputs


@pytest.fixture(scope="module")
def shared_client():
    """One deployment and Chalice test client for a whole module whose tests refuse requests and check that
    nothing changed (the route and bad-input matrices). moto keeps one state while any mock is started, so
    such a module holds nothing but these tests: a test of its own deployment in the same module would find
    the shared stack already there."""
    from chalice.test import Client

    from app import app

    with _moto_deployment(), Client(app, stage_name="dev") as c:
        yield c


@pytest.fixture
def client(aws):
    from chalice.test import Client

    from app import app

    with Client(app, stage_name="dev") as c:
        yield c


@pytest.fixture
def svc(aws):
    return services_module.services()


@pytest.fixture
def domain():
    """The configuration and every storage port in memory (``tests/fakes.py``, proven equivalent to the
    DynamoDB adapters by ``tests/test_storage_contract.py``): a domain rule tested in milliseconds, no AWS."""
    from types import SimpleNamespace

    from chalicelib.cases import CaseService
    from chalicelib.config_loader import get_config
    from chalicelib.offers import OfferService
    from tests.fakes import fake_stores

    config, store = get_config(), fake_stores()
    return SimpleNamespace(config=config, store=store,
                           cases=CaseService(config=config, cases=store.cases, counters=store.counters),
                           offers=OfferService(config=config, offers=store.offers))


@pytest.fixture(scope="module")
def browser():
    """One Chromium per test module, driven by Playwright (the browser tests open their pages in it)."""
    if not CHROMIUM:
        pytest.skip("no Chromium on this machine: `make test` installs Debian's chromium package (apt-get)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def sign(params, url=WEBHOOK_URL, token=TWILIO_TOKEN):
    """Signature computed by the official twilio library, an independent reference."""
    from twilio.request_validator import RequestValidator

    return RequestValidator(token).compute_signature(url, params)


def twilio_params(body="L8 it's far too hot on this bus", sid="SM" + "0" * 32, frm="+447700900123",
                  to="+447700900008", **extra):
    params = {"MessageSid": sid, "AccountSid": TWILIO_ACCOUNT, "From": frm, "To": to, "Body": body,
              "NumMedia": "0"}
    params.update(extra)
    return params


def post_sms(client, params, signature=None, url=WEBHOOK_URL, content_type="application/x-www-form-urlencoded"):
    body = urlencode(params)
    headers = {"Content-Type": content_type}
    sig = sign(params, url) if signature is None else signature
    if sig:
        headers["X-Twilio-Signature"] = sig
    return client.http.post("/sms/twilio", headers=headers, body=body)


def auth(token=OPERATOR_TOKEN):
    return {"Authorization": f"Bearer {token}"}


def drain(client_or_none=None, max_batches=100):
    """Run the jobs queue through the worker Lambda, as the local stack does."""
    import boto3

    from app import worker
    from infra.local_worker import drain_jobs

    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="voix-dev-jobs")["QueueUrl"]
    return drain_jobs(sqs, url, worker, max_batches=max_batches)


def table_items(kind=None):
    """Every item of the Voix tables (messages and cases, and counters), optionally by key prefix."""
    import boto3

    from chalicelib.storage.dynamo import from_item

    db = boto3.client("dynamodb")
    items = []
    for table in ("voix-dev", "voix-dev-counters"):
        for page in db.get_paginator("scan").paginate(TableName=table):
            items.extend(from_item(i) for i in page["Items"])
    return [i for i in items if kind is None or i.get("type") == kind or i["pk"].startswith(kind)]


def sent_sms():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sns.models import sns_backends

    return list(sns_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].sms_messages.values())


def sent_emails():
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    return list(ses_backends[DEFAULT_ACCOUNT_ID]["eu-west-2"].sent_messages)


def jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_stack(folder, settle_seconds: float = 90, **extra_env):
    """`python -m infra.local` in a subprocess, on free ports; yields (state, output lines) once its start-up
    jobs are done (``settle_seconds`` at most: a stack of 2,000 sites sends 2,000 digests first)."""
    import signal
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    state_file = Path(folder) / "stack.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TWILIO_", "OPERATOR_"))}
    for attempt in range(3):  # a free port can be taken by another worker's process before the stack binds it
        env.update(PORT=str(free_port()), DASHBOARD_PORT=str(free_port()), DEMO="0",
                   VOIX_STATE_FILE=str(state_file), PYTHONUNBUFFERED="1", **extra_env)
        process = subprocess.Popen([sys.executable, "-m", "infra.local"], cwd=root, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output: list[str] = []
        reader = threading.Thread(target=lambda p=process, o=output: o.extend(p.stdout), daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while not any("READY" in line for line in output):
            if process.poll() is not None or time.monotonic() > deadline:
                died = process.returncode  # None when it is still running at the deadline
                process.send_signal(signal.SIGTERM)  # its children (moto, chalice local) stop with it
                try:
                    process.wait(20)
                finally:
                    process.kill()
                reader.join(5)  # its last lines (why it stopped) are read before they are looked at
                # a port taken between free_port() and the stack's own check: infra.local says so and exits 2
                # (a faketime rerun in CI failed with an empty output, in about a second: the exit code is kept)
                # a crash at start-up with nothing printed (SIGSEGV, exit -11, once under faketime in CI, before any
                # line of infra.local ran) is a start that failed, not the stack's behaviour: started again
                crashed = died is not None and died < 0 and not "".join(output).strip()
                if attempt < 2 and (process.returncode == 2 or crashed
                                    or any("already in use" in line for line in output)):
                    break
                pytest.fail(f"local stack did not start (exit {process.returncode}):\n" + "".join(output[-40:]))
            time.sleep(0.2)
        else:
            break
    state = json.loads(state_file.read_text())
    try:
        _settled(state, output, extra_env, deadline=time.monotonic() + settle_seconds)
        yield state, output
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        finally:
            process.kill()


def _settled(state, output, extra_env, deadline):
    """Wait for the stack's start-up work to end before a test runs: every schedule has fired once
    (the scheduler fires each at start, so a fresh stack sends yesterday's digest) and the jobs queue
    is empty. A test that compares what was sent before and after then sees only its own doings."""
    import re
    import time

    from chalice.app import ScheduledEventConfig

    import app as voix

    wanted = {s.name for s in voix.app.event_sources if isinstance(s, ScheduledEventConfig)}
    wanted -= set((extra_env.get("VOIX_SCHEDULER_NO_CATCH_UP") or "").split(","))  # they fire later
    while time.monotonic() < deadline:
        fired = {m.group(1) for line in list(output) for m in [re.search(r'"schedule":\s*"([^"]+)"', line)] if m}
        if fired >= wanted:
            try:
                jobs = stack_api(state, "/api/status")["queues"]["jobs"]
            except OSError:
                jobs = None
            if jobs and jobs["waiting"] == 0 and jobs["in_flight"] == 0:
                return
        time.sleep(0.2)
    pytest.fail("the local stack's start-up jobs did not settle:\n" + "".join(output[-40:]))


def hour_counters():
    """The hour counter items (each message is also counted in a day item)."""
    return [i for i in table_items("MET#") if i["sk"].startswith("H#")]


def stack_api(state, path):
    """GET an operator API route of a running local stack, over HTTP."""
    import urllib.request

    request = urllib.request.Request(state["api_url"] + path,
                                     headers={"Authorization": f"Bearer {state['operator_token']}"})
    with urllib.request.urlopen(request, timeout=10) as res:
        return json.loads(res.read())


def stack_call(state, method, path, body=None):
    """Any operator API route of a running local stack over HTTP, as the operator token: (status, JSON)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(state["api_url"] + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {state['operator_token']}",
                                              "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=15) as res:
            return res.status, json.loads(res.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@contextmanager
def browser_page(browser, **options):
    """A page in a fresh browser context (1280 x 900 unless told), its script errors kept in ``page.errors``."""
    context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **options})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    try:
        yield page
    finally:
        # a route handler still fetching (a page that polls every second) would fail the next test's setup with
        # "Request context disposed" when the context closes under it
        page.unroute_all(behavior="ignoreErrors")
        context.close()


def wait_until(check, seconds=30):
    """Poll ``check`` until it returns something true; return that, or fail after ``seconds``."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError("condition not met in time")
