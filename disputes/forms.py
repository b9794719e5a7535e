from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from disputes.services import MAX_TEXT, DisputeRequest
from disputes.states import BUYER_PROPOSALS, SELLER_PROPOSALS, OutcomeType, Party, Reason
from disputes.states import RequestedOutcome as Wanted
from evidence.forms import EvidenceField, HeldFilesField, limits_help
from orders.models import OrderLine

YES_NO = [("yes", _("Yes, it arrived")), ("no", _("No, it never arrived"))]
FULL_PARTIAL = [("full", _("Full refund")), ("partial", _("Partial refund"))]


class OpenDisputeForm(forms.Form):
    """The questionnaire. Block 1: the problem. Block 2: what the buyer wants."""

    received = forms.ChoiceField(
        label=_("Did the parcel arrive?"), choices=YES_NO, widget=forms.RadioSelect
    )
    reason = forms.ChoiceField(label=_("What is the problem?"), choices=Reason.choices)
    description = forms.CharField(
        label=_("Describe the problem (in English)"),
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_TEXT}),
    )
    requested_outcome = forms.ChoiceField(
        label=_("What would you like?"), choices=Wanted.choices, widget=forms.RadioSelect
    )
    quantity = forms.IntegerField(label=_("How many items are concerned?"), min_value=1)
    amount_choice = forms.ChoiceField(
        label=_("Refund"), choices=FULL_PARTIAL, widget=forms.RadioSelect, initial="full"
    )
    evidence = EvidenceField(
        label=_("Photos and videos (an unpacking video is the best proof)"),
        help_text=format_lazy(
            "{} {}", _("Required unless the parcel never arrived."), limits_help()
        ),
    )
    # The files already sent with this questionnaire, kept while it was refused.
    held = HeldFilesField()
    requested_amount = forms.DecimalField(
        label=_("Amount you ask for"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        # Typed as the reader writes numbers: "12,50" in Russian, "12.50" in English.
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, line: OrderLine, **kwargs: Any) -> None:
        self.line = line
        kwargs.setdefault(
            "initial",
            {
                "quantity": line.quantity,
                "amount_choice": "full",
                "received": "yes",
                "requested_outcome": Wanted.REFUND_ONLY,
            },
        )
        super().__init__(*args, **kwargs)
        # The description is read in English (PORTAL_REQUIRE_LATIN_DESCRIPTION): said under
        # the field, and checked as the buyer types (open_dispute.js) and when it is sent.
        self.english_only = settings.PORTAL_REQUIRE_LATIN_DESCRIPTION
        if self.english_only:
            self.fields["description"].help_text = _(
                "Write it in English, in Latin letters: the arbitrators read every dispute "
                "in English. Digits, punctuation and emoji are fine."
            )
        self.fields["quantity"].max_value = line.quantity
        self.fields["quantity"].widget.attrs.update({"max": line.quantity, "min": 1})
        self.fields["requested_amount"].widget.attrs["max"] = str(line.amount_paid)
        # A parcel that never arrived can only be refunded: nothing to keep or send back,
        # so "what would you like?" is not asked (the page shows why instead).
        received = (
            self.data.get(self.add_prefix("received"))
            if self.is_bound
            else self.get_initial_for_field(self.fields["received"], "received")
        )
        self.not_received = received == "no"
        if self.not_received:
            self.fields["requested_outcome"].required = False
            self.fields["requested_outcome"].widget.attrs["disabled"] = True

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if data.get("received") == "no":
            if data.get("requested_outcome") == Wanted.RETURN_AND_REFUND:
                self.add_error(
                    "requested_outcome",
                    _(
                        "Nothing can be returned if the parcel never arrived: you can ask "
                        "for a refund."
                    ),
                )
            data["requested_outcome"] = Wanted.REFUND_ONLY
        if self.errors:
            return data
        cap = self.line.price_for(data["quantity"])
        if data["amount_choice"] == "full":
            data["requested_amount"] = cap
        elif data.get("requested_amount") is None:
            self.add_error("requested_amount", _("Enter the amount you ask for."))
            return data
        self.request = DisputeRequest(
            received=data["received"] == "yes",
            reason=data["reason"],
            description=data["description"],
            quantity=data["quantity"],
            requested_outcome=data["requested_outcome"],
            requested_amount=data["requested_amount"],
        )
        # The questionnaire's rules are the service's: checked once, when it is sent.
        return data


class RevisionForm(forms.Form):
    """Carries the revision the page was drawn at, so stale submissions are refused."""

    revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0)


class ProposalForm(RevisionForm):
    outcome = forms.ChoiceField(label=_("Solution"), widget=forms.RadioSelect)
    amount = forms.DecimalField(
        label=_("Amount"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=12,
        decimal_places=2,
        # Typed as the reader writes numbers: "12,50" in Russian, "12.50" in English.
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    note = forms.CharField(
        label=_("Explain"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": MAX_TEXT}),
    )

    def __init__(self, *args: Any, party: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = SELLER_PROPOSALS if party == Party.SELLER else BUYER_PROPOSALS
        if party == Party.SELLER:
            self.fields["note"].label = _("Explain (required for a rejection)")
        self.fields["outcome"].choices = [
            (value, label) for value, label in OutcomeType.choices if value in allowed
        ]


class DeclineForm(RevisionForm):
    """Say no to the proposal on the table, with an optional reason the other side reads
    (checked by ``dispute_decline``, which names the field to fix)."""

    reason = forms.CharField(
        label=_("Why? (optional; the other side reads it)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "maxlength": MAX_TEXT}),
    )


class MessageForm(forms.Form):
    body = forms.CharField(
        label=_("Message"), widget=forms.Textarea(attrs={"rows": 3, "maxlength": MAX_TEXT})
    )
    files = EvidenceField(label=_("Attach photos or videos"))


class EvidenceForm(forms.Form):
    files = EvidenceField(label=_("Photos and videos"), required=True)


class ShipmentForm(RevisionForm):
    """A parcel sent back or sent again: who carries it and its tracking number.

    Both fields are checked by the service (``check_tracking``), which names the field to
    fix; the form only carries what was typed, so a refusal can show it again."""

    carrier = forms.CharField(
        label=_("Carrier (postal service or courier)"),
        required=False,
        max_length=80,
        widget=forms.TextInput(attrs={"maxlength": 80, "autocomplete": "off"}),
    )
    tracking = forms.CharField(
        label=_("Tracking number"),
        required=False,
        max_length=80,
        widget=forms.TextInput(
            attrs={"maxlength": 80, "autocomplete": "off", "autocapitalize": "characters"}
        ),
    )


# --- replying to a ruling ----------------------------------------------------------------
class ObjectionForm(RevisionForm):
    """A party objects to the first ruling: why, and any new photos or videos. The reason
    is checked by the service (``dispute_reply_ruling``), which names the field to fix; the
    form only carries what was typed, so a refusal can show it again."""

    reason = forms.CharField(
        label=_("Why do you object? (the arbitrator reads this)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": MAX_TEXT}),
    )
    files = EvidenceField(label=_("New photos or videos (optional)"))


# --- arbitration in admin ----------------------------------------------------------------
# These forms only carry what staff typed: the services in disputes.services.arbitration and
# complaints.services decide what is legal and name the field to fix.
class AdminAssignForm(forms.Form):
    """Give an escalated case to an arbitrator (or to nobody). The list offers arbitrators;
    whoever is sent is checked by ``dispute_assign``."""

    assignee = forms.ModelChoiceField(
        label=_("Arbitrator"),
        queryset=None,
        required=False,
        empty_label=_("Nobody (unassign)"),
    )

    def __init__(self, *args: Any, arbitrators: Any, **kwargs: Any) -> None:
        from django.contrib.auth import get_user_model

        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        field.queryset = get_user_model().objects.filter(is_active=True)
        field.widget.choices = [("", field.empty_label)] + [
            (user.pk, user.get_full_name() or user.get_username()) for user in arbitrators
        ]


class AdminRulingForm(RevisionForm):
    """An arbitrator's ruling, with the reasons both sides will read."""

    outcome = forms.ChoiceField(label=_("Ruling"), widget=forms.RadioSelect)
    amount = forms.DecimalField(
        label=_("Amount (partial refund; optional for a return)"),
        required=False,
        max_digits=12,
        # Typed as the reader writes numbers: "12,50" in Russian, "12.50" in English.
        localize=True,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    reason = forms.CharField(
        label=_("Reasons (both sides will read them)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "maxlength": MAX_TEXT}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from disputes.states import RULINGS

        super().__init__(*args, **kwargs)
        self.fields["outcome"].choices = [
            (value, label) for value, label in OutcomeType.choices if value in RULINGS
        ]


class AdminEvidenceRequestForm(forms.Form):
    """Ask one side of an escalated case for more evidence, by a number of days."""

    party = forms.ChoiceField(
        label=_("Ask"),
        choices=[(Party.BUYER, _("The buyer")), (Party.SELLER, _("The seller"))],
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=_("What is needed"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": MAX_TEXT}),
    )
    days = forms.IntegerField(label=_("Days to answer"), required=False)
