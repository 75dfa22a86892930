"""Reading the configuration: the TOML files of a folder, validated into one :class:`Config`.

The files live under ``chalicelib/config/`` (or the folder named by ``VOIX_CONFIG_DIR``).
A bad file fails here, at start-up, naming the file, the key and the problem, never later
on a customer's message. The models themselves are in :mod:`chalicelib.configuration`; this
module also compiles the rules once (:class:`~chalicelib.classification.Classifier`), which
is why it is apart from them: the classifier depends on the models, the loader on both.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from chalicelib.classification import Classifier
from chalicelib.configuration import Config, RepliesFile, RoutingFile, RulesFile, SitesFile

DEFAULT_CONFIG_DIR = Path(__file__).parent / "config"

_FILES = {
    "sites_file": ("sites.toml", SitesFile),
    "rules": ("rules.toml", RulesFile),
    "replies": ("replies.toml", RepliesFile),
    "routing": ("routing.toml", RoutingFile),
}


class ConfigError(Exception):
    """A configuration file is missing or invalid; the message says where."""


def _describe(error: ValidationError, filename: str) -> str:
    lines = [f"{filename}: invalid configuration"]
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"]) or "(top level)"
        lines.append(f"  {where}: {item['msg']}")
    return "\n".join(lines)


def load_config(directory: str | Path | None = None) -> Config:
    """Read and validate every configuration file in ``directory``."""
    folder = Path(directory or os.environ.get("VOIX_CONFIG_DIR") or DEFAULT_CONFIG_DIR)
    parts = {}
    for field, (filename, model) in _FILES.items():
        path = folder / filename
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(f"{path}: configuration file not found") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
        try:
            parts[field] = model.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, str(path))) from exc
    try:
        config = Config(**parts)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, str(folder))) from exc
    try:  # compiling the rules validates them too (phrases that normalise to nothing...)
        Classifier(config)
    except ValueError as exc:
        raise ConfigError(f"{folder / 'rules.toml'}: {exc}") from exc
    return config


@lru_cache(maxsize=4)
def _cached(directory: str) -> Config:
    return load_config(directory)


def get_config() -> Config:
    """The configuration named by the environment, loaded once per process."""
    return _cached(os.environ.get("VOIX_CONFIG_DIR") or str(DEFAULT_CONFIG_DIR))


def read_raw(directory: str | Path | None = None) -> dict[str, dict]:
    """The data of each section's TOML file, as the live configuration stores it (``chalicelib.live_config``):
    ``{"sites": {...}, "rules": {...}, "replies": {...}, "routing": {...}}``."""
    from chalicelib.live_config import SECTIONS

    folder = Path(directory or os.environ.get("VOIX_CONFIG_DIR") or DEFAULT_CONFIG_DIR)
    out = {}
    for section, (_, _, filename) in SECTIONS.items():
        try:
            out[section] = tomllib.loads((folder / filename).read_text(encoding="utf-8"))
        except (FileNotFoundError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{folder / filename}: {exc}") from exc
    return out
