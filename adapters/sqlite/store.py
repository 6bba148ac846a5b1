"""`SqliteStore`: the `Store` port on one aiosqlite connection, one short transaction per method.

Each concern is its own module: the connection and its WAL checkpoints (`connection`), the jobs
(`jobs`), money and the workspace's rules (`money`), admission's unit of work (`admission`),
dedupe keys and the bot's own facts (`state`), the schema (`migrations`), and a snapshot of every
table for `falbot migrate-db` (`export`)."""

from __future__ import annotations

from adapters.sqlite.admission import AdmissionTables
from adapters.sqlite.export import ExportTables
from adapters.sqlite.jobs import JobTables
from adapters.sqlite.money import MoneyTables
from adapters.sqlite.state import StateTables


class SqliteStore(AdmissionTables, JobTables, MoneyTables, StateTables, ExportTables):
    """Every method is one transaction on the one connection, serialised by an asyncio lock.
    A second connection only checkpoints the WAL, in a task the store owns."""
