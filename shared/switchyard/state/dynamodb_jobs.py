"""Jobs on the state table, one item per job, every move a conditional write (``UpdateItem``,
or a ``PutItem`` when a claim creates the job).

Item shape (a tenant's jobs share a partition, so listing them is one query, newest first)::

    pk "jobs#<tenant>"   sk "job#<job id>"
    kid    the key charged kd  kind ("chat" when absent: items from before kinds)
    st     status          rq  request (B, JSON)     ca ua  created / updated (epoch s)
    tries  claims so far   lu  lease until           rs  result (B)    er  error (B)
    wh     webhook URL     md  metadata (M)          expires_at  TTL
    nt     the webhook was delivered (BOOL)
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import replace
from time import time

from switchyard.state.dynamodb import ConditionFailed, Item, Table, expired, integer, n, num, s, text
from switchyard.state.jobs import Claim, JobPage, JobRecord, JobStatus

_RUNNING, _QUEUED = s(JobStatus.RUNNING.value), s(JobStatus.QUEUED.value)


def _key(tenant: str, job_id: str) -> Item:
    return {"pk": s(f"jobs#{tenant}"), "sk": s(f"job#{job_id}")}


class DynamoJobStore:
    def __init__(self, table: Table, *, clock: Callable[[], float] = time) -> None:
        self._table = table
        self._clock = clock

    async def create(self, record: JobRecord) -> bool:
        attrs, values = _fields(record)
        sets = [f"{attr} = :{attr}" for attr in attrs] + ["st = :st"]
        values[":st"] = s(record.status.value)
        if record.error is not None:  # a job refused before it ran is created failed
            sets.append("er = :er")
            values[":er"] = {"B": record.error}
        try:
            await self._table.update(
                _key(record.tenant, record.job_id),
                "SET " + ", ".join(sets),
                condition="attribute_not_exists(pk) OR expires_at <= :now_",
                values={**values, ":now_": n(self._clock())},
            )
        except ConditionFailed:
            return False
        return True

    async def get(self, tenant: str, job_id: str) -> JobRecord | None:
        item = await self._table.get(_key(tenant, job_id), consistent=True)
        return self._decode(item)

    async def claim(self, seed: JobRecord, *, now: float, lease_until: float, stored: bool = False) -> Claim:
        # Two short requests instead of one long one: a single UpdateItem that could also create
        # the item needs an if_not_exists() for every field, and such an expression costs twice
        # a short one (on moto, which parses it in Python, 22 ms against 11 ms). ``stored`` only
        # picks which request goes first.
        if not stored:
            created = await self._create_running(seed, now, lease_until)
            if created is not None:
                return Claim(True, created)
        won, item = await self._take(seed, now, lease_until)
        if won or not stored:
            return Claim(won, self._decode(item))
        current = self._decode(item)
        if current is not None:
            return Claim(False, current)
        created = await self._create_running(seed, now, lease_until)
        if created is not None:
            return Claim(True, created)
        won, item = await self._take(seed, now, lease_until)  # another delivery created it first
        return Claim(won, self._decode(item))

    async def _create_running(self, seed: JobRecord, now: float, lease_until: float) -> JobRecord | None:
        """A job put straight on the queue has no item yet: create it running from the message.
        None when an unexpired item exists."""
        running = replace(seed, status=JobStatus.RUNNING, attempts=1, lease_until=lease_until, updated_at=now)
        names, values = _fields(running)
        item: Item = {**_key(seed.tenant, seed.job_id), **{name: values[f":{name}"] for name in names}}
        item.update({"st": _RUNNING, "tries": n(1), "lu": n(lease_until)})
        try:
            await self._table.put(
                item, condition="attribute_not_exists(pk) OR expires_at <= :now", values={":now": n(now)}
            )
        except ConditionFailed:
            return None
        return running

    async def _take(self, seed: JobRecord, now: float, lease_until: float) -> tuple[bool, Item | None]:
        """Claim an existing job: queued, or running unanswered past its lease, and the same
        key's (a job id another key of the tenant already used is never taken over)."""
        condition = (
            "kid = :kid AND expires_at > :now AND (st = :queued OR "
            "(st = :running AND attribute_not_exists(rs) AND lu <= :now))"
        )
        values: Item = {
            ":running": _RUNNING,
            ":queued": _QUEUED,
            ":lu": n(lease_until),
            ":now": n(now),
            ":one": n(1),
            ":kid": s(seed.key_id),
        }
        try:
            item = await self._table.update(
                _key(seed.tenant, seed.job_id),
                "SET st = :running, lu = :lu, ua = :now ADD tries :one",
                condition=condition,
                values=values,
            )
        except ConditionFailed as failed:
            return False, failed.item
        return True, item

    async def checkpoint(self, tenant: str, job_id: str, *, attempt: int, result: bytes, now: float) -> bool:
        try:
            await self._table.update(
                _key(tenant, job_id),
                "SET rs = :rs, ua = :now",
                condition="st = :running AND tries = :at",
                values={":rs": {"B": result}, ":now": n(now), ":running": _RUNNING, ":at": n(attempt)},
            )
        except ConditionFailed:
            return False
        return True

    async def mark_notified(self, tenant: str, job_id: str) -> None:
        try:
            await self._table.update(
                _key(tenant, job_id),
                "SET nt = :yes",
                condition="attribute_exists(pk)",
                values={":yes": {"BOOL": True}},
            )
        except ConditionFailed:
            return  # expired and gone: nothing to mark

    async def release(self, tenant: str, job_id: str, *, attempt: int, now: float) -> bool:
        try:
            await self._table.update(
                _key(tenant, job_id),
                "SET st = :queued, ua = :now",
                condition="st = :running AND tries = :at AND attribute_not_exists(rs)",
                values={":queued": _QUEUED, ":now": n(now), ":running": _RUNNING, ":at": n(attempt)},
            )
        except ConditionFailed:
            return False
        return True

    async def finish(
        self,
        tenant: str,
        job_id: str,
        status: JobStatus,
        *,
        now: float,
        expires_at: float,
        attempt: int | None = None,
        result: bytes | None = None,
        error: bytes | None = None,
    ) -> bool:
        sets = ["st = :st", "ua = :now", "expires_at = :exp"]
        values: Item = {":st": s(status.value), ":now": n(now), ":exp": n(expires_at), ":running": _RUNNING}
        condition = "st = :running"
        if attempt is not None:
            condition += " AND tries = :at"
            values[":at"] = n(attempt)
        for attr, value in (("rs", result), ("er", error)):
            if value is not None:
                sets.append(f"{attr} = :{attr}")
                values[f":{attr}"] = {"B": value}
        try:
            await self._table.update(
                _key(tenant, job_id), "SET " + ", ".join(sets), condition=condition, values=values
            )
        except ConditionFailed:
            return False
        return True

    async def cancel(self, tenant: str, job_id: str, *, now: float) -> Claim:
        try:
            item = await self._table.update(
                _key(tenant, job_id),
                "SET st = :cancelled, ua = :now",
                condition="st = :queued AND expires_at > :now",
                values={":cancelled": s(JobStatus.CANCELLED.value), ":queued": _QUEUED, ":now": n(now)},
            )
        except ConditionFailed as failed:
            return Claim(False, self._decode(failed.item))
        return Claim(True, self._decode(item))

    async def list(
        self, tenant: str, *, status: JobStatus | None = None, limit: int = 20, after: str | None = None
    ) -> JobPage:
        found: builtins.list[JobRecord] = []
        start = _key(tenant, after) if after else None
        values: Item = {":pk": s(f"jobs#{tenant}"), ":job": s("job#")}
        while True:
            items, start = await self._table.query_page(
                "pk = :pk AND begins_with(sk, :job)", values, newest_first=True, limit=limit + 1, start=start
            )
            for item in items:
                record = self._decode(item)
                if record is None or (status is not None and record.status != status):
                    continue
                if len(found) == limit:
                    return JobPage(found, found[-1].job_id)
                found.append(record)
            if start is None:
                return JobPage(found, None)

    def _decode(self, item: Item | None) -> JobRecord | None:
        if item is None or expired(item, self._clock()):
            return None
        return JobRecord(
            job_id=text(item, "sk").removeprefix("job#"),
            key_id=text(item, "kid"),
            tenant=text(item, "pk").removeprefix("jobs#"),
            status=JobStatus(text(item, "st")),
            request=bytes(item["rq"]["B"]) if "rq" in item else b"{}",
            created_at=num(item, "ca"),
            updated_at=num(item, "ua"),
            expires_at=num(item, "expires_at"),
            webhook_url=text(item, "wh") or None,
            metadata={k: v["S"] for k, v in item.get("md", {}).get("M", {}).items()},
            kind=text(item, "kd") or "chat",
            attempts=integer(item, "tries"),
            lease_until=num(item, "lu"),
            result=bytes(item["rs"]["B"]) if "rs" in item else None,
            error=bytes(item["er"]["B"]) if "er" in item else None,
            notified=bool(item.get("nt", {}).get("BOOL", False)),
        )


def _fields(record: JobRecord) -> tuple[builtins.list[str], Item]:
    """Attribute names and their ``:name`` values for a job's fixed fields (status, attempts and
    answers excluded)."""
    values: Item = {
        ":rq": {"B": record.request},
        ":ca": n(record.created_at),
        ":ua": n(record.updated_at),
        ":expires_at": n(record.expires_at),
        ":md": {"M": {k: s(v) for k, v in record.metadata.items()}},
        ":kid": s(record.key_id),
        ":kd": s(record.kind),
    }
    if record.webhook_url:
        values[":wh"] = s(record.webhook_url)
    return [name[1:] for name in values], values
