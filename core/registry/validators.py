"""Checks and normalisation of the registration form's identity fields.

Pure functions, no database: each either returns the value in its one stored
spelling or raises :class:`~core.errors.RuleViolation` with a Chinese message
naming what is wrong and what is expected.
"""
from __future__ import annotations

import math
import re
import unicodedata
from datetime import date, datetime
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from core.errors import RuleViolation
from core.registry.fields import GENDER

__all__ = [
    "check_id_card_consistency",
    "id_card_birth_date",
    "id_card_gender",
    "is_masked_form",
    "mask_id_card",
    "mask_phone",
    "name_initials",
    "normalize_id_card_no",
    "normalize_personal_no",
    "normalize_phone",
]


def _as_digit_text(value: object, field: str, label: str, rule: str | None = None) -> str:
    """Excel hands numeric cells over as int or float; turn them back into text.

    bool is refused although it is an int: True would silently become "1".
    """
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RuleViolation(f"{label}应填写数字，不能是{type(value).__name__}类型的值", field, rule)
    if isinstance(value, float):
        if not math.isfinite(value) or not value.is_integer():
            raise RuleViolation(f"{label}应为整数，不能带小数", field, rule)
        value = int(value)
    if isinstance(value, int):
        if value < 0:
            raise RuleViolation(f"{label}不能为负数", field, rule)
        return str(value)
    return value.strip()


# ---------------------------------------------------------------- personal number

_PERSONAL_NO = re.compile(r"[0-9]{1,8}")


def normalize_personal_no(value: object) -> str:
    """F4: the 8-digit personal number, left-padded with zeros ("12345" -> "00012345").

    Accepts str (surrounding whitespace ignored), int, or an integral float
    (12345.0, as Excel stores numbers). Refuses empty input, anything but ASCII
    digits, more than 8 digits, negatives, fractions and an all-zero number (a
    placeholder, never a real card number).
    """
    text = "" if value is None else _as_digit_text(value, "personal_no", "个人编号", "F4")
    if not text:
        raise RuleViolation("个人编号不能为空，请填写医疗保险证或退休养老证上的个人编号（最多8位数字）",
                            "personal_no", "F4")
    if not _PERSONAL_NO.fullmatch(text):
        if text.isascii() and text.isdigit():
            raise RuleViolation(f"个人编号最多8位数字，填写的有{len(text)}位，请核对",
                                "personal_no", "F4")
        raise RuleViolation("个人编号只能由数字0–9组成（最多8位，不足8位自动在前面补0），"
                            "不能含字母、符号或全角数字", "personal_no", "F4")
    if not text.strip("0"):
        raise RuleViolation("个人编号不能全为0，请填写证件上的实际编号", "personal_no", "F4")
    return text.zfill(8)


# ---------------------------------------------------------------- resident ID card

# GB/T 2260 province-level codes, plus 83: Taiwan residents' residence permits
# (港澳台居民居住证, 2018) use 830000 as their area code, like 81/82 for HK/Macao.
_PROVINCES = frozenset(
    [11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37,
     41, 42, 43, 44, 45, 46, 50, 51, 52, 53, 54, 61, 62, 63, 64, 65,
     71, 81, 82, 83]
)
_ID_SHAPE = re.compile(r"[0-9]{17}[0-9X]")
_WEIGHTS = [pow(2, 17 - i, 11) for i in range(17)]


def _id_check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 check character of GB 11643-1999."""
    total = sum(int(c) * w for c, w in zip(first17, _WEIGHTS, strict=True))
    return "0123456789X"[(12 - total % 11) % 11]


def normalize_id_card_no(value: object) -> str:
    """The 18-character resident ID number (GB 11643-1999), upper-case X.

    Checks: 17 ASCII digits and a check character (digit or X; lower-case x is
    accepted), a GB/T 2260 province code in the first two digits, a real birth
    date in positions 7–14 between 1900-01-01 and today, and the ISO 7064
    MOD 11-2 check character.

    The area code (first 6 digits) is deliberately *not* looked up. A person
    keeps the code of the district that issued the card, and districts are
    created, renamed and merged: a 1953-born retiree may carry 320571 (Suzhou
    Industrial Park) or 320509 (Wujiang District, 2012). python-stdnum's
    ``stdnum.cn.ric.validate`` refuses such numbers (it requires the county to
    have existed in the birth year, and raises a bare KeyError for codes
    missing from its table), so the checksum is computed here instead.

    Any other input (None, numbers, bytes, wrong length, full-width digits,
    control characters) raises RuleViolation(field="id_card_no"); nothing else.
    """
    field = "id_card_no"
    if value is None or (isinstance(value, str) and not value.strip()):
        raise RuleViolation("身份证号不能为空，请填写18位居民身份证号码", field)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise RuleViolation("身份证号应按文本填写（Excel 中请把该列设为“文本”格式），"
                            "以数字形式保存会丢失末位X或精度", field)
    if not isinstance(value, str):
        raise RuleViolation(f"身份证号应为18位文本，不能是{type(value).__name__}类型的值", field)
    return _checked_id_card_no(value)


@lru_cache(maxsize=4096)
def _checked_id_card_no(value: str) -> str:
    """The checks of ``normalize_id_card_no`` on text; a number passed stays valid on
    later days, so the answers are kept (a row checks its number four times)."""
    field = "id_card_no"
    no = value.strip()
    if no.endswith("x"):
        no = no[:-1] + "X"
    if "*" in no:
        raise RuleViolation("身份证号含“*”，是导出时脱敏的号码，不能用于登记：请填写完整的18位身份证号",
                            field)
    if len(no) != 18:
        if len(no) == 15 and no.isascii() and no.isdigit():
            raise RuleViolation("这是15位旧身份证号，请填写18位居民身份证号码", field)
        raise RuleViolation(f"身份证号应为18位，填写的是{len(no)}位，请核对", field)
    if not _ID_SHAPE.fullmatch(no):
        hint = "（请使用半角数字）" if not no.isascii() else ""
        raise RuleViolation(f"身份证号格式不正确：应为17位数字加1位校验码（数字或X）{hint}", field)
    if int(no[:2]) not in _PROVINCES:
        raise RuleViolation(f"身份证号前两位“{no[:2]}”不是有效的省级行政区划代码，请核对", field)
    try:
        born = date(int(no[6:10]), int(no[10:12]), int(no[12:14]))
    except ValueError:
        raise RuleViolation(f"身份证号第7–14位的出生日期“{no[6:14]}”不是真实存在的日期，请核对",
                            field) from None
    if born.year < 1900:
        raise RuleViolation(f"身份证号中的出生日期“{no[6:14]}”早于1900年，请核对", field)
    if born > date.today():
        raise RuleViolation(f"身份证号中的出生日期“{no[6:14]}”晚于今天，请核对", field)
    if no[17] != _id_check_char(no[:17]):
        raise RuleViolation("身份证号校验位不符，号码中可能有数字抄错，请对照身份证逐位核对", field)
    return no


def id_card_birth_date(no: str) -> date:
    """Birth date encoded in positions 7–14 of a resident ID number."""
    no = normalize_id_card_no(no)
    return date(int(no[6:10]), int(no[10:12]), int(no[12:14]))


def id_card_gender(no: str) -> str:
    """"male" if the 17th digit (sequence code) is odd, "female" if even."""
    return "male" if int(normalize_id_card_no(no)[16]) % 2 else "female"


def check_id_card_consistency(
    no: str, birth_date: date | None, gender: str | None
) -> list[RuleViolation]:
    """Disagreements between the ID number and the birth date / gender fields.

    Returns one RuleViolation per disagreeing field (field="birth_date" or
    "gender"); a None field is not checked. ``no`` must be a valid ID number.
    """
    problems: list[RuleViolation] = []
    if birth_date is not None:
        if isinstance(birth_date, datetime):  # Excel dates arrive as datetimes
            birth_date = birth_date.date()
        expected = id_card_birth_date(no)
        if birth_date != expected:
            problems.append(RuleViolation(
                f"出生日期{birth_date.isoformat()}与身份证号中的出生日期"
                f"{expected.isoformat()}不一致，请核对", "birth_date"))
    if gender is not None:
        expected_gender = id_card_gender(no)
        if gender != expected_gender:
            given = GENDER.get(gender, gender)
            problems.append(RuleViolation(
                f"性别“{given}”与身份证号第17位所示性别“{GENDER[expected_gender]}”不一致，请核对",
                "gender"))
    return problems


# ---------------------------------------------------------------- name search

# pypinyin reads these first characters with their everyday sound (单 dan,
# 曾 ceng, 解 jie ...), not the one they have as a surname. Surnames with two
# common readings (乐 yue/le, 盖 ge/gai, 覃 qin/tan) are left to pypinyin.
_SURNAME_INITIAL = {"单": "s", "曾": "z", "解": "x", "仇": "q", "朴": "p",
                    "查": "z", "区": "o", "缪": "m", "翟": "z", "种": "c"}


@lru_cache(maxsize=8192)
def name_initials(name: str | None) -> str:
    """Lower-case pinyin initials for search: "张三" -> "zs", "张秀英" -> "zxy".
    Cached: common names recur (an import of many people converts each name once).

    ASCII letters are kept (lower-cased), everything else that is not Chinese
    is dropped. A polyphonic character inside the given name may still get the
    wrong reading: pypinyin guesses from common usage, not from names.
    """
    if not name:
        return ""
    text = unicodedata.normalize("NFKC", name).strip()
    parts = lazy_pinyin(text, style=Style.FIRST_LETTER)
    if text[:1] in _SURNAME_INITIAL:
        parts[0] = _SURNAME_INITIAL[text[0]]
    return "".join(c for c in "".join(parts).lower() if c.isascii() and c.isalpha())


# ---------------------------------------------------------------- masking

def _mask(text: str, head: int, tail: int) -> str:
    if len(text) <= tail:
        return "*" * len(text)
    head = min(head, len(text) - tail)
    return text[:head] + "*" * (len(text) - head - tail) + text[len(text) - tail:]


def mask_id_card(no: object) -> str:
    """"320505************": only the area code (first 6) is shown.

    Issue 12: the old mask (first 6 and last 4) hid just the birth date, which every
    screen shows beside it, so the full number was rebuilt from one page. Given the area,
    the birth date and the gender (all shown to a masked viewer), the number is the
    3-digit sequence code plus its check character: hiding all of positions 7–18 leaves
    the 500 sequence codes of that gender, each giving a valid number. Showing any
    sequence digit would cut that tenfold, and the check character elevenfold.
    Shorter (bad) values show only their last 2 characters."""
    text = "" if no is None else str(no).strip()
    if len(text) >= 14:
        return _mask(text, 6, 0)
    return _mask(text, 0, 2)


def is_masked_form(shown: object, real: object) -> bool:
    """Whether ``shown`` is a masked spelling of ``real`` (any of our masks, old or new):
    same length, at least one ``*``, and every other character where ``real`` has it. A
    masked export imported back keeps the real value with it."""
    if not isinstance(shown, str) or real is None or "*" not in shown:
        return False
    real = str(real)
    return len(shown) == len(real) and all(
        s in ("*", r) for s, r in zip(shown, real, strict=True))


def mask_phone(phone: object) -> str:
    """"13812345678" -> "138****5678"; other numbers keep at most the first 3
    and the last 2 digits; under 7 digits only the last 2 are shown."""
    text = "" if phone is None else re.sub(r"[\s\-]", "", str(phone))
    if len(text) == 11 and text.startswith("1"):
        return _mask(text, 3, 4)
    if len(text) < 7:
        return _mask(text, 0, 2)
    return _mask(text, 3, 2)


# ---------------------------------------------------------------- phone

_MOBILE = re.compile(r"1[0-9]{10}")
# Area codes are 010 and 020–029, or four digits 03xx–09xx: never ambiguous.
_LANDLINE = re.compile(r"(0[12][0-9]|0[3-9][0-9]{2})?([2-9][0-9]{6,7})")


def normalize_phone(value: object) -> str | None:
    """Optional contact phone, spaces and dashes removed; None when blank.

    Mainland mobile: 11 digits starting with 1 (a +86 / 0086 prefix is dropped).
    Landline: 7–8 digits starting with 2–9, optionally after a 3–4 digit area
    code starting with 0; returned as "0512-65223344" or "65223344".
    """
    if value is None:
        return None
    text = _as_digit_text(value, "phone", "联系电话")
    text = re.sub(r"[\s\-－—()（）]", "", text)
    if not text:
        return None
    mobile = re.sub(r"^(?:\+86|0086|86)(?=1[0-9]{10}$)", "", text)
    if _MOBILE.fullmatch(mobile):
        return mobile
    match = _LANDLINE.fullmatch(text)
    if match:
        area, local = match.groups()
        return f"{area}-{local}" if area else local
    raise RuleViolation("联系电话格式不正确：应为11位手机号（如13812345678），"
                        "或7–8位固定电话，可带以0开头的区号（如0512-65223344）", "phone")
