"""Live configuration (issue 22): sites, rules, replies and routing changed without a redeploy.

The configuration is four sections, each the data of its TOML file (``sites.toml``, ``rules.toml``,
``replies.toml``, ``routing.toml``). Every publish is a new immutable version of the whole configuration,
numbered 1, 2, 3...: one section's new data (validated by the same pydantic models as the files, and the
whole configuration cross-checked and its rules compiled, before anything is stored), its author, time,
comment and the diff against the version before, and the manifest saying which version holds each section.
A publish names the version it was based on: if another was published since, it is refused (409) and
nothing is lost. Rollback to any version is a publish of that version's sections. Until the first publish
the shipped files are version 1 (stored with the first change; reading stores nothing).

Pure Python over the ``ConfigVersions`` port: the DynamoDB layout is in ``chalicelib/storage/config_versions.py``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from chalicelib.clock import iso, utcnow
from chalicelib.configuration import Config, RepliesFile, RoutingFile, RulesFile, SitesFile
from chalicelib.errors import ApiError

# section -> (Config field, model, file)
SECTIONS: dict[str, tuple[str, Any, str]] = {
    "sites": ("sites_file", SitesFile, "sites.toml"),
    "rules": ("rules", RulesFile, "rules.toml"),
    "replies": ("replies", RepliesFile, "replies.toml"),
    "routing": ("routing", RoutingFile, "routing.toml"),
}
SEED_AUTHOR, SEED_COMMENT = "the shipped files", "version 1: the shipped files"
DIFF_KEPT = 100  # changed paths kept with a version (the count says how many there were)
MAX_ERRORS = 50


class InvalidConfig(ApiError):
    """The data is not a valid configuration: every problem, each with its path."""

    def __init__(self, problems: list[str]):
        self.problems = problems[:MAX_ERRORS]
        super().__init__(400, "invalid configuration: " + "; ".join(self.problems))


class StaleVersion(ApiError):
    def __init__(self, base: int, latest: int):
        super().__init__(409, f"version {base} is not the latest ({latest}): another change was published "
                              "meanwhile; read it again and apply yours to it")


def path_of(loc: tuple[Any, ...], root: str = "") -> str:
    """pydantic's location as an operator reads it: ``sites[2].staff_sms[0]``."""
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("function-after", "function-before", "function-wrap") or str(part).startswith("function-"):
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def problems_of(exc: ValidationError, root: str = "") -> list[str]:
    problems = []
    for error in exc.errors():
        message = str(error.get("msg") or "invalid")
        for prefix in ("Value error, ", "Assertion failed, "):
            message = message.removeprefix(prefix)
        problems.append(f"{path_of(tuple(error.get('loc') or ()), root)}: {message}")
    return problems


def build(raw: dict[str, dict[str, Any]]) -> Config:
    """A whole configuration from the data of its four sections: every problem, with its path, or the Config
    (cross-checked, its rules compiled as the classifier will use them)."""
    from chalicelib.classification import Classifier

    parts: dict[str, Any] = {}
    problems: list[str] = []
    for section, (field, model, _) in SECTIONS.items():
        if not isinstance(raw.get(section), dict):
            problems.append(f"{section}: missing")
            continue
        try:
            parts[field] = model.model_validate(raw[section])
        except ValidationError as exc:
            problems += problems_of(exc)
    if problems:
        raise InvalidConfig(problems)
    try:
        config = Config(**parts)
    except ValidationError as exc:
        raise InvalidConfig(problems_of(exc)) from exc
    try:
        Classifier(config)
    except ValueError as exc:
        raise InvalidConfig([f"rules: {exc}"]) from exc
    return config


def diff(old: Any, new: Any, path: str = "") -> list[dict[str, Any]]:
    """What changed from ``old`` to ``new``: one entry per changed leaf (or added / removed branch)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[dict[str, Any]] = []
        for key in sorted(set(old) | set(new), key=str):
            where = f"{path}.{key}" if path else str(key)
            if key not in old:
                out.append({"path": where, "old": None, "new": new[key]})
            elif key not in new:
                out.append({"path": where, "old": old[key], "new": None})
            else:
                out += diff(old[key], new[key], where)
        return out
    if isinstance(old, list) and isinstance(new, list) and old != new:
        out = []
        for i in range(max(len(old), len(new))):
            if i >= len(old):
                out.append({"path": f"{path}[{i}]", "old": None, "new": new[i]})
            elif i >= len(new):
                out.append({"path": f"{path}[{i}]", "old": old[i], "new": None})
            else:
                out += diff(old[i], new[i], f"{path}[{i}]")
        return out
    return [] if old == new else [{"path": path, "old": old, "new": new}]


class ConfigService:
    """The versions of the configuration: read, publish (validated, against the latest), history, rollback."""

    def __init__(self, *, store: Any, seed: Callable[[], dict[str, dict[str, Any]]],
                 now: Callable[[], datetime] = utcnow):
        self._store = store
        self._seed = seed  # the shipped files' data: version 1 until something is published
        self._now = now

    def head(self) -> tuple[int, dict[str, int]]:
        """The latest version and which version holds each section: the shipped files are version 1 until
        something is published (they are stored then, with the first change, so history and rollback name them;
        reading stores nothing)."""
        head = self._store.head()
        if head is None:
            return 1, dict.fromkeys(SECTIONS, 1)
        return int(head["version"]), dict(head["sections"])

    def sections(self, manifest: dict[str, int]) -> dict[str, dict[str, Any]]:
        if self._store.head() is None:  # nothing published: the shipped files
            return {s: data for s, data in self._seed().items() if s in manifest}
        return self._store.section_data(manifest)

    def section(self, name: str) -> tuple[int, dict[str, Any]]:
        if name not in SECTIONS:
            raise ApiError(404, f"no configuration section {name!r} (sites, rules, replies, routing)")
        version, manifest = self.head()
        return version, self.sections({name: manifest[name]})[name]

    def publish(self, name: str, data: Any, *, base_version: int, author: str, comment: str = "") -> dict[str, Any]:
        """Publish a section's new data as the next version; InvalidConfig (400) or StaleVersion (409)."""
        if name not in SECTIONS:
            raise ApiError(404, f"no configuration section {name!r} (sites, rules, replies, routing)")
        if not isinstance(data, dict):
            raise InvalidConfig([f"{name}: must be an object, as the TOML file is"])
        latest, manifest = self.head()
        if base_version != latest:
            raise StaleVersion(base_version, latest)
        current = self.sections(manifest)
        build({**current, name: data})  # the whole configuration must hold with it
        changes = diff(current[name], data)
        if not changes:
            raise ApiError(409, f"nothing changed in {name} since version {latest}")
        self._store_seed()
        return self._store.publish(
            version=latest + 1, base=latest, sections={name: data}, manifest=manifest, author=author[:120],
            at=iso(self._now()), comment=(comment or "")[:500], changes=changes[:DIFF_KEPT], changed=len(changes))

    def rollback(self, version: int, *, author: str, comment: str = "") -> dict[str, Any]:
        """Publish the configuration as it was at ``version`` (its sections' data) as the next version."""
        latest, manifest = self.head()
        old = self._store.version(version)
        if old is None:
            raise ApiError(404, f"no configuration version {version}")
        then = self._store.section_data(old["sections"])
        now = self.sections(manifest)
        build(then)  # still valid (the models may have moved on since)
        changed = {s: then[s] for s in SECTIONS if then[s] != now[s]}
        if not changed:
            raise ApiError(409, f"version {latest} is the same as version {version}: nothing to roll back")
        changes = [c for s in changed for c in diff(now[s], then[s], s)]
        return self._store.publish(
            version=latest + 1, base=latest, sections=changed, manifest=manifest, author=author[:120],
            at=iso(self._now()), comment=(comment or f"rollback to version {version}")[:500],
            changes=changes[:DIFF_KEPT], changed=len(changes), rollback_of=version)

    def history(self, limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
        if self._store.head() is None:  # nothing published: the shipped files, not stored yet
            return [] if before is not None and before <= 1 else [{
                "version": 1, "author": SEED_AUTHOR, "at": None, "comment": SEED_COMMENT, "changed": 0,
                "changes": [], "sections": dict.fromkeys(SECTIONS, 1), "touched": sorted(SECTIONS),
                "rollback_of": None}]
        return self._store.history(limit, before)

    def _store_seed(self) -> None:
        """Before the first change: the shipped files stored as version 1 (once, whoever comes first)."""
        if self._store.head() is not None:
            return
        raw = self._seed()
        build(raw)
        with contextlib.suppress(StaleVersion):  # seeded meanwhile by another container: the same files
            self._store.publish(version=1, base=0, sections=raw, manifest={}, author=SEED_AUTHOR,
                                at=iso(self._now()), comment=SEED_COMMENT, changes=[], changed=0)
