"""Operator CLI: ``python -m chalicelib classify --to +447700900008 "text"``, and
``python -m chalicelib config export|import|diff`` (the live configuration: :mod:`chalicelib.config_cli`),
``python -m chalicelib model train|evaluate`` (the learned model: :mod:`chalicelib.model_cli`),
``python -m chalicelib locales`` (the catalogues ``chalicelib/locales/*.json`` copied to ``dashboard/locales/``),
``python -m chalicelib backfill-year --before <day>`` (weeks and months of days counted before them:
:mod:`chalicelib.year_backfill`).

With no text, reads JSON lines ``{"to": ..., "text": ...}`` on standard input and
writes one JSON line of classification for each, in order. ``--explain`` adds the normal words the rules read
and each lexicon group that fired with what it adds (the rules studio's explanation).
"""

from __future__ import annotations

import argparse
import json
import sys

from chalicelib.classification import Classifier
from chalicelib.config_loader import ConfigError, load_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib")
    commands = parser.add_subparsers(dest="command", required=True)
    classify = commands.add_parser("classify", help="classify a message, or JSON lines on stdin")
    classify.add_argument("--to", default=None, help="the number the customer wrote to (E.164)")
    classify.add_argument("--config", default=None, help="configuration folder (default: the shipped one)")
    classify.add_argument("--explain", action="store_true", help="also the words the rules read and each lexicon "
                          "group that fired, with what it adds (as POST /api/config/rules/explain)")
    classify.add_argument("text", nargs="?", help="the SMS text; omit to read JSON lines on stdin")
    locales = commands.add_parser("locales", help="copy the catalogues to the dashboard's files")
    locales.add_argument("--out", default=None, help="folder (default: dashboard/locales)")
    from chalicelib import config_cli, model_cli, year_backfill

    config_cli.add_parser(commands)
    model_cli.add_parser(commands)
    year_backfill.add_parser(commands)
    args = parser.parse_args(argv)
    if args.command == "config":
        return config_cli.run(args)
    if args.command == "backfill-year":
        return year_backfill.run(args)
    if args.command == "model":
        return model_cli.run(args)
    if args.command == "locales":
        from chalicelib.i18n import copy_catalogues

        print("\n".join(str(path) for path in copy_catalogues(args.out)))
        return 0
    try:
        config = load_config(args.config)
        classifier = Classifier(config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2

    def classify_one(text: str, to: str | None) -> dict:
        if args.explain:
            from chalicelib.backtest import explain

            return explain(classifier, config, text, to)
        return classifier.classify(text, to).as_dict()

    if args.text is not None:
        print(json.dumps(classify_one(args.text, args.to), ensure_ascii=False))
        return 0
    status = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict) or not isinstance(item.get("text"), str):
                raise ValueError('expected {"to": ..., "text": ...}')
            to = item.get("to")
            result = classify_one(item["text"], to if isinstance(to, str) else None)
        except ValueError as exc:
            print(f"line {number}: {exc}", file=sys.stderr)
            result = {"error": str(exc), "line": number}
            status = 1
        print(json.dumps(result, ensure_ascii=False), flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
