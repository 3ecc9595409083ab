"""Helpers of the Industrial Park tests: sign a version, accept an archive."""
from __future__ import annotations

PARTY_A = {"party_a_representative": "周明", "party_a_phone": "0512-62880001",
           "party_a_signed_on": "2025-03-03", "party_a_signed": True, "party_a_stamped": True}
PARTY_B = {"party_b_representative": "陈静", "party_b_phone": "0512-66680002",
           "party_b_signed_on": "2025-03-05", "party_b_signed": True, "party_b_stamped": True}


def sign(client, version: int, a: str = "2025-03-03", b: str = "2025-03-05", **extra):
    body = {**PARTY_A, **PARTY_B, "party_a_signed_on": a, "party_b_signed_on": b, **extra}
    return client.put(f"/api/v1/park_agreement_version/{version}", json=body)


def accept(app, retiree_id: int, on):
    """Accept an archive through core's service; True, or the refusal's text."""
    from core.errors import RuleViolations
    from core.extensions import db
    from core.registry import service
    from core.registry.models import Retiree

    with app.app_context():
        r = db.session.get(Retiree, retiree_id)
        try:
            service.accept_archive(db.session, r, on, "test")
        except RuleViolations as exc:
            db.session.rollback()
            return str(exc)
        db.session.commit()
        return True
