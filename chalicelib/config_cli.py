"""``python -m chalicelib config export|import|diff``: the live configuration and its TOML files (issue 22).

The TOML files stay the import and export format: ``export`` writes the latest version's four files into a
folder, ``diff`` says what a folder would change, ``import`` publishes each section of a folder that differs as
a new version (validated as the API validates it). They talk to the deployment's DynamoDB table
(``TABLE_NAME``, and ``AWS_ENDPOINT_URL`` for the local stack's moto).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from chalicelib.errors import ApiError


def add_parser(commands: Any) -> None:
    config = commands.add_parser("config", help="the live configuration: export, import or diff its TOML files")
    action = config.add_subparsers(dest="action", required=True)
    export = action.add_parser("export", help="write the latest version's TOML files into a folder")
    export.add_argument("folder")
    for name, text in (("diff", "what a folder's TOML files would change"),
                       ("import", "publish a folder's TOML files (each changed section a new version)")):
        sub = action.add_parser(name, help=text)
        sub.add_argument("folder", nargs="?", default=None, help="default: the shipped files")
        if name == "import":
            sub.add_argument("--by", default="cli", help="who publishes (the history says)")
            sub.add_argument("--comment", default="imported from TOML files")


def _service() -> Any:
    from chalicelib.config_loader import read_raw
    from chalicelib.live_config import ConfigService
    from chalicelib.services import Services

    if not os.environ.get("TABLE_NAME"):
        raise SystemExit("TABLE_NAME is not set: the deployment's table (make run's is voix-dev)")
    return ConfigService(store=Services().store.config, seed=read_raw)


def run(args: argparse.Namespace, out: Any = None) -> int:
    from chalicelib.config_loader import ConfigError, read_raw
    from chalicelib.live_config import SECTIONS, diff

    out = out or sys.stdout
    service = _service()
    version, manifest = service.head()
    current = service.sections(manifest)
    if args.action == "export":
        import tomli_w

        folder = Path(args.folder)
        folder.mkdir(parents=True, exist_ok=True)
        for section, (_, _, filename) in SECTIONS.items():
            (folder / filename).write_text(f"# Voix configuration version {version}: {section}\n"
                                           + tomli_w.dumps(current[section]), encoding="utf-8")
        print(f"version {version} written to {folder}", file=out)
        return 0
    try:
        files = read_raw(args.folder)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    changed = {s: diff(current[s], files[s], s) for s in SECTIONS}
    changed = {s: c for s, c in changed.items() if c}
    if args.action == "diff":
        for changes in changed.values():
            for change in changes:
                print(json.dumps(change, ensure_ascii=False), file=out)
        print(f"{sum(map(len, changed.values()))} change(s) against version {version}", file=out)
        return 1 if changed else 0
    for section in changed:
        try:
            published = service.publish(section, files[section], base_version=version, author=f"{args.by} [cli]",
                                        comment=args.comment)
        except ApiError as exc:
            print(f"{section}: {exc.message}", file=sys.stderr)
            return 2
        version = published["version"]
        print(f"{section}: version {version} ({published['changed']} change(s))", file=out)
    if not changed:
        print(f"nothing to import: version {version} holds these files", file=out)
    return 0
