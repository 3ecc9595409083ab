import re
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import RuleViolation
from core.registry.validators import (
    check_id_card_consistency,
    id_card_birth_date,
    id_card_gender,
    mask_id_card,
    mask_phone,
    name_initials,
    normalize_id_card_no,
    normalize_personal_no,
    normalize_phone,
)

# GB 11643-1999 table form of the check digit, written independently of the
# module's modular-arithmetic form.
_W = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def make_id(area: str, born: str, seq: str = "123") -> str:
    body = area + born + seq
    return body + _CHECK[sum(int(c) * w for c, w in zip(body, _W, strict=True)) % 11]


def flip_check(no: str) -> str:
    return no[:17] + ("0" if no[17] != "0" else "1")


def rejects(func, value, field: str) -> RuleViolation:
    with pytest.raises(RuleViolation) as exc:
        func(value)
    assert exc.value.field == field
    assert re.search(r"[\u4e00-\u9fff]", exc.value.message), "message must be Chinese"
    return exc.value


# ---------------------------------------------------------------- F4 personal number

@pytest.mark.parametrize("raw, expected", [
    ("12345", "00012345"),
    (" 12345 ", "00012345"),
    ("1", "00000001"),
    ("12345678", "12345678"),
    ("00012345", "00012345"),
    (12345, "00012345"),
    (12345.0, "00012345"),
])
def test_F4_personal_no_left_padded(raw, expected):
    assert normalize_personal_no(raw) == expected


@pytest.mark.parametrize("raw", ["12a45", "ABCDEFGH", "1234 5", "12-345", "１２３４５", "12345.0"])
def test_F4_personal_no_rejects_letters(raw):
    err = rejects(normalize_personal_no, raw, "personal_no")
    assert err.rule == "F4"
    assert "数字" in err.message


@pytest.mark.parametrize("raw", ["123456789", 123456789, "000012345"])
def test_F4_personal_no_rejects_more_than_8_digits(raw):
    err = rejects(normalize_personal_no, raw, "personal_no")
    assert err.rule == "F4"
    assert "8位" in err.message


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_F4_personal_no_rejects_empty(raw):
    assert "不能为空" in rejects(normalize_personal_no, raw, "personal_no").message


@pytest.mark.parametrize("raw", [-12345, "-12345", -1.0])
def test_F4_personal_no_rejects_negative(raw):
    rejects(normalize_personal_no, raw, "personal_no")


@pytest.mark.parametrize("raw", [12345.5, float("nan"), float("inf")])
def test_F4_personal_no_rejects_fractional_float(raw):
    rejects(normalize_personal_no, raw, "personal_no")


@pytest.mark.parametrize("raw", [True, b"12345", [12345], 0, "00000000"])
def test_F4_personal_no_rejects_other_types_and_zero(raw):
    rejects(normalize_personal_no, raw, "personal_no")


@given(st.one_of(st.none(), st.text(), st.integers(), st.floats(), st.binary(), st.booleans()))
def test_F4_personal_no_any_input_valid_or_rule_violation(value):
    try:
        result = normalize_personal_no(value)
    except RuleViolation as err:
        assert (err.field, err.rule) == ("personal_no", "F4")
    else:
        assert re.fullmatch(r"[0-9]{8}", result)
        assert result != "00000000"


# ---------------------------------------------------------------- ID card

def test_id_card_checksum_valid():
    assert normalize_id_card_no("11010519491231002X") == "11010519491231002X"  # GB 11643 example
    assert normalize_id_card_no("360426199101010071") == "360426199101010071"
    no = make_id("320505", "19560708")
    assert normalize_id_card_no(f"  {no}\t") == no


def test_id_card_check_digit_agrees_with_stdnum():
    from stdnum.cn.ric import calc_check_digit

    for born in ("19500101", "19531231", "19600229", "19991111"):
        no = make_id("320508", born, "047")
        assert calc_check_digit(no) == no[17]
        assert normalize_id_card_no(no) == no


def test_id_card_lowercase_x_accepted_as_upper():
    assert normalize_id_card_no("11010519491231002x") == "11010519491231002X"


@pytest.mark.parametrize("area, born", [
    ("320571", "19530315"),  # Suzhou Industrial Park, created 1994
    ("320509", "19520101"),  # Wujiang District, created 2012
    ("320508", "19550620"),  # Gusu District, created 2012
    ("320999", "19500101"),  # unknown to any code table
])
def test_id_card_area_code_created_after_birth_is_accepted(area, born):
    no = make_id(area, born)
    assert normalize_id_card_no(no) == no


def test_id_card_bad_check_digit_rejected():
    no = make_id("320505", "19530315")
    err = rejects(normalize_id_card_no, flip_check(no), "id_card_no")
    assert "校验" in err.message


def test_id_card_transposed_digits_rejected():
    no = make_id("320505", "19530315", "127")
    swapped = no[:14] + no[15] + no[14] + no[16:]
    rejects(normalize_id_card_no, swapped, "id_card_no")


@pytest.mark.parametrize("born", ["19530230", "19531301", "19530000", "19000229", "19530132"])
def test_id_card_impossible_date_rejected(born):
    err = rejects(normalize_id_card_no, make_id("320505", born), "id_card_no")
    assert born in err.message


def test_id_card_leap_day_accepted():
    no = make_id("320505", "19560229")
    assert id_card_birth_date(normalize_id_card_no(no)) == date(1956, 2, 29)


def test_id_card_future_date_rejected():
    tomorrow = (date.today() + timedelta(days=1)).strftime("%Y%m%d")
    err = rejects(normalize_id_card_no, make_id("320505", tomorrow), "id_card_no")
    assert "晚于今天" in err.message


def test_id_card_before_1900_rejected():
    rejects(normalize_id_card_no, make_id("320505", "18991231"), "id_card_no")


@pytest.mark.parametrize("area", ["000000", "100000", "160000", "720000", "840000", "990000"])
def test_id_card_implausible_province_rejected(area):
    err = rejects(normalize_id_card_no, make_id(area, "19530315"), "id_card_no")
    assert area[:2] in err.message


@pytest.mark.parametrize(
    "area", ["110105", "460000", "540000", "650000", "710000", "810000", "820000", "830000"]
)
def test_id_card_every_province_prefix_accepted(area):
    no = make_id(area, "19530315")
    assert normalize_id_card_no(no) == no


def test_id_card_wrong_length_rejected():
    no = make_id("320505", "19530315")
    assert "17位" in rejects(normalize_id_card_no, no[:17], "id_card_no").message
    assert "19位" in rejects(normalize_id_card_no, no + "1", "id_card_no").message
    assert "15位" in rejects(normalize_id_card_no, "320505530315123", "id_card_no").message


@pytest.mark.parametrize("value", [
    None, "", "   ", 320505195303151234, 3.2e17, True, b"32050519530315123X",
    ["32050519530315123X"], "３２０５", "３２０５０５１９５３０３１５１２３４",
    "32050519530315123\x00", "\x00" * 18, "32050519530315123Y", "X2050519530315123X",
    "3205051953031512X3", "32050-19530315123X", "3" * 10_000, "ß" * 9,
])
def test_id_card_malformed_input_rejected(value):
    rejects(normalize_id_card_no, value, "id_card_no")


def test_id_card_int_from_excel_explains_text_format():
    assert "文本" in rejects(normalize_id_card_no, 320505195303151234, "id_card_no").message


@given(st.one_of(st.none(), st.text(), st.integers(), st.floats(), st.binary(), st.booleans(),
                 st.text(alphabet="0123456789Xx \t", min_size=15, max_size=20)))
def test_id_card_any_input_valid_or_rule_violation(value):
    try:
        result = normalize_id_card_no(value)
    except RuleViolation as err:
        assert err.field == "id_card_no"
    else:
        assert re.fullmatch(r"[0-9]{17}[0-9X]", result)
        assert result[17] == make_id(result[:6], result[6:14], result[14:17])[17]


@given(
    province=st.sampled_from(["11", "31", "32", "44", "65", "71", "81", "82"]),
    rest=st.from_regex(r"[0-9]{4}", fullmatch=True),
    born=st.dates(min_value=date(1900, 1, 1), max_value=date.today()),
    seq=st.from_regex(r"[0-9]{3}", fullmatch=True),
)
def test_id_card_every_well_formed_number_accepted(province, rest, born, seq):
    no = make_id(province + rest, born.strftime("%Y%m%d"), seq)
    assert normalize_id_card_no(no) == no
    assert id_card_birth_date(no) == born
    assert id_card_gender(no) == ("male" if int(seq[2]) % 2 else "female")


def test_id_card_birth_date_and_gender():
    male = make_id("320505", "19530315", "121")
    female = make_id("320505", "19530315", "128")
    assert id_card_birth_date(male) == date(1953, 3, 15)
    assert id_card_gender(male) == "male"
    assert id_card_gender(female) == "female"
    assert id_card_gender("11010519491231002X") == "female"


def test_id_card_consistency_agrees():
    no = make_id("320505", "19530315", "121")
    assert check_id_card_consistency(no, date(1953, 3, 15), "male") == []
    assert check_id_card_consistency(no, datetime(1953, 3, 15), "male") == []
    assert check_id_card_consistency(no, None, None) == []


def test_id_card_consistency_reports_each_field():
    no = make_id("320505", "19530315", "121")
    problems = check_id_card_consistency(no, date(1953, 5, 13), "female")
    assert [p.field for p in problems] == ["birth_date", "gender"]
    assert "1953-03-15" in problems[0].message
    assert "1953-05-13" in problems[0].message
    assert "女" in problems[1].message
    assert "男" in problems[1].message


def test_id_card_consistency_skips_none():
    no = make_id("320505", "19530315", "121")
    assert [p.field for p in check_id_card_consistency(no, None, "female")] == ["gender"]
    problems = check_id_card_consistency(no, date(1953, 1, 1), None)
    assert [p.field for p in problems] == ["birth_date"]


# ---------------------------------------------------------------- name initials

@pytest.mark.parametrize("name, expected", [
    ("张三", "zs"),
    ("张秀英", "zxy"),
    ("欧阳修", "oyx"),
    ("Tom张", "tomz"),
    ("张·三", "zs"),
    (" 李 四3 ", "ls"),
    ("Ａ王", "aw"),
    ("", ""),
    (None, ""),
])
def test_name_initials(name, expected):
    assert name_initials(name) == expected


@pytest.mark.parametrize("name, expected", [
    ("单雄信", "sxx"), ("曾国藩", "zgf"), ("解缙", "xj"), ("仇英", "qy"), ("查良镛", "zly"),
])
def test_name_initials_polyphonic_surnames(name, expected):
    assert name_initials(name) == expected


# ---------------------------------------------------------------- masking

def test_mask_id_card_shows_only_the_area_code():
    """Issue 12: neither the birth date nor a sequence digit nor the check character."""
    assert mask_id_card("320505195303151234") == "320505************"
    assert mask_id_card("11010519491231002X") == "110105************"
    assert mask_id_card(None) == ""
    assert mask_id_card("") == ""


def test_mask_id_card_never_shows_birth_date_of_odd_values():
    assert mask_id_card("320505530315123") == "320505*********"
    assert mask_id_card("12345") == "***45"


@pytest.mark.parametrize("phone, expected", [
    ("13812345678", "138****5678"),
    (13812345678, "138****5678"),
    ("0512-65223344", "051*******44"),
    ("65223344", "652***44"),
    ("6522334", "652**34"),
    ("123456", "****56"),
    ("12", "**"),
    ("", ""),
    (None, ""),
])
def test_mask_phone(phone, expected):
    assert mask_phone(phone) == expected


# ---------------------------------------------------------------- phone

@pytest.mark.parametrize("raw, expected", [
    ("13812345678", "13812345678"),
    ("138 1234 5678", "13812345678"),
    ("138-1234-5678", "13812345678"),
    ("+86 138 1234 5678", "13812345678"),
    (13812345678, "13812345678"),
    (13812345678.0, "13812345678"),
    ("0512-65223344", "0512-65223344"),
    ("051265223344", "0512-65223344"),
    ("(0512)65223344", "0512-65223344"),
    ("010-62345678", "010-62345678"),
    ("01062345678", "010-62345678"),
    ("65223344", "65223344"),
    (65223344, "65223344"),
    ("6522334", "6522334"),
    (None, None),
    ("", None),
    ("  ", None),
])
def test_phone_normalized(raw, expected):
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", [
    "1381234567", "138123456789", "23812345678", "123456", "12345678", "0512-123",
    "0512-652233445", 51265223344, "phone", "１３８１２３４５６７８",
    -13812345678, 1381234.5, True, b"13812345678",
])
def test_phone_rejected(raw):
    rejects(normalize_phone, raw, "phone")


@given(st.one_of(st.none(), st.text(), st.integers(), st.floats(), st.booleans()))
def test_phone_and_masks_any_input_never_crash(value):
    try:
        result = normalize_phone(value)
    except RuleViolation as err:
        assert err.field == "phone"
    else:
        assert result is None or re.fullmatch(r"1[0-9]{10}|(0[0-9]{2,3}-)?[2-9][0-9]{6,7}", result)
    assert "*" in mask_phone(value) or len(mask_phone(value)) == 0
    initials = name_initials(value if isinstance(value, str) else None)
    assert initials == "" or (initials.isascii() and initials.isalpha())
