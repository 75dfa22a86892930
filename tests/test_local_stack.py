"""`make run` for real: moto in server mode, `chalice local`, the local worker, over HTTP."""

from __future__ import annotations

import contextlib
import threading
import urllib.error
import urllib.request

import pytest

from infra.simulate import send_eum, send_twilio
from tests.conftest import running_stack, stack_api, wait_until

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stack")
    with running_stack(folder) as (state, output):
        yield dict(state, state_file=str(folder / "stack.json")), output






def test_the_banner_gives_the_url_and_both_tokens(stack):
    state, output = stack
    banner = "".join(output)
    assert state["api_url"] in banner and state["operator_token"] in banner and state["twilio_auth_token"] in banner
    assert state["dashboard_url"] + "/api.html" in banner


def test_sms_through_both_channels_is_answered_stored_and_alerted(stack):
    state, output = stack
    # a safety alert the driver must hear (one about the driver himself goes to his managers: test_noise_and_staff)
    status, body = send_twilio(state, "+447700900008", "L8 a passenger is drunk and threatening", "+447700900555")
    assert status == 200 and "<Message>" in body and "999" in body
    status, _ = send_twilio(state, "+33639980101", "OPERA vendeuse adorable, merci", "+33639980444")
    assert status == 200
    send_eum(state, "+33639980012", "L12 il fait un froid de canard dans le car", "+33612340000")

    def all_processed():
        items = stack_api(state, "/api/feedback")["items"]
        return items if len(items) == 3 and all(i["processed"] for i in items) else None

    items = wait_until(all_processed)
    assert {i["site"] for i in items} == {"line-8", "store-paris", "line-12"}
    assert {i["channel"] for i in items} == {"twilio", "eum"}
    urgent = wait_until(lambda: [c for c in stack_api(state, "/api/cases")["items"]
                                 if c["urgency"] == "high" and {a["status"] for a in c["alerts"]} == {"sent"}])
    assert {a["to"] for a in urgent[0]["alerts"]} >= {"+447700900801", "care@example.com"}
    metrics = stack_api(state, "/api/metrics")
    assert metrics["totals"]["messages"] == 3
    assert any("local SMS reply" in line for line in output)  # the End User Messaging reply, logged locally


def test_a_forged_webhook_is_refused_over_http(stack):
    state, _ = stack
    forged = dict(state, twilio_auth_token="wrong")
    status, body = send_twilio(forged, "+447700900008", "L8 hello", "+447700900555")
    assert status == 403 and "signature" in body


def test_an_unknown_route_is_a_json_404_over_http(stack):
    import json
    import urllib.error
    import urllib.request

    state, _ = stack
    request = urllib.request.Request(state["api_url"] + "/api/nothing",
                                     headers={"Authorization": f"Bearer {state['operator_token']}"})
    try:
        urllib.request.urlopen(request, timeout=10)
        raise AssertionError("an unknown route answered 2xx")
    except urllib.error.HTTPError as exc:
        body = exc.read().decode()
        assert exc.code == 404 and json.loads(body) == {"error": "no such route"}
        assert state["operator_token"] not in body


def _json_lines_after_ready(output):
    lines = list(output)
    ready = max(i for i, line in enumerate(lines) if line.strip() == "READY")
    return [line for line in lines[ready + 1:] if line.strip()]


def test_each_event_is_one_structured_line_with_its_correlation_id(stack):
    import json

    state, output = stack
    send_twilio(state, "+447700900101", "LEEDS the fitting rooms were spotless, thanks", "+447700900556")
    send_eum(state, "+33639980101", "OPERA la caisse était fermée depuis une heure", "+33612340001")
    wait_until(lambda: [i for i in stack_api(state, "/api/feedback?site=store-paris")["items"] if i["processed"]])
    wait_until(lambda: any("local SMS reply" in line for line in _json_lines_after_ready(output)))
    events = [json.loads(line) for line in _json_lines_after_ready(output)]  # every line is JSON: none plain
    received = [e for e in events if e.get("message") == "sms received"]
    assert len({e["correlation_id"] for e in received}) == len(received)  # each once, not printed twice
    reply = [e for e in events if e.get("message") == "local SMS reply"]
    assert reply and all(e["service"] == "voix" and e["correlation_id"].startswith("eum-") for e in reply)
    assert all("33612340001" not in json.dumps(e) for e in events)  # numbers masked


def _raw(url, payload):
    """Send raw bytes to a local server; return everything it answers before closing."""
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(payload)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("server", ["api_url", "dashboard_url"])
def test_a_head_answer_has_no_body_so_the_next_answer_on_the_connection_is_whole(stack, server):
    """HEAD then GET pipelined on one connection: the bytes after the HEAD answer's headers are the GET's
    answer (chalice local used to write the HEAD answer's body there). The dashboard server speaks
    HTTP/1.0: it answers the HEAD and closes."""
    state, _ = stack
    answer = _raw(state[server], b"HEAD /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
                                 b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
    head, _, rest = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b"content-length" in head.lower()
    if server == "api_url":
        assert rest.startswith(b"HTTP/1.1 200 ") and rest.endswith(b'{"status":"ok"}'), answer
    else:
        assert rest == b"" or rest.startswith(b"HTTP/1."), answer


@pytest.mark.parametrize("server, path", [("api_url", "/sms/twilio"), ("api_url", "/api/cases/x/ack"),
                                          ("dashboard_url", "/api/cases/x/ack")])
@pytest.mark.parametrize("length", ["abc", "-5", "12, 12", "1e3"])
def test_a_malformed_content_length_is_a_400_not_a_dropped_connection(stack, server, path, length):
    state, _ = stack
    answer = _raw(state[server], f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: {length}\r\n"
                                 f"Content-Type: application/json\r\n\r\n{{}}".encode())
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0].split(b" ")[1] == b"400", answer
    assert b"Content-Length" in body or b"content-length" in body.lower()


@contextlib.contextmanager
def _proxy_before(api_handler):
    """A stand-in API (``api_handler``, quiet) on a free port, the dashboard server in front of it: its base URL."""
    from http.server import ThreadingHTTPServer

    from infra.dashboard_server import serve
    from tests.conftest import free_port

    api_handler.log_message = lambda *args: None
    api = ThreadingHTTPServer(("127.0.0.1", 0), api_handler)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    port = free_port()
    dashboard = serve(port, f"http://127.0.0.1:{api.server_address[1]}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        dashboard.shutdown()
        api.shutdown()


def test_the_dashboard_server_passes_the_apis_headers_on():
    """X-Voix-Truncated (a CSV export cut at its newest rows) and Content-Disposition reach the browser."""
    from http.server import BaseHTTPRequestHandler
    from pathlib import Path

    class Api(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"received_at,text\n"
            self.send_response(200)
            for name, value in (("Content-Type", "text/csv; charset=utf-8"), ("X-Voix-Truncated", "true"),
                                ("Content-Disposition", 'attachment; filename="voix-feedback.csv"'),
                                ("Content-Length", str(len(body)))):
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    with _proxy_before(Api) as base:
        with urllib.request.urlopen(f"{base}/api/export.csv", timeout=10) as res:
            assert res.headers["X-Voix-Truncated"] == "true"
            assert res.headers["Content-Disposition"] == 'attachment; filename="voix-feedback.csv"'
            assert res.read() == b"received_at,text\n"
        # the language catalogues, from chalicelib/locales/ (the server's own), on the dashboard's origin
        locales = Path(__file__).resolve().parent.parent / "chalicelib" / "locales"
        for lang in ("en", "fr"):
            with urllib.request.urlopen(f"{base}/locales/{lang}.json", timeout=10) as res:
                assert res.read() == (locales / f"{lang}.json").read_bytes()
        for outside in ("/locales/../__init__.py", "/locales/%2e%2e/config_loader.py"):
            try:
                urllib.request.urlopen(f"{base}{outside}", timeout=10)
                raise AssertionError(outside)
            except urllib.error.HTTPError as exc:
                assert exc.code == 404


def test_the_dashboard_server_forwards_any_body_the_api_accepts_and_refuses_a_larger_one():
    """The rules studio sends the whole draft (about 75 KB of rules with the glosses): the proxy's limit is the
    API's own (chalicelib.web.MAX_API_BYTES), as CloudFront passes such a body on."""
    from http.server import BaseHTTPRequestHandler

    from chalicelib.web import MAX_API_BYTES

    class Api(BaseHTTPRequestHandler):
        def do_POST(self):
            body = str(len(self.rfile.read(int(self.headers["Content-Length"])))).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with _proxy_before(Api) as base:
        def post(size):
            request = urllib.request.Request(f"{base}/api/config/rules/explain", data=b"x" * size,
                                             headers={"Content-Type": "application/json"}, method="POST")
            with urllib.request.urlopen(request, timeout=10) as res:
                return res.read()
        assert post(100 * 1024) == b"102400"
        assert post(MAX_API_BYTES) == str(MAX_API_BYTES).encode()
        try:
            post(MAX_API_BYTES + 1)
            raise AssertionError("a body over the API's limit was forwarded")
        except urllib.error.HTTPError as exc:
            assert exc.code == 413


def test_the_dashboard_server_lets_a_browser_that_left_go_without_a_traceback():
    """A page closed before its answer was written (a headless browser's last request) ends that request quietly."""
    from infra.dashboard_server import make_handler

    class Gone:
        def write(self, data):
            raise BrokenPipeError(32, "Broken pipe")

    handler = make_handler("http://127.0.0.1:9")
    request = handler.__new__(handler)  # no socket: only what _send uses
    request.request_version, request.command, request.close_connection = "HTTP/1.1", "GET", False
    request.requestline, request.wfile = "GET / HTTP/1.1", Gone()
    request._send(200, b"{}", "application/json")
    assert request.close_connection is True


def test_the_outbox_lists_what_was_sent_newest_first_with_its_case(stack):
    import json
    import subprocess
    import sys
    import urllib.request
    from pathlib import Path

    state, _ = stack
    send_twilio(state, "+447700900008", "L8 the coach hit a cyclist, he is hurt, please help", "+447700900557")
    send_eum(state, "+33639980012", "L12 le chauffeur était très aimable", "+33612340002")
    case = wait_until(lambda: [c for c in stack_api(state, "/api/cases?status=open")["items"]
                               if "cyclist" in c["text"] and {a["status"] for a in c["alerts"]} == {"sent"}])[0]

    def listed():
        with urllib.request.urlopen(state["dashboard_url"] + "/outbox.json", timeout=10) as res:
            items = json.loads(res.read())["items"]
        return items if any(i["channel"] == "reply" and i["to"].startswith("+33")
                            for i in items) else None

    items = wait_until(listed)  # the End User Messaging reply, logged locally, is listed too
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)
    alerts = [i for i in items if (i["case"] or {}).get("id") == case["id"]]
    assert {(i["channel"], i["to"]) for i in alerts} == {(a["channel"], a["to"]) for a in case["alerts"]}
    with urllib.request.urlopen(state["dashboard_url"] + "/outbox", timeout=10) as res:
        page = res.read().decode()
        assert res.headers["Content-Security-Policy"] and "<script" not in page
    assert case["code"] in page and "cyclist" in page
    root = Path(__file__).resolve().parent.parent
    printed = subprocess.run([sys.executable, "-m", "infra.outbox", "--state", state["state_file"]],
                             cwd=root, capture_output=True, text=True, timeout=60)
    assert printed.returncode == 0 and f"case {case['code']}" in printed.stdout


def test_each_thread_of_a_local_process_keeps_its_own_logging_keys():
    """Locally one process runs many "Lambdas" at once: one's function name or correlation id must not
    appear on another's lines."""
    import json
    import logging
    import threading

    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from infra.local_worker import _keys_per_thread

    formatter = LambdaPowertoolsFormatter(service="voix")
    _keys_per_thread(formatter)
    formatter.append_keys(function_name="voix-dev-worker", correlation_id="twilio-SM1")
    lines = []

    def digest():
        formatter.clear_state()
        formatter.append_keys(function_name="voix-dev-send_digests")
        lines.append(formatter.format(logging.LogRecord("voix", logging.INFO, __file__, 1, "daily digests", (), None)))

    thread = threading.Thread(target=digest)
    thread.start()
    thread.join()
    mine = json.loads(formatter.format(logging.LogRecord("voix", logging.INFO, __file__, 1, "batch", (), None)))
    theirs = json.loads(lines[0])
    assert (mine["function_name"], mine["correlation_id"]) == ("voix-dev-worker", "twilio-SM1")
    assert theirs["function_name"] == "voix-dev-send_digests" and "correlation_id" not in theirs
