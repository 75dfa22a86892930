"""Incidents (emerging issues, ``chalicelib/incidents.py``) and the counter reads that find them.

=====================  ====================================  ============================================
item                   pk / sk                               holds
=====================  ====================================  ============================================
incident               INC#<id> / INC                        one rise of a topic at a site (or the network)
                       gsi1: INCIDENTS#<status> / <opened>#<id>  listed by status, newest first
                       recipients.<id>.claimed               its alert to one recipient, claimed once
=====================  ====================================  ============================================

An incident is opened once (a put refused if its id, from its site, topic and opening hour, is there); its
size is bounded (three examples, each a message id only: no text or number is copied, so an erased customer's
message cannot come back through an incident; a few recipients) and its TTL is the retention.

The counter reads are by key only (``BatchGetItem`` of 100 keys): a site's hour and week items, and the
network's 8 shards of each summed, never a query or a scan; what the counting transaction writes is not changed here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chalicelib.errors import NotFound
from chalicelib.incidents import NETWORK
from chalicelib.storage.counters import SHARDS, counter_key, network_key
from chalicelib.storage.dynamo import Dynamo, from_item, plain_numbers, to_item

LAYOUT = {"pk", "sk", "type", "gsi1pk", "gsi1sk"}


def incident_key(incident_id: str) -> dict[str, str]:
    if not incident_id.isalnum() or len(incident_id) > 40:
        raise NotFound("no such incident")
    return {"pk": f"INC#{incident_id}", "sk": "INC"}


def _record(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in plain_numbers(from_item(item)).items() if k not in LAYOUT}


def _decimals(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _decimals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decimals(v) for v in value]
    return value


class IncidentStore(Dynamo):
    """Incidents, opened once, acknowledged, closed; and the hour counters they are read from."""

    def hour_counts(self, sites: list[str], hours: list[str], fields: list[str]
                    ) -> dict[tuple[str, str], dict[str, int]]:
        """Counts by (site, hour) (``hours``: ``YYYY-MM-DDTHH``); the scope ``_network`` is the 8 network shards
        summed. Absent when the item is: nothing was counted there."""
        return self._counts(sites, [f"H#{h}" for h in hours], fields)

    def week_counts(self, sites: list[str], weeks: list[str], fields: list[str]
                    ) -> dict[tuple[str, str], dict[str, int]]:
        """Counts by (site, ISO week) (``weeks``: ``YYYY-Www``), as ``hour_counts``: one item a site and week."""
        return self._counts(sites, [f"W#{w}" for w in weeks], fields)

    def _counts(self, sites: list[str], buckets: list[str], fields: list[str]
                ) -> dict[tuple[str, str], dict[str, int]]:
        wanted = set(fields)
        keys: list[dict[str, str]] = []
        for site in dict.fromkeys(sites):
            for bucket in buckets:
                if site == NETWORK:
                    keys += [network_key(s, bucket) for s in range(SHARDS)]
                else:
                    keys.append(counter_key(site, bucket))
        out: dict[tuple[str, str], dict[str, int]] = {}
        for item in self._batch_get(self._counters, keys):
            pk, bucket = item["pk"]["S"], item["sk"]["S"][2:]
            scope = NETWORK if pk.startswith("NET#") else pk.split("#")[1]
            sums = out.setdefault((scope, bucket), {})
            for field, value in item.items():
                if field in wanted and "N" in value:
                    sums[field] = sums.get(field, 0) + int(value["N"])
        return out

    def open_incident(self, incident: dict[str, Any]) -> bool:
        """Store a new incident; False if it is there (an earlier check opened it)."""
        examples = [{"id": str(e["id"])} for e in incident.get("examples") or [] if e.get("id")]
        item = {**incident_key(incident["id"]), "type": "incident", **_decimals(incident), "examples": examples,
                "gsi1pk": f"INCIDENTS#{incident['status']}", "gsi1sk": f"{incident['opened_at']}#{incident['id']}"}
        return self._if("put_item", Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def get_incident(self, incident_id: str) -> dict[str, Any] | None:
        found = self._get(incident_key(incident_id), plain=False)
        return None if found is None else {k: v for k, v in plain_numbers(found).items() if k not in LAYOUT}

    def incidents(self, status: str, limit: int) -> list[dict[str, Any]]:
        """Incidents in one status, newest first (at most ``limit``)."""
        out: list[dict[str, Any]] = []
        for item in self._query_pages(IndexName="gsi1", KeyConditionExpression="gsi1pk = :pk",
                                      ScanIndexForward=False, Limit=min(limit, 100),
                                      ExpressionAttributeValues=to_item({":pk": f"INCIDENTS#{status}"})):
            out.append(_record(item))
            if len(out) >= limit:
                break
        return out

    def set_status(self, incident_id: str, *, allowed_from: list[str], to_status: str, at: str,
                   by: str | None = None) -> dict[str, Any]:
        """Move an incident on (open -> acknowledged -> closed); NotFound, or Conflict naming its status."""
        values: dict[str, Any] = {":to": to_status, ":at": at, ":gpk": f"INCIDENTS#{to_status}",
                                  **{f":f{i}": s for i, s in enumerate(allowed_from)}}
        sets = ["#status = :to", f"{to_status}_at = :at", "gsi1pk = :gpk"]
        if by:
            sets.append(f"{to_status}_by = :by")
            values[":by"] = by
        allowed = ", ".join(f":f{i}" for i in range(len(allowed_from)))
        found = self._change_status(incident_key(incident_id), UpdateExpression="SET " + ", ".join(sets),
                                    ConditionExpression=f"attribute_exists(pk) AND #status IN ({allowed})",
                                    ExpressionAttributeValues=to_item(values))
        return {k: v for k, v in found.items() if k not in LAYOUT}

    def mark_normal(self, incident_id: str, at: str) -> None:
        """An open incident back to normal (it keeps its banner until acknowledged, but a new rise opens anew)."""
        self._call("update_item", Key=to_item(incident_key(incident_id)), UpdateExpression="SET normal_at = :at",
                   ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues=to_item({":at": at}))

    def mark_alerted(self, incident_id: str) -> None:
        self._call("update_item", Key=to_item(incident_key(incident_id)), UpdateExpression="SET alerted = :yes",
                   ConditionExpression="attribute_exists(pk)", ExpressionAttributeValues=to_item({":yes": True}))

    def claim_alert(self, incident_id: str, recipient_id: str, at: str) -> bool:
        """Claim the sending of the incident's alert to one recipient; False if it was claimed (sent) before."""
        return self._if("update_item", Key=to_item(incident_key(incident_id)),
                        UpdateExpression="SET recipients.#r.claimed = :at",
                        ConditionExpression="attribute_exists(recipients.#r) AND "
                                            "attribute_not_exists(recipients.#r.claimed)",
                        ExpressionAttributeNames={"#r": recipient_id}, ExpressionAttributeValues=to_item({":at": at}))

    def release_alert(self, incident_id: str, recipient_id: str) -> None:
        """Not sent after all: a retry of the job may claim it again."""
        self._call("update_item", Key=to_item(incident_key(incident_id)),
                   UpdateExpression="REMOVE recipients.#r.claimed",
                   ExpressionAttributeNames={"#r": recipient_id})
