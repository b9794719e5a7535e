"""Staff make integrations, their keys (shown once) and see every webhook delivery."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from api.keys import api_key_create, api_key_revoke
from api.models import ApiKey, Integration, WebhookDelivery, WebhookEndpoint
from api.webhooks import (
    UnsafeDestination,
    check_destination,
    new_secret,
    webhook_endpoint_rotate,
    webhook_replay,
)
from orders.admin import PagedList


class ApiKeyInline(admin.TabularInline):
    model = ApiKey
    extra = 0
    fields = ["name", "prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # keys are made with the action, which shows the secret once


@admin.register(Integration)
class IntegrationAdmin(PagedList, admin.ModelAdmin):
    list_display = ["name", "contact_email", "created_at"]
    search_fields = ["name"]
    inlines = [ApiKeyInline]
    actions = ["make_key"]

    @admin.action(description=_("Make a new API key (shown once)"), permissions=["change"])
    def make_key(self, request, queryset):
        for integration in queryset:
            _key, raw = api_key_create(
                integration=integration, name=f"made by {request.user}", user=request.user
            )
            self.message_user(
                request,
                format_html(
                    "{}: <code>{}</code> — {}",
                    integration,
                    raw,
                    _("copy it now: it is not shown again."),
                ),
                messages.WARNING,
            )


@admin.register(ApiKey)
class ApiKeyAdmin(PagedList, admin.ModelAdmin):
    list_display = ["name", "integration", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["integration", ("revoked_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["prefix", "created_at", "created_by", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        key, raw = api_key_create(integration=obj.integration, name=obj.name, user=request.user)
        obj.pk = key.pk
        self.message_user(
            request,
            format_html(
                "{} <code>{}</code> — {}",
                _("The new key:"),
                raw,
                _("copy it now: it is not shown again."),
            ),
            messages.WARNING,
        )

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(key=key)
        self.message_user(request, _("Revoked."))


class WebhookEndpointForm(forms.ModelForm):
    url = forms.URLField(max_length=500, assume_scheme="https")

    class Meta:
        model = WebhookEndpoint
        fields = ["integration", "url", "event_types"]

    def clean_url(self) -> str:
        url = self.cleaned_data["url"]
        try:
            check_destination(url)
        except UnsafeDestination as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(PagedList, admin.ModelAdmin):
    form = WebhookEndpointForm
    list_display = ["url", "integration", "event_types", "created_at", "disabled_at"]
    list_filter = ["integration", ("disabled_at", admin.EmptyFieldListFilter)]
    readonly_fields = ["created_at", "disabled_at", "disabled_reason"]
    actions = ["enable", "rotate"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.secret = new_secret()
            self.message_user(
                request,
                format_html(
                    "{} <code>{}</code> — {}",
                    _("Signing secret:"),
                    obj.secret,
                    _("give it to the marketplace now: it is not shown again."),
                ),
                messages.WARNING,
            )
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Enable again"), permissions=["change"])
    def enable(self, request, queryset):
        queryset.update(disabled_at=None, disabled_reason="")

    @admin.action(
        description=_("Rotate the signing secret (the old one signs for 24 h more)"),
        permissions=["change"],
    )
    def rotate(self, request, queryset):
        for endpoint in queryset:
            secret = webhook_endpoint_rotate(endpoint=endpoint)
            self.message_user(
                request, format_html("{}: <code>{}</code>", endpoint.url, secret), messages.WARNING
            )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(PagedList, admin.ModelAdmin):
    list_display = [
        "created_at",
        "event_type",
        "endpoint",
        "attempts",
        "last_status",
        "last_duration_ms",
        "delivered_at",
        "abandoned_at",
        "next_attempt_at",
    ]
    list_filter = [
        "event_type",
        ("delivered_at", admin.EmptyFieldListFilter),
        ("abandoned_at", admin.EmptyFieldListFilter),
    ]
    list_select_related = ["endpoint"]
    search_fields = ["message_id", "subject"]
    readonly_fields = [f.name for f in WebhookDelivery._meta.fields]
    actions = ["replay"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_replay_permission(self, request) -> bool:
        # The pages are read-only for everyone; sending again needs the change permission.
        return request.user.has_perm("api.change_webhookdelivery")

    @admin.action(
        description=_("Send again (as a new delivery of the same message)"),
        permissions=["replay"],
    )
    def replay(self, request, queryset):
        for delivery in queryset.select_related("endpoint"):
            webhook_replay(delivery=delivery)
        self.message_user(request, _("Queued %(n)d message(s) again.") % {"n": queryset.count()})
