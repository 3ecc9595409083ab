"""Printed documents of a retiree: the registration form (F1, F2) and the contact card
(A13), filled from the database."""
from __future__ import annotations

from flask import current_app

from core.registry.fields import FORM_FIELDS
from core.registry.models import Retiree
from core.registry.printing import contact_card_pdf, registration_form_pdf
from core.scoping import unscoped


def _ancestors(retiree: Retiree) -> dict:
    """District, street, community of a local resident (names of the user's ancestors
    are visible anyway; read unscoped so a community clerk's form names its district)."""
    out = {}
    with unscoped():
        node = retiree.community
        while node is not None:
            out[node.level] = node
            node = node.parent
    return out


def form_record(retiree: Retiree) -> dict:
    record = {f.name: getattr(retiree, f.name, None) for f in FORM_FIELDS if f.kind != "ref"}
    nodes = _ancestors(retiree)
    record.update(
        record_no=retiree.personal_no,
        employer_name=str(retiree.employer.current_successor().name) if retiree.employer else None,
        custodian_agency_name=retiree.custodian_agency.name if retiree.custodian_agency else None,
        district_name=nodes["district"].name if "district" in nodes else None,
        street_name=nodes["street"].name if "street" in nodes else None,
        community_name=nodes["community"].name if "community" in nodes else None,
    )
    return record


def registration_form_for(retiree: Retiree) -> bytes:
    """F1: both copies, one for the city centre, one for the community."""
    return registration_form_pdf(form_record(retiree),
                                 font_path=current_app.config.get("PDF_FONT_PATH"))


def contact_card_for(retiree: Retiree) -> bytes:
    """A13: the community's contacts for this retiree."""
    nodes = _ancestors(retiree)
    community, street = nodes.get("community"), nodes.get("street")
    card = {
        "name": retiree.name,
        "personal_no": retiree.personal_no,
        "community_name": community.name if community else "市退管中心（居外人员）",
        "community_address": community.address if community else None,
        "community_phone": community.phone if community else None,
        "street_name": street.name if street else None,
        "street_phone": street.phone if street else None,
        "centre_phone": current_app.config.get("CENTRE_PHONE"),
    }
    return contact_card_pdf(card, font_path=current_app.config.get("PDF_FONT_PATH"))
