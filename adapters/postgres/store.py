"""`PostgresStore`: the `Store` port on an asyncpg pool, one transaction per method.

Each concern is its own module, as in adapters/sqlite: the pool (`connection`), the jobs
(`jobs`), money and the workspace's rules (`money`), admission's unit of work (`admission`),
dedupe keys and the bot's own facts (`state`), the shared line (`line`), the schema
(`migrations`), and filling an empty database from another store's snapshot for
`falbot migrate-db` (`load`)."""

from __future__ import annotations

from adapters.postgres.admission import AdmissionTables
from adapters.postgres.jobs import JobTables
from adapters.postgres.line import LineTables
from adapters.postgres.load import LoadTables
from adapters.postgres.money import MoneyTables
from adapters.postgres.state import StateTables


class PostgresStore(AdmissionTables, JobTables, LineTables, MoneyTables, StateTables, LoadTables):
    """Every method is one transaction on a pooled connection; any number of processes may
    share the database, and its line (`LineTables`)."""

    async def close(self) -> None:
        await self.unlisten()
        await super().close()
