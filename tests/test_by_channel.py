"""Counting, filtering and reporting by channel, whatever the channels of ``chalicelib.channels``: each message
counted once into ``ch_<channel>`` fields of the items it is counted in already (moto, the ``aws`` fixture), the
metrics' breakdown and ``?channel=`` filter, ``/api/feedback?channel=``, the CSV's channel column and the
digest's breakdown."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import channels
from chalicelib.channels import LogReplySender
from chalicelib.clock import day_key, hour_key, iso
from chalicelib.digest import compose
from chalicelib.storage.counters import counter_key
from chalicelib.storage.dynamo import to_item
from tests.conftest import auth, drain, post_sms, twilio_params

COUNTERS = "voix-dev-counters"


def record_of(channel: str, n: int, at: datetime, nature: str = "compliment") -> dict:
    """A message of ``channel`` as ingest stores it and the worker counts it (no customer: no case, no thread)."""
    return {"id": f"{channel}-test{n:04d}", "channel": channel, "channel_message_id": f"test{n:04d}",
            "counted_by_channel": True, "received_at": iso(at), "hour": hour_key(at), "day": day_key(at),
            "site": "line-8", "topic": "driver", "nature": nature, "urgency": "normal", "language": "en",
            "text": "thank you", "reply": None, "ttl": int((at + timedelta(days=30)).timestamp())}


def counter_fields(db, site: str, bucket: str) -> dict[str, int]:
    item = db.get_item(TableName=COUNTERS, Key=to_item(counter_key(site, bucket)), ConsistentRead=True).get("Item")
    return {k: int(v["N"]) for k, v in (item or {}).items() if "N" in v and k != "ttl"}


def test_a_message_of_each_channel_is_counted_once_by_channel_in_the_items_it_was_counted_in(svc):
    import boto3

    now = datetime.now(UTC).replace(minute=5, second=0, microsecond=0)
    names = channels.names()
    assert {"twilio", "eum"} <= set(names)
    for n, name in enumerate(names):
        record = record_of(name, n, now)
        svc.store.messages.put_message(record)
        svc.worker.process(record)
        svc.worker.process(record)  # a redelivered job: counted once
    db = boto3.client("dynamodb")
    for bucket in (f"H#{hour_key(now)}", f"D#{day_key(now)}"):
        fields = counter_fields(db, "line-8", bucket)
        assert fields["n"] == len(names)
        for name in names:
            assert fields[f"ch_{name}"] == 1 and fields[f"ch_{name}_compliment_normal"] == 1, (bucket, name)
    # the network's shards hold them too, in the items a count wrote already (no item more): hour, day, week, month
    assert sorted(i["pk"]["S"][:4] for i in db.scan(TableName=COUNTERS)["Items"] if not i["pk"]["S"].startswith(
        "CNT#")) == ["MET#"] * 4 + ["NET#"] * (4 * len({_shard(f"{c}-test{n:04d}") for n, c in enumerate(names)}))
    totals = svc.api.metrics({"since": iso(now - timedelta(hours=1)), "until": iso(now + timedelta(minutes=1))})
    assert totals["totals"]["channel"] == dict.fromkeys(names, 1)


def _shard(message_id: str) -> int:
    from chalicelib.storage.counters import shard_of

    return shard_of(message_id)


@pytest.fixture
def by_channel(client, svc):
    """Two Twilio SMS (a complaint, a compliment) and one End User Messaging SMS (a complaint), counted."""
    svc.reply_sender = LogReplySender()
    assert post_sms(client, twilio_params("L8 it's far too hot on this bus", sid="SM" + "a1" * 16)).status_code == 200
    assert post_sms(client, twilio_params("L8 the driver was lovely, thank you", sid="SM" + "a2" * 16,
                                          frm="+447700900124")).status_code == 200
    payload = json.dumps({"originationNumber": "+33612345678", "destinationNumber": "+33639980012",
                          "messageKeyword": "L12", "messageBody": "L12 le car est sale et il fait froid",
                          "inboundMessageId": "6d4d5a3e-0a25-4b9f-9c47-8cbf1d3a00c1"})
    client.lambda_.invoke("inbound_sms", client.events.generate_sns_event(message=payload, subject=""))
    drain()
    return client


def test_metrics_break_down_and_filter_by_channel(by_channel):
    data = by_channel.http.get("/api/metrics", headers=auth()).json_body
    assert data["totals"]["messages"] == 3
    assert data["totals"]["channel"] == {**dict.fromkeys(channels.names(), 0), "twilio": 2, "eum": 1}
    assert sum(b["channel"]["twilio"] for b in data["series"]) == 2
    assert data["sites"]["line-12"]["channel"]["eum"] == 1

    eum = by_channel.http.get("/api/metrics?channel=eum", headers=auth()).json_body
    assert eum["filters"]["channel"] == "eum"
    assert eum["totals"]["messages"] == 1 and eum["totals"]["nature"]["complaint"] == 1
    assert eum["totals"]["topic"] is None and eum["totals"]["language"] is None  # not counted per channel
    assert eum["totals"]["channel"] == {**dict.fromkeys(channels.names(), 0), "eum": 1}
    compliments = by_channel.http.get("/api/metrics?channel=twilio&nature=compliment", headers=auth()).json_body
    assert compliments["totals"]["messages"] == 1
    complaints = by_channel.http.get("/api/metrics?nature=complaint", headers=auth()).json_body
    assert complaints["totals"]["channel"]["twilio"] == 1 and complaints["totals"]["channel"]["eum"] == 1
    topic = by_channel.http.get("/api/metrics?topic=comfort", headers=auth()).json_body
    assert topic["totals"]["channel"] is None  # channels are not counted per topic

    empty = by_channel.http.get("/api/metrics?channel=eum&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z",
                                headers=auth()).json_body["totals"]
    assert empty["messages"] == 0 and empty["topic"] is None  # null even with nothing counted
    assert by_channel.http.get("/api/metrics?topic=comfort&since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z",
                               headers=auth()).json_body["totals"]["channel"] is None
    refused = by_channel.http.get("/api/metrics?channel=pigeon", headers=auth())
    assert refused.status_code == 400 and "unknown channel 'pigeon'" in refused.json_body["error"]
    both = by_channel.http.get("/api/metrics?channel=eum&topic=comfort", headers=auth())
    assert both.status_code == 400 and "topics are not counted per channel" in both.json_body["error"]


def test_feedback_and_the_csv_filter_by_channel_and_show_it(by_channel):
    eum = by_channel.http.get("/api/feedback?channel=eum", headers=auth()).json_body["items"]
    assert [(i["channel"], i["site"]) for i in eum] == [("eum", "line-12")]
    twilio = by_channel.http.get("/api/feedback?channel=twilio&site=line-8&nature=complaint", headers=auth())
    assert [i["text"] for i in twilio.json_body["items"]] == ["L8 it's far too hot on this bus"]
    assert by_channel.http.get("/api/feedback?channel=eum&site=line-8", headers=auth()).json_body["items"] == []
    refused = by_channel.http.get("/api/feedback?channel=pigeon", headers=auth())
    assert refused.status_code == 400 and refused.json_body["error"].startswith("channel: unknown channel 'pigeon'")

    rows = list(csv.DictReader(io.StringIO(by_channel.http.get("/api/export.csv", headers=auth()).body.decode())))
    assert sorted(r["channel"] for r in rows) == ["eum", "twilio", "twilio"]
    only = by_channel.http.get("/api/export.csv?channel=eum", headers=auth()).body.decode()
    assert [r["channel"] for r in csv.DictReader(io.StringIO(only))] == ["eum"]


def test_a_correction_moves_the_channel_counts_too(by_channel, svc):
    [item] = by_channel.http.get("/api/feedback?channel=eum", headers=auth()).json_body["items"]
    response = by_channel.http.patch(f"/api/feedback/{item['id']}", body=json.dumps({"nature": "suggestion"}),
                                     headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 200
    eum = by_channel.http.get("/api/metrics?channel=eum", headers=auth()).json_body["totals"]
    assert eum["messages"] == 1 and eum["nature"]["complaint"] == 0 and eum["nature"]["suggestion"] == 1


def test_the_digest_breaks_down_by_channel_with_each_channel_s_label():
    def metrics(by):
        return {"totals": {"messages": sum(by.values()), "nature": dict.fromkeys(
            ["complaint", "compliment", "suggestion", "question"], 0), "urgency": {"high": 0},
            "acknowledged": 0, "median_seconds_to_acknowledge": None,
            "promises": {"kept": 0, "missed": 0, "share_kept": None}, "channel": by}}

    labels = {name: channels.get(name).label for name in channels.names()}
    assert labels["twilio"] == "SMS (Twilio)" and labels["eum"] == "SMS (End User Messaging)"
    _, body = compose("Leeds", "2026-12-03", metrics({"twilio": 6, "eum": 0}), metrics({"twilio": 4, "eum": 2}),
                      [], [])
    section = body.split("By channel:\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[-3:] for line in section] == [["0", "2", "-100%"], ["6", "4", "+50%"]]
    assert section[0].strip().startswith("SMS (End User Messaging)") and section[1].strip().startswith("SMS (Twilio)")
    _, quiet = compose("Leeds", "2026-12-03", metrics({"twilio": 0}), metrics({"twilio": 0}), [], [])
    assert "By channel" not in quiet
    _, french = compose("Leeds", "2026-12-03", metrics({"twilio": 6, "eum": 0}), metrics({"twilio": 4, "eum": 2}),
                        [], [], lang="fr")
    assert "Par canal :\n  SMS (End User Messaging)" in french


def test_a_message_counted_before_channels_were_is_in_no_channel_count_nor_is_its_correction(svc):
    import boto3

    now = datetime.now(UTC).replace(minute=5, second=0, microsecond=0)
    record = {k: v for k, v in record_of("twilio", 9999, now, nature="complaint").items() if k != "counted_by_channel"}
    svc.store.messages.put_message(record)
    svc.worker.process(record)
    svc.api.correct_message(record["id"], {"nature": "suggestion"})
    fields = counter_fields(boto3.client("dynamodb"), "line-8", f"H#{hour_key(now)}")
    assert fields["n"] == 1 and fields["nature_suggestion"] == 1 and fields["nature_complaint"] == 0
    assert not [f for f in fields if f.startswith("ch_")]
