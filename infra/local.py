"""The whole Voix stack on one machine: moto (server mode), `chalice local` and a local worker.

`make run` starts this. Resources come from infra/template.yaml, created through
moto's CloudFormation, exactly as the cloud deploy creates them.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STATE_FILE = Path(os.environ.get("VOIX_STATE_FILE") or ROOT / ".local" / "stack.json")
INBOUND_QUEUE = "voix-dev-inbound-local"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stage_environment(stage: str = "dev") -> dict[str, str]:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    merged = dict(config.get("environment_variables", {}))
    merged.update(config["stages"][stage].get("environment_variables", {}))
    return merged


def wait_for(url: str, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as res:
                if res.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s")


def inbound_email(boto3: Any, sqs: Any, sns: Any, outputs: dict[str, str]) -> tuple[str, str, str]:
    """SES receiving, locally: the template's inbound e-mail topic (subscribed through a queue, as SMS), its
    bucket, and the sending identities of the configured addresses (moto's SES refuses an unverified sender)."""
    from chalicelib.channels.email import own_addresses
    from chalicelib.config_loader import get_config

    topic, bucket = outputs["InboundEmailTopicArn"], outputs["InboundEmailBucketName"]
    os.environ.update(INBOUND_EMAIL_BUCKET=bucket, INBOUND_EMAIL_TOPIC=topic.rpartition(":")[2])
    for domain in sorted({a.rpartition("@")[2] for a in own_addresses(get_config())}):
        if domain != "example.com":  # the alerts' identity is there already
            boto3.client("sesv2").create_email_identity(EmailIdentity=domain)
    url = sqs.create_queue(QueueName=INBOUND_QUEUE + "-email")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, topic, sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    dashboard_port = int(os.environ.get("DASHBOARD_PORT") or port + 1)
    moto_port = int(os.environ.get("MOTO_PORT") or free_port())
    operator_token = os.environ.get("OPERATOR_TOKEN") or secrets.token_urlsafe(24)
    twilio_token = os.environ.get("TWILIO_AUTH_TOKEN") or secrets.token_hex(16)
    twilio_account = os.environ.get("TWILIO_ACCOUNT_SID") or "AC" + secrets.token_hex(16)
    endpoint = f"http://127.0.0.1:{moto_port}"
    for name, wanted in (("PORT", port), ("DASHBOARD_PORT", dashboard_port)):
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", wanted)) == 0:
                print(f"port {wanted} is already in use: stop what runs there, or set {name}=<another port>",
                      file=sys.stderr)
                return 2

    env = {
        **stage_environment("dev"),
        "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": "eu-west-2",
        "AWS_REGION": "eu-west-2", "AWS_ENDPOINT_URL": endpoint, "PORT": str(port),
        "TWILIO_AUTH_TOKEN": twilio_token, "TWILIO_ACCOUNT_SID": twilio_account,
        "TWILIO_WEBHOOK_URL": f"http://127.0.0.1:{port}/sms/twilio", "VOIX_LOCAL": "1",
        "OPERATOR_TOKEN_SHA256": hashlib.sha256(operator_token.encode()).hexdigest(),
        "CUSTOMER_KEY_SECRET": os.environ.get("CUSTOMER_KEY_SECRET") or secrets.token_hex(32),
        "LINK_SIGNING_KEY": os.environ.get("LINK_SIGNING_KEY") or secrets.token_hex(32),
        "REPLY_SENDER": "log", "POWERTOOLS_TRACE_DISABLED": "true", "SQS_PARTIAL_BATCH": "true",
        "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO"),
    }
    os.environ.update(env)
    from infra.local_worker import local_logging, log

    local_logging(os.environ.get("LOG_LEVEL", "INFO"))

    from moto.server import ThreadedMotoServer

    from infra import moto_speedups

    moto_speedups.apply()
    from infra.outbox import Outbox, listing

    outbox = Outbox()
    outbox.install()  # what moto's SNS and SES accept, and the logged replies: /outbox, `make outbox`
    from infra.twilio_standin import TwilioStandIn

    # staff replies on Twilio go to a local stand-in of its Messages API, which posts signed status callbacks
    twilio_api = TwilioStandIn(twilio_account, twilio_token, outbox)
    os.environ["TWILIO_API_URL"] = os.environ.get("TWILIO_API_URL") or twilio_api.start()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
    moto.start()
    import boto3

    from infra.resources import create_stack

    outputs = create_stack(boto3.client("cloudformation"), "dev")
    boto3.client("sesv2").create_email_identity(EmailIdentity="example.com")
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    inbound_url = sqs.create_queue(QueueName=INBOUND_QUEUE)["QueueUrl"]
    inbound_arn = sqs.get_queue_attributes(QueueUrl=inbound_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    topic_arn = outputs["InboundSmsTopicArn"]
    subscription_arn = sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=inbound_arn)["SubscriptionArn"]
    email_url, email_topic_arn, email_subscription = inbound_email(boto3, sqs, sns, outputs)

    chalice = subprocess.Popen(
        [sys.executable, "-m", "infra.chalice_local", "local", "--host", "127.0.0.1", "--port", str(port),
         "--stage", "dev", "--no-autoreload"],
        cwd=ROOT, env=os.environ.copy(),
    )
    stopping = threading.Event()

    def stop(*_):
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        wait_for(f"http://127.0.0.1:{port}/health", 60)
        sys.path.insert(0, str(ROOT))
        import app as voix
        from infra.local_scheduler import Scheduler, schedules_of
        from infra.local_worker import drain_jobs, drain_sns_queue

        def jobs_loop():
            while not stopping.is_set():
                try:
                    drain_jobs(sqs, outputs["JobsQueueUrl"], voix.worker, wait=1, max_batches=50,
                               retry_after=lambda n: min(2 ** n, 30))
                except Exception:
                    log.exception("local worker error")
                    time.sleep(1)

        def inbound_loop(url, handler, subscription, function):
            while not stopping.is_set():
                try:
                    drain_sns_queue(sqs, url, handler, wait=1, subscription_arn=subscription, function_name=function)
                except Exception:
                    log.exception("local inbound error", extra={"function": function})
                    time.sleep(1)

        # EventBridge: every @app.schedule of app.py, fired when due (infra/local_scheduler.py)
        scheduler = Scheduler(schedules_of(voix.app, voix), region=env["AWS_REGION"])
        for target in (jobs_loop, lambda: scheduler.run(stopping),
                       lambda: inbound_loop(inbound_url, voix.inbound_sms, subscription_arn, "voix-dev-inbound_sms"),
                       lambda: inbound_loop(email_url, voix.inbound_email, email_subscription,
                                            "voix-dev-inbound_email")):
            threading.Thread(target=target, daemon=True).start()

        from infra.dashboard_server import serve

        dashboard = serve(dashboard_port, f"http://127.0.0.1:{port}",
                          outbox=lambda limit: listing(outbox, voix.services().store.cases, limit))
        STATE_FILE.parent.mkdir(exist_ok=True)
        STATE_FILE.write_text(json.dumps({
            "api_url": f"http://127.0.0.1:{port}", "dashboard_url": f"http://127.0.0.1:{dashboard_port}",
            "webhook_url": env["TWILIO_WEBHOOK_URL"],
            "operator_token": operator_token, "twilio_auth_token": twilio_token,
            "twilio_account_sid": twilio_account, "moto_endpoint": endpoint,
            "inbound_sms_topic_arn": topic_arn, "jobs_queue_url": outputs["JobsQueueUrl"],
            "inbound_email_topic_arn": email_topic_arn, "inbound_email_bucket": os.environ["INBOUND_EMAIL_BUCKET"],
            "twilio_api_url": os.environ["TWILIO_API_URL"],
        }, indent=2))
        os.chmod(STATE_FILE, 0o600)

        if os.environ.get("DEMO", "1") != "0":
            from infra.simulate import send_demo

            sent = send_demo(json.loads(STATE_FILE.read_text()), count=int(os.environ.get("DEMO_COUNT", "40")))
            log.info("demo data: %d messages sent through the signed webhook", sent)

        print(f"""
Voix is running locally (moto {endpoint}).
  Dashboard          http://127.0.0.1:{dashboard_port}   (sign in with the operator token)
  Outbox             http://127.0.0.1:{dashboard_port}/outbox   (SMS and e-mails sent; `make outbox`)
  API URL            http://127.0.0.1:{port}
  API docs           http://127.0.0.1:{dashboard_port}/api.html   (OpenAPI 3.1: /api/openapi.json)
  Twilio webhook     {env["TWILIO_WEBHOOK_URL"]}
  E-mail (SES)       topic {email_topic_arn.rpartition(":")[2]}, bucket {os.environ["INBOUND_EMAIL_BUCKET"]}/inbound/
  Operator token     {operator_token}
  Twilio auth token  {twilio_token}
  Twilio account     {twilio_account}  (requests from another account are refused)
  Twilio API         {os.environ["TWILIO_API_URL"]}   (a local stand-in: staff replies, status callbacks)
Try:  curl -H "Authorization: Bearer {operator_token}" http://127.0.0.1:{port}/api/feedback
      make simulate      (a signed stream of realistic SMS, and e-mails as SES receiving delivers them)
Stop with Ctrl-C.  (Details in {STATE_FILE})
READY""", flush=True)
        while not stopping.wait(0.5):
            if chalice.poll() is not None:
                log.error("chalice local exited with %s", chalice.returncode)
                return 1
        return 0
    finally:
        stopping.set()
        chalice.terminate()
        try:
            chalice.wait(10)
        except subprocess.TimeoutExpired:
            chalice.kill()
        if "dashboard" in locals():
            dashboard.shutdown()
        moto.stop()
        twilio_api.stop()


if __name__ == "__main__":
    sys.exit(main())
