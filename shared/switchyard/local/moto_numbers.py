"""DynamoDB numbers in the emulation as DynamoDB keeps them.

moto adds and subtracts numbers (``UpdateItem ... ADD``, ``SET a = a + :x``) as Python decimals
and stores the result with ``str()``, which writes a small amount in scientific notation
(``0.00000004`` becomes ``4E-8``); its next addition then reads that text as an integer and fails
the write with a 500. DynamoDB itself takes either form. Usage costs and budget spend are sums of
such amounts (an embeddings call can cost $0.00000004), so under ``make run`` and in the tests a
few calls in, their writes failed. :func:`patch` makes the emulation read any number text and
store sums in positional notation.
"""

from __future__ import annotations

from decimal import Decimal

from moto.dynamodb.exceptions import IncorrectDataType
from moto.dynamodb.models.dynamo_type import DDBType, DynamoType


def patch() -> None:
    """Idempotent; changes moto's number arithmetic in this process."""
    DynamoType.__add__ = _add  # type: ignore[method-assign]
    DynamoType.__sub__ = _sub  # type: ignore[method-assign]


def _number(text: str) -> Decimal | int:
    try:
        return int(text)
    except ValueError:
        return Decimal(text)


def _text(value: Decimal | int) -> str:
    return str(value) if isinstance(value, int) else format(value, "f")


def _operands(
    left: DynamoType, right: DynamoType, not_numbers: Exception
) -> tuple[Decimal | int, Decimal | int]:
    # The same refusals as moto's own methods.
    if left.type != right.type:
        raise TypeError("Different types of operandi is not allowed.")
    if left.type != DDBType.NUMBER:
        raise not_numbers
    return _number(left.value), _number(right.value)


def _add(self: DynamoType, other: DynamoType) -> DynamoType:
    a, b = _operands(self, other, IncorrectDataType())
    return DynamoType({DDBType.NUMBER: _text(a + b)})


def _sub(self: DynamoType, other: DynamoType) -> DynamoType:
    a, b = _operands(self, other, TypeError("Sum only supported for Numbers."))
    return DynamoType({DDBType.NUMBER: _text(a - b)})
