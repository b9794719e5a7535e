"""What the dispute page shows a person: the dispute, its timeline, thread, evidence and
money, and the forms of the moves open to them now."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from disputes.forms import (
    DeclineForm,
    EvidenceForm,
    MessageForm,
    ObjectionForm,
    ProposalForm,
    RevisionForm,
    ShipmentForm,
)
from disputes.models import Dispute
from disputes.selectors import (
    dispute_evidence,
    dispute_messages,
    dispute_open_evidence_requests,
    dispute_timeline,
)
from disputes.services import evidence_allowance
from disputes.states import Closing, EventKind, Party
from refunds.selectors import dispute_coupon, refund_tracker


def detail_context(request: HttpRequest, dispute: Dispute, **forms: Any) -> dict[str, Any]:
    """What the dispute page shows this person, with the forms of the moves open to them
    (a refused form is passed in, to be shown again with what was typed)."""
    party = dispute.party_of(request.user)
    actions = {t.name for t in dispute.get_available_user_state_transitions(request.user)}
    revision = {"revision": dispute.revision}
    now = timezone.now()
    timeline = list(
        dispute_timeline(dispute=dispute, for_parties=party in (Party.BUYER, Party.SELLER))
    )
    return {
        "dispute": dispute,
        "party": party,
        "actions": actions,
        "timeline": timeline,
        # Why nothing is on the table while negotiating: the proposal declined last.
        "declined": next((e for e in reversed(timeline) if e.kind == EventKind.DECLINED), None)
        if dispute.is_negotiating and not dispute.proposal_type
        else None,
        "thread": list(dispute_messages(dispute=dispute)),
        "accept_form": RevisionForm(initial=revision),
        "decline_form": forms.get("decline_form")
        or (DeclineForm(initial=revision) if "decline" in actions else None),
        "propose_form": forms.get("propose_form")
        or (ProposalForm(initial=revision, party=party) if "propose" in actions else None),
        "message_form": forms.get("message_form") or MessageForm(),
        "evidence_form": forms.get("evidence_form") or EvidenceForm(),
        "evidence": list(dispute_evidence(dispute=dispute)),
        "evidence_left": evidence_allowance(dispute=dispute, party=party) if party else 0,
        "return_form": forms.get("return_form")
        or (ShipmentForm(initial=revision) if "ship_return" in actions else None),
        "replacement_form": forms.get("replacement_form")
        or (ShipmentForm(initial=revision) if "ship_replacement" in actions else None),
        "objection_form": forms.get("objection_form")
        or (ObjectionForm(initial=revision) if "object_ruling" in actions else None),
        # Only a case that reached the arbitrators can carry requests: no query otherwise.
        "evidence_requests": list(dispute_open_evidence_requests(dispute=dispute))
        if dispute.escalated_at
        else [],
        "refunds": list(refund_tracker(dispute_id=dispute.pk, today=timezone.localdate(now))),
        # A coupon is issued exactly when a dispute closes with one: no query otherwise.
        "coupon": dispute_coupon(dispute_id=dispute.pk)
        if dispute.closing == Closing.COUPON
        else None,
        "now": now,
    }
