"""The DynamoDB plumbing every adapter shares: the client, the call counter, error translation.

boto3 is imported only when a client is built (the router's cold import stays small, docs/scaling.md).
It is synchronous, so each call runs in a worker thread; every call has connect and read timeouts
and at most ``max_attempts`` tries (botocore's standard retry mode). A conditional check that fails
becomes :class:`ConditionFailed` carrying the item as it was; every other failure (throttling,
timeouts, an unreachable endpoint, a missing table) becomes ``StateUnavailableError``, throttling
its subclass ``StateThrottledError``.

Counter writes carry an idempotency token (:class:`Once`), so that a write botocore retries
after a timeout, when the first try was applied and only its answer was lost, is applied once.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from switchyard.state.ports import StateThrottledError, StateUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]  # an item in DynamoDB's typed JSON: {"name": {"N": "1"}, ...}


@dataclass(frozen=True, slots=True)
class DynamoSettings:
    region: str = "us-east-1"
    endpoint_url: str | None = None  # a local emulation; None: the region's endpoint
    timeout_s: float = 1.0
    max_attempts: int = 2  # tries per call, the first included
    pool_size: int = 32  # at least the worker threads that may call at once


class CallCounter:
    """Counts API calls (not HTTP retries) per operation through botocore's ``before-call``
    event, and which tables each operation touched (``before-parameter-build`` sees the API
    parameters). Thread-safe: calls run in worker threads. :meth:`attach` registers both."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._tables: dict[str, set[str]] = {}

    def attach(self, client: Any) -> None:
        client.meta.events.register("before-call.dynamodb", self.count_call)
        client.meta.events.register("before-parameter-build.dynamodb", self.note_tables)

    # Both handlers must return None: anything else would short-circuit the call.
    def count_call(self, model: Any = None, **_: Any) -> None:
        operation = getattr(model, "name", "unknown")
        with self._lock:
            self._calls[operation] = self._calls.get(operation, 0) + 1

    def note_tables(self, model: Any = None, params: Any = None, **_: Any) -> None:
        operation = getattr(model, "name", "unknown")
        params = params if isinstance(params, dict) else {}
        tables = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems") or ())
        with self._lock:
            for table in tables:
                self._tables.setdefault(table, set()).add(operation)

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._calls.values())

    def by_operation(self) -> dict[str, int]:
        with self._lock:
            return dict(self._calls)

    def by_table(self) -> dict[str, set[str]]:
        """The operations used on each table."""
        with self._lock:
            return {table: set(ops) for table, ops in self._tables.items()}

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()
            self._tables.clear()


def build_client(settings: DynamoSettings, counter: CallCounter | None = None) -> DynamoDBClient:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.timeout_s,
        read_timeout=settings.timeout_s,
        # total_max_attempts counts the first try; botocore's max_attempts would count retries only.
        retries={"mode": "standard", "total_max_attempts": settings.max_attempts},
        max_pool_connections=settings.pool_size,
        tcp_keepalive=True,
    )
    # A local emulation takes any credentials; a developer machine may have none configured.
    secret = "local" if settings.endpoint_url else None
    client = boto3.session.Session().client(
        "dynamodb",
        region_name=settings.region,
        endpoint_url=settings.endpoint_url,
        config=config,
        aws_access_key_id=secret,
        aws_secret_access_key=secret,
    )
    if counter is not None:
        counter.attach(client)
    return client


# Throttling: the partition's (or the table's) throughput was exceeded; nothing was written.
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)
# Idempotency tokens live in four string sets, one per ``_BUCKET_S`` of the writer's clock in turn:
# a write adds its token to its bucket's set and removes the set two buckets ahead, so a token is
# kept at least one whole bucket, and an item carries the tokens of the last 2-4 s only (what an
# item holds costs write capacity on every write: docs/scaling.md). botocore resends a write that
# timed out (1 s) after a backoff of at most ~50 ms for DynamoDB's non-throttling errors; a
# throttled try was not applied.
_BUCKET_S = 2
_SETS = 4


@dataclass(frozen=True, slots=True)
class Once:
    """One counter write's idempotency token, and the clauses that make the write apply once."""

    token: str
    bucket: int

    @classmethod
    def new(cls, now: float) -> Once:
        # Six characters (32 random bits): a set holds a few hundred tokens, so a new write's token
        # matches one already there with a chance below 1e-7 (a false match drops that write).
        return cls(secrets.token_urlsafe(4), int(now // _BUCKET_S))

    @property
    def attribute(self) -> str:
        return f"ik{self.bucket % _SETS}"

    def clauses(self, values: Item) -> tuple[str, str, str]:
        """The ADD action, the REMOVE action and the condition to merge into the write (each
        to be joined with the write's own); adds their placeholders to ``values``."""
        values[":ik_set"] = {"SS": [self.token]}
        values[":ik"] = {"S": self.token}
        stale = f"ik{(self.bucket + 2) % _SETS}"
        return f"{self.attribute} :ik_set", stale, f"NOT contains({self.attribute}, :ik)"

    def applied(self, item: Item | None) -> bool:
        """Whether ``item`` (as a failed condition returned it) already holds this write."""
        tokens = (item or {}).get(self.attribute, {}).get("SS", [])
        return self.token in tokens


def is_token_attribute(name: str) -> bool:
    return len(name) == 3 and name.startswith("ik") and name[2].isdigit()


class ConditionFailed(Exception):
    """A conditional write did not apply; ``item`` is the item as it was (None: absent)."""

    def __init__(self, item: Item | None) -> None:
        super().__init__("conditional check failed")
        self.item = item


class Table:
    """One table through one client: async item calls with errors translated at the boundary."""

    def __init__(self, client: DynamoDBClient, name: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        self.client = client
        self.name = name
        self._client_error = ClientError
        self._botocore_error = BotoCoreError

    async def get(self, key: Item, *, consistent: bool = False) -> Item | None:
        fn: Callable[..., Any] = self.client.get_item
        answer = await self._call(fn, "GetItem", TableName=self.name, Key=key, ConsistentRead=consistent)
        item: Item | None = answer.get("Item")
        return item

    async def update(
        self,
        key: Item,
        update: str,
        *,
        condition: str | None,
        values: Item,
        names: dict[str, str] | None = None,
    ) -> Item:
        """UpdateItem returning the new item; raises ConditionFailed with the old one."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": key,
            "UpdateExpression": update,
            "ExpressionAttributeValues": values,
            "ReturnValues": "ALL_NEW",
        }
        if condition:
            kwargs["ConditionExpression"] = condition
            kwargs["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
        if names:
            kwargs["ExpressionAttributeNames"] = names
        fn: Callable[..., Any] = self.client.update_item
        answer = await self._call(fn, "UpdateItem", **kwargs)
        new: Item = answer.get("Attributes", {})
        return new

    async def put(self, item: Item, *, condition: str | None = None, values: Item | None = None) -> None:
        """PutItem; with ``condition``, raises ConditionFailed with the item it would replace."""
        fn: Callable[..., Any] = self.client.put_item
        extra: dict[str, Any] = {}
        if condition:
            extra = {"ConditionExpression": condition, "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}
            if values:
                extra["ExpressionAttributeValues"] = values
        await self._call(fn, "PutItem", TableName=self.name, Item=item, **extra)

    async def delete(self, key: Item) -> Item | None:
        """DeleteItem; the item it removed (None: there was none)."""
        fn: Callable[..., Any] = self.client.delete_item
        answer = await self._call(fn, "DeleteItem", TableName=self.name, Key=key, ReturnValues="ALL_OLD")
        old: Item | None = answer.get("Attributes")
        return old

    async def batch_get(self, keys: list[Item]) -> list[Item]:
        """Every existing item of ``keys``, in batches of 100, unprocessed keys asked again."""
        found: list[Item] = []
        fn: Callable[..., Any] = self.client.batch_get_item
        for start in range(0, len(keys), 100):
            pending: dict[str, Any] = {self.name: {"Keys": keys[start : start + 100]}}
            for _ in range(3):
                answer = await self._call(fn, "BatchGetItem", RequestItems=pending)
                found.extend(answer.get("Responses", {}).get(self.name, []))
                pending = answer.get("UnprocessedKeys") or {}
                if not pending:
                    break
        return found

    async def batch_write(self, puts: list[Item], deletes: list[Item]) -> None:
        """Put ``puts`` and delete the keys ``deletes`` in batches of 25, unprocessed requests sent
        again (three tries); raises StateUnavailableError when some are still left."""
        requests = [{"PutRequest": {"Item": i}} for i in puts] + [
            {"DeleteRequest": {"Key": k}} for k in deletes
        ]
        fn: Callable[..., Any] = self.client.batch_write_item
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self.name: requests[start : start + 25]}
            for _ in range(3):
                answer = await self._call(fn, "BatchWriteItem", RequestItems=pending)
                pending = answer.get("UnprocessedItems") or {}
                if not pending:
                    break
            if pending:
                raise StateUnavailableError("DynamoDB BatchWriteItem: items left unprocessed")

    async def query(
        self, condition: str, values: Item, *, consistent: bool = False, projection: str | None = None
    ) -> list[Item]:
        """Every item the key condition matches (all pages); ``projection`` names the attributes
        to return (e.g. "pk, sk"), ``consistent`` asks for a strongly consistent read."""
        items: list[Item] = []
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
        }
        if consistent:
            kwargs["ConsistentRead"] = True
        if projection:
            kwargs["ProjectionExpression"] = projection
        fn: Callable[..., Any] = self.client.query
        while True:
            answer = await self._call(fn, "Query", **kwargs)
            items.extend(answer.get("Items", []))
            if "LastEvaluatedKey" not in answer:
                return items
            kwargs["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    async def query_page(
        self, condition: str, values: Item, *, newest_first: bool, limit: int, start: Item | None = None
    ) -> tuple[list[Item], Item | None]:
        """One page of a query (at most ``limit`` items) and the key to continue from (None: done)."""
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": values,
            "ScanIndexForward": not newest_first,
            "Limit": limit,
        }
        if start is not None:
            kwargs["ExclusiveStartKey"] = start
        fn: Callable[..., Any] = self.client.query
        answer = await self._call(fn, "Query", **kwargs)
        items: list[Item] = answer.get("Items", [])
        return items, answer.get("LastEvaluatedKey")

    async def _call(self, fn: Callable[..., Any], operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer: dict[str, Any] = await asyncio.to_thread(fn, **kwargs)
        except self._client_error as exc:
            error = exc.response.get("Error", {})
            code = error.get("Code", "error")
            if code == "ConditionalCheckFailedException":
                old: Item | None = exc.response.get("Item")  # type: ignore[assignment]
                raise ConditionFailed(old) from exc
            if code in _THROTTLED:
                raise StateThrottledError(f"DynamoDB {operation}: {code}") from exc
            raise StateUnavailableError(f"DynamoDB {operation}: {code}") from exc
        except self._botocore_error as exc:
            raise StateUnavailableError(f"DynamoDB {operation}: {type(exc).__name__}") from exc
        return answer


# ---------------------------------------------------------------------------- attribute codec


def n(value: float | Decimal) -> dict[str, str]:
    if isinstance(value, int):
        return {"N": str(value)}
    # In positional notation, as DynamoDB returns numbers: str() writes a tiny cost (an
    # embeddings call: $0.00000004) as "4E-8", which DynamoDB accepts but moto's parser did not.
    decimal = value if isinstance(value, Decimal) else Decimal(repr(value))
    return {"N": format(decimal, "f")}


def s(value: str) -> dict[str, str]:
    return {"S": value}


def num(item: Item, name: str, default: float = 0.0) -> float:
    value = item.get(name)
    return float(value["N"]) if value and "N" in value else default


def integer(item: Item, name: str, default: int = 0) -> int:
    value = item.get(name)
    return int(Decimal(value["N"])) if value and "N" in value else default


def text(item: Item, name: str, default: str = "") -> str:
    value = item.get(name)
    return str(value["S"]) if value and "S" in value else default


def expired(item: Item | None, now: float) -> bool:
    """TTL deletion lags by up to days: an item past ``expires_at`` is treated as gone."""
    return item is not None and "expires_at" in item and num(item, "expires_at") <= now
