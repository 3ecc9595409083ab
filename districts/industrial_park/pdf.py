"""The printed Park agreement (P1–P4), following the original's structure: title, party
A (insured unit, with unit number) and party B, the basis, party A's and party B's
duties, the three originals, the revision clause, then each side's stamp (an empty space
for the seal), representative, signature line, phone and date. One page per original, each labelled with its keeper.

Drawn with core's flowing-text ``core.pdfdoc.Document``, so the text can
be extracted.
"""
from __future__ import annotations

from core.pdfdoc import NUMERALS, Document, cn_date
from districts.industrial_park.models import ParkAgreementVersion
from districts.industrial_park.texts import (
    ORIGINALS_CLAUSE,
    PARTY_A_HEADING,
    PARTY_B_HEADING,
    PREAMBLE,
    REVISION_CLAUSE,
    TITLE,
)

# mm left empty under 签章: the round seal (about 42 mm) is pressed over this space and
# the date below it, as on the paper original; the block still fits the page.
STAMP_SPACE = 30.0


def _party(version: ParkAgreementVersion, p: str) -> dict[str, str]:
    def get(field: str):
        return getattr(version, f"party_{p}_{field}")

    return {"rep": get("representative") or "", "phone": get("phone") or "",
            "date": cn_date(get("signed_on"))}


def agreement_pdf(version: ParkAgreementVersion) -> bytes:
    """P1–P4: the three originals of ``version``, one page each, with its own text (the
    basis and duty texts of that version), so an old version prints as it was signed."""
    agreement = version.agreement
    doc = Document()
    doc.pdf.set_title(f"{TITLE} {agreement.agreement_no} 第{version.version_no}版")
    state = {"draft": "（待签订）", "superseded": f"（{cn_date(version.superseded_on)}起已被新版本取代）"}
    a, b = _party(version, "a"), _party(version, "b")
    for original in version.originals:
        doc.page(f"协议编号：{agreement.agreement_no}　第{version.version_no}版"
                 f"{state.get(version.status, '')}　正本{original.copy_no}/{len(version.originals)}"
                 f"（{original.holder_label}）")
        doc.title(TITLE)
        doc.para(f"甲方：{version.party_a_name}（参保单位）　单位编号：{version.party_a_unit_no}",
                 indent=False)
        doc.para(f"乙方：{version.party_b_name}", indent=False)
        if version.revision_reason:
            doc.para(f"修订说明：{version.revision_reason}", indent=False, pt=9.5)
        doc.para(PREAMBLE.format(basis=version.basis))
        for n, (heading, party) in enumerate(((PARTY_A_HEADING, "A"), (PARTY_B_HEADING, "B"))):
            doc.para(f"{NUMERALS[n]}、{heading}", bold=True, indent=False)
            for duty in version.duties_of(party):
                doc.para(f"{duty.item_no}、{duty.text}")
        doc.para(f"三、{ORIGINALS_CLAUSE}", indent=False)
        doc.para(f"四、{REVISION_CLAUSE}", indent=False)
        doc.pdf.ln(3)
        # Issue #14 item 21: the stamp and the signature are put on paper by hand; the
        # space for them stays empty, whatever the record says was done.
        doc.columns([
            ("甲方（签章）：", "乙方（签章）："),
            (f"甲方代表：{a['rep']}　签字：", f"乙方代表：{b['rep']}　签字："),
            (f"联系电话：{a['phone']}", f"联系电话：{b['phone']}"),
            (a["date"], b["date"]),
        ], space={0: STAMP_SPACE})
    return doc.output()
