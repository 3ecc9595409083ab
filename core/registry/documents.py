"""Printed documents of a retiree: the registration form (F1, F2) and the contact card
(A13), filled from the database.

PIPL (issue #12 item 1): the form is printed masked by default (ID number and phone
masked, no health data) for every role; the full form is an unmask the view grants
with a reason (``RetireeModelView.print_full``). The card carries no ID number, phone
or health data of the retiree."""
from __future__ import annotations

from flask import current_app

from core.registry.fields import FORM_FIELDS
from core.registry.models import Retiree
from core.registry.printing import (
    contact_card_pdf,
    contact_cards_pdf,
    registration_form_pdf,
    registration_forms_pdf,
)
from core.registry.validators import mask_id_card, mask_phone
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


# The form's fields behind the health permission (the views' HEALTH_COLUMNS).
HEALTH_FIELDS = frozenset({"serious_illness", "health_notes"})


def form_record(retiree: Retiree, full: bool = False, health: bool = False) -> dict:
    """What the form prints: ID number and phone masked unless ``full``; the health
    fields withheld unless ``health``."""
    record = {f.name: getattr(retiree, f.name, None) for f in FORM_FIELDS if f.kind != "ref"}
    if not full:
        record["id_card_no"] = mask_id_card(retiree.id_card_no)
        record["phone"] = retiree.phone and mask_phone(retiree.phone)
    if not health:
        record["withheld"] = HEALTH_FIELDS
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


def registration_form_for(retiree: Retiree, full: bool = False, health: bool = False) -> bytes:
    """F1: both copies, one for the city centre, one for the community; masked and
    without health data unless asked for (see :func:`form_record`)."""
    return registration_form_pdf(form_record(retiree, full, health),
                                 font_path=current_app.config.get("PDF_FONT_PATH"))


def registration_forms_for(retirees: list[Retiree]) -> bytes:
    """The masked forms of several people in one PDF, as :func:`registration_form_for`
    prints each by default (no full numbers, no health data)."""
    return registration_forms_pdf([form_record(r) for r in retirees],
                                  font_path=current_app.config.get("PDF_FONT_PATH"))


def contact_card_for(retiree: Retiree) -> bytes:
    """A13: the community's contacts for this retiree."""
    return contact_card_pdf(_card(retiree), font_path=current_app.config.get("PDF_FONT_PATH"))


def contact_cards_for(retirees: list[Retiree]) -> bytes:
    """A13: the cards of several people in one PDF, one per page."""
    return contact_cards_pdf([_card(r) for r in retirees],
                             font_path=current_app.config.get("PDF_FONT_PATH"))


def _card(retiree: Retiree) -> dict:
    nodes = _ancestors(retiree)
    community, street = nodes.get("community"), nodes.get("street")
    return {
        "name": retiree.name,
        "personal_no": retiree.personal_no,
        "community_name": community.name if community else "市退管中心（居外人员）",
        "community_address": community.address if community else None,
        "community_phone": community.phone if community else None,
        "street_name": street.name if street else None,
        "street_phone": street.phone if street else None,
        "centre_phone": current_app.config.get("CENTRE_PHONE"),
    }
