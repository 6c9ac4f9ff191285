"""Conversations on the state table: a head item and one item per turn, so no conversation is
ever one item (DynamoDB's 400 KB limit); a turn larger than one item is compressed and split.

Item shapes (a conversation is one partition: loading it is one strongly consistent query)::

    pk "conv#<tenant>#<id>"  sk "h"                          nx  the next turn's number
                                                             fl  the floor: turns below it forgotten
                                                             sm st  the summary, its tokens
                                                             ca ua  created / updated
                                                             expires_at  TTL (the last save's)
    pk "conv#<tenant>#<id>"  sk "t#<seq:012>#<part:03>"      b   the turn's JSON, zlib, this part
                                                             np  parts of the turn   tk  tokens
                                                             at  saved   expires_at  TTL

A save is two calls: an ``UpdateItem`` of the head that numbers the new turns (``ADD nx``, so
concurrent saves never take the same numbers) and applies a compaction, then one
``BatchWriteItem`` putting the turns (and deleting forgotten ones, found by a keys-only query).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from time import time

from switchyard.state.conversations import Compaction, Conversation, NewTurn, Turn
from switchyard.state.dynamodb import ConditionFailed, Item, Table, expired, integer, n, num, s, text
from switchyard.state.ports import StateUnavailableError

_HEAD = "h"
PART_BYTES = 350 * 1024  # one part's payload: with its keys and attributes, under 400 KB


def _pk(tenant: str, conversation_id: str) -> dict[str, str]:
    return s(f"conv#{tenant}#{conversation_id}")


def _sk(seq: int, part: int) -> dict[str, str]:
    return s(f"t#{seq:012d}#{part:03d}")


class DynamoConversationStore:
    def __init__(self, table: Table, *, clock: Callable[[], float] = time) -> None:
        self._table = table
        self._clock = clock

    async def load(self, tenant: str, conversation_id: str) -> Conversation | None:
        items = await self._table.query("pk = :pk", {":pk": _pk(tenant, conversation_id)}, consistent=True)
        now = self._clock()
        head = next((i for i in items if text(i, "sk") == _HEAD), None)
        if head is None or expired(head, now):
            return None
        floor = integer(head, "fl")
        parts: dict[int, dict[int, Item]] = {}
        for item in items:
            sk = text(item, "sk")
            if sk.startswith("t#") and not expired(item, now):
                _, seq, part = sk.split("#")
                if int(seq) >= floor:
                    parts.setdefault(int(seq), {})[int(part)] = item
        turns = tuple(t for seq in sorted(parts) if (t := _turn(seq, parts[seq])) is not None)
        return Conversation(
            turns,
            summary=text(head, "sm"),
            summary_tokens=integer(head, "st"),
            floor=floor,
            created_at=num(head, "ca"),
            updated_at=num(head, "ua"),
            expires_at=num(head, "expires_at"),
        )

    async def save(
        self,
        tenant: str,
        conversation_id: str,
        turns: Sequence[NewTurn],
        *,
        now: float,
        expires_at: float,
        compaction: Compaction | None = None,
    ) -> None:
        pk = _pk(tenant, conversation_id)
        first = await self._number(pk, len(turns), now, expires_at, compaction)
        puts: list[Item] = []
        for offset, turn in enumerate(turns):
            puts += _turn_items(pk, first + offset, turn, now, expires_at)
        deletes: list[Item] = []
        if compaction is not None:
            deletes = await self._table.query(
                "pk = :pk AND sk BETWEEN :lo AND :hi",
                {":pk": pk, ":lo": s("t#"), ":hi": s(f"t#{compaction.floor:012d}")},
                projection="pk, sk",
            )
        if puts or deletes:
            await self._table.batch_write(puts, deletes)

    async def _number(
        self, pk: dict[str, str], count: int, now: float, expires_at: float, compaction: Compaction | None
    ) -> int:
        """Update the head; the number of the first of ``count`` new turns. A head that expired
        (its items not yet removed by TTL) starts over: its floor moves past every old turn."""
        sets = ["ua = :now", "expires_at = :exp", "ca = if_not_exists(ca, :now)"]
        values: Item = {":now": n(now), ":exp": n(expires_at), ":count": n(count)}
        if compaction is not None:
            sets += ["fl = :fl", "sm = :sm", "st = :st"]
            values.update(
                {
                    ":fl": n(compaction.floor),
                    ":sm": s(compaction.summary),
                    ":st": n(compaction.summary_tokens),
                }
            )
        key = {"pk": pk, "sk": s(_HEAD)}
        for _ in range(2):  # two saves restarting one expired conversation at once: one retries
            try:
                head = await self._table.update(
                    key,
                    "SET " + ", ".join(sets) + " ADD nx :count",
                    condition="attribute_not_exists(pk) OR expires_at > :now",
                    values=values,
                )
                return integer(head, "nx") - count
            except ConditionFailed as failed:
                old = n(integer(failed.item or {}, "nx"))
            restart = "SET ua = :now, expires_at = :exp, ca = :now, fl = :old, sm = :e, st = :z ADD nx :count"
            base = {k: values[k] for k in (":now", ":exp", ":count")}
            try:
                head = await self._table.update(
                    key, restart, condition="nx = :old", values={**base, ":old": old, ":e": s(""), ":z": n(0)}
                )
                return integer(head, "nx") - count
            except ConditionFailed:
                continue
        raise StateUnavailableError("DynamoDB UpdateItem: conversation head kept changing")

    async def delete(self, tenant: str, conversation_id: str) -> bool:
        pk = _pk(tenant, conversation_id)
        items = await self._table.query(
            "pk = :pk", {":pk": pk}, consistent=True, projection="pk, sk, expires_at"
        )
        head = next((i for i in items if text(i, "sk") == _HEAD), None)
        if items:
            await self._table.batch_write([], [{"pk": i["pk"], "sk": i["sk"]} for i in items])
        return head is not None and not expired(head, self._clock())


def _turn_items(pk: dict[str, str], seq: int, turn: NewTurn, now: float, expires_at: float) -> list[Item]:
    packed = zlib.compress(turn.message, 6)
    chunks = [packed[i : i + PART_BYTES] for i in range(0, len(packed), PART_BYTES)] or [b""]
    return [
        {
            "pk": pk,
            "sk": _sk(seq, part),
            "b": {"B": chunk},
            "np": n(len(chunks)),
            "tk": n(turn.tokens),
            "at": n(now),
            "expires_at": n(expires_at),
        }
        for part, chunk in enumerate(chunks)
    ]


def _turn(seq: int, parts: dict[int, Item]) -> Turn | None:
    """The turn from its parts; None when some part is missing (a save under way, or a failed
    one): never half a message."""
    first = parts.get(0)
    if first is None:
        return None
    count = integer(first, "np", 1)
    if any(p not in parts for p in range(count)):
        return None
    try:
        message = zlib.decompress(b"".join(parts[p]["b"]["B"] for p in range(count)))
    except zlib.error:
        return None
    return Turn(seq, message, integer(first, "tk"), num(first, "at"), num(first, "expires_at"))
