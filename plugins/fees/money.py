"""Exact money: ``Decimal`` in Python, ``NUMERIC(14, 2)`` in the database, never float.

PostgreSQL stores NUMERIC exactly. SQLite has no decimal storage (its NUMERIC keeps REAL),
so there the column holds whole fen (分) as integers: sums stay exact in SQL too. SQL
arithmetic on ``Money`` columns is limited to ``+``, ``-``, comparisons and ``sum``; a
product or quotient would be in fen on SQLite, so multiply and divide in Python.
"""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import sqlalchemy as sa

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MAX_AMOUNT = Decimal("999999999999.99")  # the largest NUMERIC(14, 2)


class Money(sa.types.TypeDecorator):
    """Yuan with two decimals; whole fen on SQLite (see the module docstring)."""

    impl = sa.Numeric(14, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            # Same DDL (NUMERIC(14, 2)); integers in, integers out, no float conversion.
            return dialect.type_descriptor(sa.Numeric(14, 2, asdecimal=False))
        return dialect.type_descriptor(sa.Numeric(14, 2))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        amount = to_money(value)
        if dialect.name == "sqlite":
            return int(amount * 100)
        return amount

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(round(value))) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)


def to_money(value) -> Decimal:
    """A ``Decimal`` with exactly two decimals; refuses floats, fractions of a fen,
    amounts a ``Money`` column cannot hold and anything that is not a number
    (``ValueError`` with a Chinese message)."""
    if isinstance(value, float):
        raise ValueError("金额须以十进制数表示，不能使用浮点数")
    if isinstance(value, bool):
        raise ValueError("金额格式不正确")
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if not isinstance(
            value, Decimal) else value
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"金额格式不正确：{value}") from exc
    if not amount.is_finite():
        raise ValueError(f"金额格式不正确：{value}")
    if abs(amount) > MAX_AMOUNT:  # and beyond the precision quantize works in
        raise ValueError(f"金额超出范围：最多{yuan(MAX_AMOUNT)}元")
    quantized = amount.quantize(CENT)
    if quantized != amount:
        raise ValueError(f"金额最多保留两位小数（到分）：{value}")
    return quantized


def percent_of(total: Decimal, percent: int) -> Decimal:
    """``percent`` % of ``total``, rounded up to the fen (a minimum never falls short)."""
    exact = total * percent / 100
    rounded = exact.quantize(CENT, rounding=ROUND_HALF_UP)
    return rounded if rounded >= exact else rounded + CENT


def yuan(amount: Decimal | None) -> str:
    """``1,234.50`` for screens, receipts and the CLI."""
    return f"{(amount or ZERO):,.2f}"


_DIGITS = "零壹贰叁肆伍陆柒捌玖"
_UNITS = ("", "拾", "佰", "仟")
_GROUPS = ("", "万", "亿", "万亿")


def _four(n: int) -> str:
    out, zero = "", False
    for pos in range(3, -1, -1):
        d = n // 10 ** pos % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _DIGITS[d] + _UNITS[pos]
    return out


def rmb_upper(amount: Decimal) -> str:
    """The amount in capital figures (人民币大写) as written on a receipt:
    ``Decimal("600.00")`` → ``陆佰元整``, ``1005.30`` → ``壹仟零伍元叁角``."""
    amount = to_money(amount)
    if amount < 0:
        return "负" + rmb_upper(-amount)
    fen_total = int(amount * 100)
    whole, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    text, groups, need_zero = "", [], False
    n = whole
    while n:
        groups.append(n % 10000)
        n //= 10000
    for i in range(len(groups) - 1, -1, -1):
        g = groups[i]
        if g == 0:
            need_zero = bool(text)
            continue
        if text and (need_zero or g < 1000):
            text += "零"
        text += _four(g) + _GROUPS[i]
        need_zero = False
    if text:
        text += "元"
    if jiao == 0 and fen == 0:
        return (text or "零元") + "整"
    if jiao:
        text += _DIGITS[jiao] + "角"
    elif text:
        text += "零"
    if fen:
        text += _DIGITS[fen] + "分"
    return text
