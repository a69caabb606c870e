"""The coordinators' webhooks in the admin: the addresses subscribed to their consortia's events,
with the secret their receivers check signatures with, and the log of every delivery, which a
coordinator sends again. Every write calls the services of `consortium/webhooks.py`."""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, ngettext_lazy
from django.utils.translation import gettext_lazy as _

from consortium.adminkit import Decision, DecisionsMixin, badge, service_action
from consortium.models import (
    WebhookDelivery,
    WebhookDeliveryState,
    WebhookEventType,
    WebhookSubscription,
)
from consortium.permissions import ScopedModelAdmin
from consortium.webhook_delivery import webhook_body, webhook_target
from consortium.webhooks import webhook_redeliver, webhook_secret_rotate

STATE_TONES: dict[str, str] = {
    WebhookDeliveryState.PENDING: "amber",
    WebhookDeliveryState.DELIVERED: "green",
    WebhookDeliveryState.FAILED: "red",
}


class WebhookSubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=_("events"),
        choices=WebhookEventType.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The events posted to this address."),
    )

    class Meta:
        model = WebhookSubscription
        fields = ["consortium", "description", "url", "events", "is_active"]

    unresolved_host = ""

    def clean_url(self) -> str:
        """The address rule, under the field before anything is saved (the service asks it
        again as it saves)."""
        url = str(self.cleaned_data["url"])
        try:
            target = webhook_target(url, unresolved_ok=True)
        except ValidationError as refusal:
            raise ValidationError(refusal.error_dict["url"]) from None
        self.unresolved_host = "" if target.addresses else target.host
        return url


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ScopedModelAdmin):
    form = WebhookSubscriptionForm
    list_display = ["__str__", "consortium", "url", "events_display", "is_active"]
    list_filter = ["is_active", "consortium"]
    list_select_related = ["consortium"]
    search_fields = ["url", "description"]
    actions = ["rotate_secret"]
    readonly_fields = ["secret_display", "deliveries_display", "created_by", "created_at"]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        fields = ["consortium", "description", "url", "events", "is_active"]
        if obj is None:
            return fields
        return [*fields, *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if getattr(form, "unresolved_host", ""):
            messages.warning(
                request,
                gettext(
                    "The host name %(host)s leads to no address yet: its deliveries fail until "
                    "it does. Check the address."
                )
                % {"host": form.unresolved_host},
            )

    @admin.display(description=_("events"))
    def events_display(self, obj: WebhookSubscription) -> str:
        return ngettext("%(count)s event", "%(count)s events", len(obj.events)) % {
            "count": len(obj.events)
        }

    @admin.display(description=_("signing secret"))
    def secret_display(self, obj: WebhookSubscription) -> str:
        return format_html(
            '<code class="cm-secret">{}</code><div class="help">{}</div>',
            obj.secret,
            gettext(
                "Set it on the receiver: it checks with it that each delivery comes from here "
                "(the Webhook-Signature header). Keep it as secret as a password."
            ),
        )

    @admin.display(description=_("deliveries"))
    def deliveries_display(self, obj: WebhookSubscription) -> str:
        url = reverse("admin:consortium_webhookdelivery_changelist")
        return format_html(
            '<a href="{}?subscription__id__exact={}">{}</a>',
            url,
            obj.pk,
            gettext("The log of this webhook's deliveries"),
        )

    rotate_secret = service_action(
        webhook_secret_rotate,
        row="subscription",
        description=_("Give the selected webhooks a new signing secret"),
        done=ngettext_lazy(
            "%(count)s webhook has a new signing secret: set it on its receiver.",
            "%(count)s webhooks have a new signing secret: set it on their receivers.",
            "count",
        ),
    )


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(DecisionsMixin, ScopedModelAdmin):
    """The log: each event sent to each webhook, its state, attempts and the receiver's last
    answer; each attempt is a row of the delivery's history."""

    list_display = [
        "event_display",
        "event_time",
        "subscription",
        "state_display",
        "attempts",
        "response_status",
        "last_attempt_at",
        "excerpt_display",
    ]
    list_filter = ["state", "event__type", "subscription"]
    list_select_related = ["event", "subscription"]
    actions = ["redeliver"]
    fields = [
        "event_display",
        "event_id_display",
        "event_time",
        "subscription",
        "state_display",
        "attempts",
        "next_attempt_at",
        "last_attempt_at",
        "delivered_at",
        "response_status",
        "response_excerpt",
        "last_error",
        "body_display",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # The services emit events; a coordinator sends one again.

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # The log is read; "Send again" is the one thing done here.

    @admin.display(description=_("event"), ordering="event__type")
    def event_display(self, obj: WebhookDelivery) -> str:
        return format_html("{} <code>{}</code>", obj.event.get_type_display(), obj.event.type)

    @admin.display(description=_("event id"))
    def event_id_display(self, obj: WebhookDelivery) -> str:
        return format_html("<code>{}</code>", obj.event_id)

    @admin.display(description=_("happened at"), ordering="event__created_at")
    def event_time(self, obj: WebhookDelivery) -> Any:
        return obj.event.created_at

    @admin.display(description=_("state"), ordering="state")
    def state_display(self, obj: WebhookDelivery) -> str:
        return badge(obj.get_state_display(), STATE_TONES.get(obj.state))

    @admin.display(description=_("answer"))
    def excerpt_display(self, obj: WebhookDelivery) -> str:
        text = obj.last_error or obj.response_excerpt
        return text if len(text) <= 80 else f"{text[:79]}…"

    @admin.display(description=_("body"))
    def body_display(self, obj: WebhookDelivery) -> str:
        body = json.loads(webhook_body(obj.event))
        return format_html("<pre>{}</pre>", json.dumps(body, indent=2, ensure_ascii=False))

    redeliver = service_action(
        webhook_redeliver,
        row="delivery",
        description=_("Send the selected deliveries again"),
        done=ngettext_lazy(
            "%(count)s delivery is on its way again.",
            "%(count)s deliveries are on their way again.",
            "count",
        ),
    )

    # The same on the delivery's own page.
    decisions = [
        Decision.of(
            "redeliver",
            redeliver,
            label=_("Send again"),
            applies=lambda delivery: delivery.state != WebhookDeliveryState.PENDING,
        ),
    ]
