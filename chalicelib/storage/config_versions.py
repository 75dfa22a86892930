"""The versions of the live configuration (issue 22): ``CONFIG`` / ``HEAD`` (the latest version and which version
holds each section), ``CONFIG`` / ``V#<version>`` (who published it, when, why, what changed) and
``CONFIG#<section>`` / ``V#<version>`` (that section's data, zlib-compressed JSON: 2,000 sites stay far within
an item's 400 KB). Versions and section data are immutable: read once per container and kept."""

from __future__ import annotations

import json
import zlib
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import Unavailable
from chalicelib.storage.dynamo import Dynamo, from_item, plain_numbers, to_item

HEAD = {"pk": "CONFIG", "sk": "HEAD"}


def version_key(version: int) -> dict[str, str]:
    return {"pk": "CONFIG", "sk": f"V#{version:08d}"}


def section_key(section: str, version: int) -> dict[str, str]:
    return {"pk": f"CONFIG#{section}", "sk": f"V#{version:08d}"}


def _pack(value: Any) -> bytes:
    return zlib.compress(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def _unpack(blob: Any) -> Any:
    return json.loads(zlib.decompress(bytes(blob)).decode())


class ConfigVersionStore(Dynamo):
    """Configuration versions: published once each, in order, against the latest (a stale base is refused)."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._sections: dict[tuple[str, int], dict[str, Any]] = {}  # immutable: kept once read

    def head(self) -> dict[str, Any] | None:
        """``{"version": n, "sections": {section: version}}``, or None before the first publish."""
        item = self._get(HEAD)
        return {"version": int(item["version"]), "sections": item["sections"]} if item else None

    def head_version(self) -> int | None:
        """The latest version only (the live reload's check: one small GetItem)."""
        res = self._call("get_item", Key=to_item(HEAD), ConsistentRead=True, ProjectionExpression="version")
        return int(res["Item"]["version"]["N"]) if "Item" in res else None

    def section_data(self, manifest: dict[str, int]) -> dict[str, dict[str, Any]]:
        missing = [(s, int(v)) for s, v in manifest.items() if (s, int(v)) not in self._sections]
        for item in self._batch_get(self._table, [section_key(s, v) for s, v in missing], consistent=True):
            got = from_item(item)
            self._sections[(got["pk"].split("#", 1)[1], int(got["version"]))] = _unpack(got["data_z"])
        out = {}
        for section, version in manifest.items():
            if (section, int(version)) not in self._sections:
                raise Unavailable(f"configuration {section} version {version} is not stored")
            out[section] = json.loads(json.dumps(self._sections[(section, int(version))]))  # a copy to change
        return out

    def version(self, version: int) -> dict[str, Any] | None:
        item = self._get(version_key(version))
        return self._public(item) if item else None

    def history(self, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
        upper = f"V#{(before if before is not None else 10**8):08d}"
        res = self._call("query", KeyConditionExpression="pk = :pk AND sk BETWEEN :lo AND :hi",
                         ExpressionAttributeValues=to_item({":pk": "CONFIG", ":lo": "V#", ":hi": upper}),
                         ScanIndexForward=False, Limit=limit + 1)
        items = [plain_numbers(from_item(i)) for i in res.get("Items", [])]
        return [self._public(i) for i in items if before is None or int(i["version"]) < before][:limit]

    def publish(self, *, version: int, base: int, sections: dict[str, dict[str, Any]], manifest: dict[str, int],
                author: str, at: str, comment: str, changes: list[dict[str, Any]], changed: int,
                rollback_of: int | None = None) -> dict[str, Any]:
        """Store ``version`` (the sections it changes, and its record) and make it the latest, in one
        transaction that holds only if the latest is still ``base``; StaleVersion otherwise."""
        from chalicelib.live_config import StaleVersion

        new_manifest = {**{s: int(v) for s, v in manifest.items()}, **dict.fromkeys(sections, version)}
        record = {**version_key(version), "type": "config_version", "version": version, "base": base,
                  "author": author, "at": at, "comment": comment, "changed": changed,
                  "changes_z": _pack(changes), "touched": sorted(sections), "sections": new_manifest,
                  **({"rollback_of": rollback_of} if rollback_of else {})}
        new = "attribute_not_exists(pk)"
        head = {**HEAD, "type": "config_head", "version": version, "sections": new_manifest}
        latest = {"ConditionExpression": new} if base == 0 else {
            "ConditionExpression": "version = :base", "ExpressionAttributeValues": to_item({":base": base})}
        writes: list[dict[str, Any]] = [
            {"Put": {"TableName": self._table, "Item": to_item(record), "ConditionExpression": new}},
            *({"Put": {"TableName": self._table, "ConditionExpression": new, "Item": to_item({
                **section_key(s, version), "type": "config_section", "version": version, "data_z": _pack(data)})}}
              for s, data in sections.items()),
            {"Put": {"TableName": self._table, "Item": to_item(head), **latest}},
        ]
        try:
            self._db.transact_write_items(TransactItems=writes)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                latest = self.head()
                raise StaleVersion(base, latest["version"] if latest else 0) from exc
            raise Unavailable(f"DynamoDB transact_write_items failed: {exc}") from exc
        except BotoCoreError as exc:
            raise Unavailable(f"DynamoDB transact_write_items failed: {exc}") from exc
        for section, data in sections.items():
            self._sections[(section, version)] = json.loads(json.dumps(data))
        return self._public(plain_numbers(from_item(to_item(record))))

    @staticmethod
    def _public(item: dict[str, Any]) -> dict[str, Any]:
        return {"version": int(item["version"]), "author": item.get("author"), "at": item.get("at"),
                "comment": item.get("comment") or "", "changed": int(item.get("changed") or 0),
                "changes": _unpack(item["changes_z"]) if item.get("changes_z") is not None else [],
                "sections": {s: int(v) for s, v in (item.get("sections") or {}).items()},
                "touched": list(item.get("touched") or []), "rollback_of": item.get("rollback_of")}
