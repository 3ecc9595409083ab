"""The printed registration form (F1, F2) and contact card (A13), read back with pdftotext."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from core.registry import printing
from core.registry.fields import FORM_FIELDS, LABELS
from core.registry.printing import (
    COPY_KEEPERS,
    INSTRUCTIONS,
    contact_card_pdf,
    registration_form_pdf,
)
from core.testing import missing, run

RECORD = {
    "record_no": "SZ-2024-000123",
    "name": "张秀英",
    "gender": "female",
    "birth_date": dt.date(1958, 3, 7),
    "id_card_no": "32050219580307002X",
    "personal_no": "00012345",
    "retirement_date": dt.date(2008, 3, 31),
    "retirement_type": "retired",
    "benefit": "basic_pension",
    "political_status": "cpc_member",
    "phone": "0512-65231234",
    "category": "enterprise",
    "employer": "1001",
    "employer_name": "苏州第一丝厂",
    "party_cadre": False,
    "residence_type": "local",
    "community": 7,
    "district_name": "金阊区",
    "street_name": "石路街道",
    "community_name": "彩香一村社区",
    "hukou_address": "苏州市金阊区彩香一村12幢301室",
    "residence_address": "苏州市金阊区三香路100号",
    "family_status": "minimum_living",
    "serious_illness": "tumour",
    "widowed_alone": True,
    "disabled": False,
    "health_notes": "高血压，定期复查",
    "employer_handler_name": "李明",
    "employer_handler_date": dt.date(2024, 12, 2),
    "community_worker_name": "王芳",
    "community_worker_date": "2024-12-05",
    "retiree_signed_name": "张秀英",
    "retiree_signed_date": dt.date(2024, 12, 6),
}

CARD = {
    "name": "张秀英",
    "personal_no": "00012345",
    "community_name": "彩香一村社区",
    "community_address": "苏州市金阊区彩香一村28幢",
    "community_phone": "0512-65311234",
    "coordinator_name": "王芳",
    "coordinator_phone": "13912345678",
    "street_name": "石路街道",
    "street_phone": "0512-65330000",
    "centre_phone": "8277608",
}


@pytest.fixture(scope="module")
def pdftotext() -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        missing("pdftotext missing: apt-get install -y poppler-utils")
    return exe


@pytest.fixture
def read_pages(pdftotext, tmp_path):
    """The text of each page of a PDF, in drawing order (``pdftotext -raw``)."""

    def read(pdf: bytes) -> list[str]:
        src = tmp_path / "doc.pdf"
        src.write_bytes(pdf)
        out = run([pdftotext, "-raw", "-enc", "UTF-8", str(src), "-"], check=True,
                  capture_output=True, seconds=60, waiting_for="pdftotext to read the PDF").stdout
        return out.decode("utf-8").split("\f")[:-1]

    return read


def compact(text: str) -> str:
    return re.sub(r"\s+", "", text)


def media_box(pdf: bytes) -> tuple[float, float]:
    boxes = set(re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf))
    assert len(boxes) == 1, boxes
    w, h = boxes.pop()
    return float(w), float(h)


# ----------------------------------------------------------------------------- F1


def test_F1_form_has_two_copies_labelled_with_keeper(read_pages):
    pages = read_pages(registration_form_pdf(RECORD))
    assert len(pages) == 2
    assert COPY_KEEPERS == ("市退管中心留存", "社区留存")
    for page, keeper in zip(pages, COPY_KEEPERS, strict=True):
        assert "企业退休人员基本信息登记表" in page
        assert f"（{keeper}）" in page
    assert "社区留存" not in pages[0]
    assert "市退管中心留存" not in pages[1]


def test_F1_both_copies_carry_the_same_data(read_pages):
    pages = [compact(p) for p in read_pages(registration_form_pdf(RECORD))]
    for page in pages:
        for value in ("张秀英", "32050219580307002X", "00012345", "SZ-2024-000123",
                      "苏州第一丝厂", "1958年03月07日", "2008年03月31日", "0512-65231234",
                      "苏州市金阊区彩香一村12幢301室", "苏州市金阊区三香路100号",
                      "高血压，定期复查"):
            assert value in page, value
    assert pages[0].replace("市退管中心留存", "") == pages[1].replace("社区留存", "")


def test_F1_form_is_a4_with_embedded_chinese_font():
    pdf = registration_form_pdf(RECORD)
    assert pdf.startswith(b"%PDF")
    assert media_box(pdf) == pytest.approx((595.28, 841.89), abs=0.1)
    assert b"/FontFile" in pdf  # embedded, not a CID font the viewer must supply
    assert b"NotoSansSC" in pdf


def test_F1_every_field_label_is_printed(read_pages):
    page = compact(read_pages(registration_form_pdf(RECORD))[0])
    for f in FORM_FIELDS:
        if f.section != "签字确认":
            assert f.label in page, f.label


def test_F1_long_values_keep_one_page_per_copy(read_pages):
    record = RECORD | {"health_notes": "长期卧床，需要专人护理；" * 40,
                       "hukou_address": "江苏省苏州市吴中区木渎镇金山路88号金山花园二期17幢" * 3}
    pages = read_pages(registration_form_pdf(record))
    assert len(pages) == 2
    assert "填表说明" in compact(pages[1])


def test_F1_empty_record_prints_a_blank_form(read_pages):
    pages = read_pages(registration_form_pdf({}))
    assert len(pages) == 2
    text = compact(pages[0])
    assert "None" not in text
    assert "✓" not in text  # nothing ticked
    assert "区：" in text and "街道（乡镇）：" in text and "社区（村）：" in text  # F5


# ----------------------------------------------------------------------------- F2


def test_F2_signature_lines_present(read_pages):
    for page in read_pages(registration_form_pdf(RECORD)):
        text = compact(page)
        for head in ("单位经办人（签字/盖章）", "社区工作人员（签字/盖章）", "退休人员本人（签字）"):
            assert head in text
        assert "签名：李明" in text and "日期：2024年12月02日" in text
        assert "签名：王芳" in text and "日期：2024年12月05日" in text
        assert "签名：张秀英" in text and "日期：2024年12月06日" in text


def test_F2_missing_signatures_leave_blank_lines(read_pages):
    record = {k: v for k, v in RECORD.items() if not k.startswith("retiree_signed")}
    text = compact(read_pages(registration_form_pdf(record))[0])
    assert "签名：李明" in text
    assert "退休人员本人（签字）签名：日期：" in text  # blank, ruled lines to sign on
    assert "2024年12月06日" not in text


def test_F2_choices_print_all_options_with_the_chosen_one_ticked(read_pages):
    text = compact(read_pages(registration_form_pdf(RECORD))[0])
    assert "无特困✓低保" in text  # F6: family status, 低保 ticked
    assert "✓恶性肿瘤" in text and "✓精神病" not in text  # F7
    assert "男✓女" in text
    assert "✓本地人员居外人员" in text  # F5
    assert "✓企业退休自谋职业协保原行业统筹" in text
    assert "✓基本养老金伤残抚恤金生活费" in text
    assert "✓中共党员" in text and "✓群众" not in text
    assert "鳏寡✓是否" in text  # booleans as 是/否 boxes
    assert "残疾是✓否" in text


def test_F2_choice_ticked_by_drawing_when_font_lacks_tick(read_pages, monkeypatch):
    real = printing._load_font
    monkeypatch.setattr(printing, "_load_font",
                        lambda spec: dataclasses.replace(real(spec), has_tick=False))
    pages = read_pages(registration_form_pdf(RECORD))
    assert len(pages) == 2
    assert "✓" not in pages[0]  # the tick is drawn, not a glyph
    assert "低保" in pages[0]


def test_F2_instructions_are_quoted_from_the_paper_form(read_pages):
    assert len(INSTRUCTIONS) == 9
    seed_dir = Path(__file__).resolve().parents[3] / "shared" / "seed"
    seeds = [p.read_text(encoding="utf-8") for p in sorted(seed_dir.glob("*.txt"))]
    seed = next((s for s in seeds if "填 表 说 明" in s), None)
    if seed is not None:
        head = seed.split("填 表 说 明", 1)[1].strip().splitlines()[:9]
        bodies = [re.sub(r"^\d[．.]", "", line.strip()) for line in head]
        assert list(INSTRUCTIONS) == bodies
    page = compact(read_pages(registration_form_pdf(RECORD))[0])
    assert "填表说明" in page
    for i, body in enumerate(INSTRUCTIONS, start=1):
        assert f"{i}．{body}" in page


def test_F3_employer_and_custodian_agency_names_printed(read_pages):
    record = RECORD | {"category": "self_employed", "employer": None, "employer_name": None,
                       "custodian_agency": 3, "custodian_agency_name": "金阊区就业管理服务所"}
    text = compact(read_pages(registration_form_pdf(record))[0])
    assert "企业退休✓自谋职业" in text
    assert "托管档案的就业管理机构金阊区就业管理服务所" in text


def test_F4_full_id_and_personal_number_printed(read_pages):
    text = read_pages(registration_form_pdf(RECORD))[0]
    assert "身份证号 32050219580307002X" in text  # unmasked: official form
    assert "个人编号 00012345" in text


def test_F5_community_parts_printed_for_local_and_blank_for_outside(read_pages):
    text = compact(read_pages(registration_form_pdf(RECORD))[0])
    assert "区：金阊区街道（乡镇）：石路街道社区（村）：彩香一村社区" in text
    outside = RECORD | {"residence_type": "outside"}
    text = compact(read_pages(registration_form_pdf(outside))[0])
    assert "本地人员✓居外人员" in text
    assert "彩香一村社区" not in text


# ----------------------------------------------------------------------------- A13


def test_A13_contact_card_has_community_phone(read_pages):
    pages = read_pages(contact_card_pdf(CARD))
    assert len(pages) == 1
    text = compact(pages[0])
    assert "联系卡" in text
    assert "社区服务站电话：0512-65311234" in text
    for value in CARD.values():
        assert value in text, value
    assert f"{LABELS['name']}：张秀英" in text
    assert f"{LABELS['personal_no']}：00012345" in text
    assert "市退管中心咨询电话：8277608" in text
    assert "协管员电话：13912345678" in text


def test_A13_contact_card_is_card_sized():
    pdf = contact_card_pdf(CARD)
    w, h = media_box(pdf)
    assert (w, h) == pytest.approx((90 / 25.4 * 72, 54 / 25.4 * 72), abs=0.1)
    assert b"/FontFile" in pdf


def test_A13_contact_card_missing_keys_leave_blank_lines(read_pages):
    text = compact(read_pages(contact_card_pdf({"name": "赵四"}))[0])
    assert "姓名：赵四" in text
    assert "None" not in text
    for label in ("社区服务站地址：", "社区服务站电话：", "退管协管员：", "市退管中心咨询电话："):
        assert label in text


def test_A13_contact_card_long_address_stays_on_the_card(read_pages):
    card = CARD | {"community_address": "苏州市金阊区彩香街道彩香一村第二社区28幢一楼社区劳动保障服务站"}
    pages = read_pages(contact_card_pdf(card))
    assert len(pages) == 1
    assert "社区服务站地址" in pages[0]


# ----------------------------------------------------------------------------- font


def test_font_path_argument_and_environment_override(monkeypatch, tmp_path):
    default = printing.resolve_font_path()
    assert Path(default).is_file()
    assert printing.resolve_font_path("/x/y.otf") == "/x/y.otf"
    monkeypatch.setenv(printing.FONT_ENV, str(tmp_path / "missing.otf"))
    assert printing.resolve_font_path() == str(tmp_path / "missing.otf")
    with pytest.raises(RuntimeError, match="font file not found"):
        registration_form_pdf(RECORD)
    assert registration_form_pdf(RECORD, font_path=default).startswith(b"%PDF")


def test_font_path_from_flask_config(monkeypatch, tmp_path):
    import flask

    monkeypatch.delenv(printing.FONT_ENV, raising=False)
    app = flask.Flask(__name__)
    app.config[printing.FONT_CONFIG_KEY] = str(tmp_path / "configured.otf")
    with app.app_context():
        assert printing.resolve_font_path() == str(tmp_path / "configured.otf")


def test_form_checks_its_font_once_per_process():
    """The font file is opened and checked for the first form only; later forms reuse
    it (issue #23: the work done is asserted, not the time, which depends on the load)."""
    registration_form_pdf(RECORD)  # font checked and cached
    before = printing._load_font.cache_info()
    assert registration_form_pdf(RECORD).startswith(b"%PDF")
    after = printing._load_font.cache_info()
    assert (after.misses, after.hits) == (before.misses, before.hits + 1)


@pytest.mark.parametrize("user", ["c_cl11", "s_cl1", "d_cl", "city"])
def test_F5_printed_form_and_card_name_the_community_for_every_level(
        user, client_for, create_retiree, read_pages):
    """The form's 所在社区 row and the card's community read the same for a community,
    street, district and city user (they were blank above the community)."""
    pk = create_retiree(1)
    client = client_for(user)
    form = compact("".join(read_pages(client.get(f"/retiree/print/{pk}").data)))
    assert "区：沧浪区" in form and "街道（乡镇）：双塔街道" in form and "社区（村）：东园社区" in form
    card = compact("".join(read_pages(client.get(f"/retiree/card/{pk}").data)))
    assert "东园社区" in card and "双塔街道" in card
