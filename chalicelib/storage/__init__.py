"""DynamoDB adapters, one module per aggregate, each implementing its port (``chalicelib/ports.py``).

Layout (see README, "Storage"): messages, cases, customers, offers, surveys and markers in one
table, each item keyed ``<KIND>#<id>``; counters and roll-ups in a second, small table. Each module
documents its own items and indexes; no code outside this package knows a key, an index or a TTL
attribute. A write that must happen once is one conditional write, or (consent, survey texts:
``once.py``) a bounded item and its message's marker in one transaction.
"""

from __future__ import annotations

from typing import Any

from chalicelib.ports import Stores
from chalicelib.storage.cases import CaseStore
from chalicelib.storage.config_versions import ConfigVersionStore
from chalicelib.storage.conversations import ConversationStore
from chalicelib.storage.counters import CounterStore
from chalicelib.storage.customers import CustomerStore
from chalicelib.storage.messages import MessageStore
from chalicelib.storage.offers import OfferStore
from chalicelib.storage.surveys import SurveyStore


def dynamo_stores(client: Any, table_name: str, counters_table: str | None = None) -> Stores:
    """The adapters over one DynamoDB client: the main table and the counters table."""
    return Stores(*(kind(client, table_name, counters_table) for kind in (
        MessageStore, CounterStore, CaseStore, CustomerStore, OfferStore, SurveyStore, ConversationStore,
        ConfigVersionStore)))


__all__ = ["CaseStore", "ConfigVersionStore",
           "ConversationStore", "CounterStore", "CustomerStore", "MessageStore", "OfferStore", "Stores",
           "SurveyStore", "dynamo_stores"]
