"""Coordinators' admin for the consortium itself: partners, organisations, people and their roles."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import InlineModelAdmin
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import UserCreationForm, UsernameField
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

import consortium.admin_webhooks as webhook_pages  # noqa: F401  (they register themselves)
from consortium import accounts, choices, second_factor, services
from consortium.adminkit import service_action
from consortium.models import (
    Consortium,
    ConsortiumRole,
    CostCategory,
    EmailAddressChange,
    Membership,
    Organisation,
    Partner,
    Profile,
    ReportingPeriod,
    SecondFactorChange,
)
from consortium.permissions import (
    CoordinatorPermissions,
    ReadOnlyTabularInline,
    ScopedInlineMixin,
    ScopedModelAdmin,
    ScopedTabularInline,
    ServiceSavedInlines,
    manageable_people,
)
from consortium.querysets import may_edit_organisation, people_managed_alone

User = get_user_model()

ACCESS_WHERE_THEY_WORK = _(
    "A person's access is switched off where they work: their membership of a partner (on the "
    "partner's team) or their role in the consortium."
)


class ConsortiumRoleInline(ScopedTabularInline):
    model = ConsortiumRole
    fields = ["user", "kind", "is_active"]
    autocomplete_fields = ["user"]
    show_change_link = False
    rows_select_related = ("user", "consortium")


class ReportingPeriodInline(ReadOnlyTabularInline):
    model = ReportingPeriod
    fields = ["number", "start_date", "end_date", "statement_due_date"]
    show_change_link = False


class CostCategoryInline(ScopedTabularInline):
    model = CostCategory
    fields = [
        "position",
        "code",
        "name",
        "kind",
        "flat_rate",
        "flat_rate_base",
        "evidence_required",
    ]
    show_change_link = False


class ConsortiumForm(forms.ModelForm):
    class Meta:
        model = Consortium
        fields = [
            "name",
            "acronym",
            "funder",
            "start_date",
            "end_date",
            "total_budget",
            "public_funding_share",
            "direct_jobs_target",
            "indirect_jobs_target",
            "jobs_horizon_years",
            "reporting_period_months",
            "statement_due_days",
        ]


@admin.register(Consortium)
class ConsortiumAdmin(ScopedModelAdmin):
    form = ConsortiumForm
    list_display = [
        "acronym",
        "name",
        "funder",
        "start_date",
        "end_date",
        "total_budget",
        "public_funding_share",
        "direct_jobs_target",
        "indirect_jobs_target",
    ]
    search_fields = ["acronym", "name", "funder"]
    inlines = [ConsortiumRoleInline, CostCategoryInline, ReportingPeriodInline]
    actions = ["regenerate_periods"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "name",
                    "name_fr",
                    "acronym",
                    "funder",
                    "agreement_number",
                    "start_date",
                    "end_date",
                ]
            },
        ),
        (_("Money"), {"fields": ["total_budget", "public_funding_share"]}),
        (
            _("Jobs targets"),
            {"fields": ["direct_jobs_target", "indirect_jobs_target", "jobs_horizon_years"]},
        ),
        (_("Reporting"), {"fields": ["reporting_period_months", "statement_due_days"]}),
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A new consortium has no coordinator yet: only a superuser sets one up.
        return request.user.is_superuser

    @admin.action(description=_("Regenerate the reporting periods from the dates"))
    def regenerate_periods(self, request: HttpRequest, queryset: QuerySet[Consortium]) -> None:
        for consortium in queryset:
            try:
                services.reporting_periods_generate(consortium=consortium, user=request.user)
            except ValidationError as error:
                self.message_user(
                    request, f"{consortium}: {' '.join(error.messages)}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    _("%(consortium)s: reporting periods regenerated.")
                    % {"consortium": consortium},
                    messages.SUCCESS,
                )


@admin.register(Organisation)
class OrganisationAdmin(ScopedModelAdmin):
    list_display = [
        "short_name",
        "legal_name",
        "kind",
        "enterprise_number_display",
        "vat_id",
        "city",
    ]
    list_filter = ["kind", "country"]
    search_fields = ["short_name", "legal_name", "enterprise_number", "vat_id", "city"]
    fields = [
        "legal_name",
        "short_name",
        "kind",
        "enterprise_number",
        "vat_id",
        "city",
        "country",
        "website",
    ]

    @admin.display(description=_("enterprise number"), ordering="enterprise_number")
    def enterprise_number_display(self, obj: Organisation) -> str:
        return obj.enterprise_number_display

    def read_only_reason(self, request: HttpRequest, obj: Any) -> str | None:
        return services.organisation_details_refusal(request.user, obj)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is not None and not may_edit_organisation(request.user, obj):
            # Another consortium relies on this legal entity too: its data is read-only here.
            return self.fields
        return super().get_readonly_fields(request, obj)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        # The history of a shared organisation names the other consortia's coordinators.
        organisation = self.get_object(request, unquote(object_id))
        if organisation is not None and not may_edit_organisation(request.user, organisation):
            raise Http404
        return super().history_view(request, object_id, extra_context)


class MembershipInline(ScopedTabularInline):
    model = Membership
    fields = ["user", "role", "is_active"]
    autocomplete_fields = ["user"]
    show_change_link = False
    rows_select_related = ("user", "partner__organisation")


# The rows other subjects keep per partner, shown on the partner's page (the money adds its budget
# lines): each adds its inline here as it loads, so that no app registers another app's admin.
PARTNER_INLINES: list[type[InlineModelAdmin]] = []


@admin.register(Partner)
class PartnerAdmin(ScopedModelAdmin):
    list_display = [
        "number",
        "organisation",
        "kind",
        "consortium",
        "role",
        "status",
        "default_funding_rate",
    ]
    list_display_links = ["number", "organisation"]
    list_filter = ["consortium", "role", "status", "organisation__kind"]
    search_fields = ["organisation__short_name", "organisation__legal_name"]
    autocomplete_fields = ["organisation"]
    list_select_related = ["organisation", "consortium"]
    inlines = [MembershipInline]
    fields = [
        "consortium",
        "organisation",
        "number",
        "role",
        "default_funding_rate",
        "jobs_commitment_direct",
        "jobs_commitment_indirect",
        "joined_on",
        "left_on",
        "status",
    ]

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[InlineModelAdmin]]:
        return [*super().get_inlines(request, obj), *PARTNER_INLINES]

    @admin.display(description=_("kind"), ordering="organisation__kind")
    def kind(self, obj: Partner) -> str:
        return obj.organisation.get_kind_display()


@admin.register(Membership)
class MembershipAdmin(ScopedModelAdmin):
    list_display = ["user", "partner", "role", "is_active"]
    list_filter = ["role", "is_active", "partner__consortium"]
    search_fields = ["user__username", "user__email", "partner__organisation__short_name"]
    autocomplete_fields = ["user", "partner"]
    list_select_related = ["user", "partner__organisation"]


@admin.register(ConsortiumRole)
class ConsortiumRoleAdmin(ScopedModelAdmin):
    list_display = ["user", "consortium", "kind", "is_active"]
    list_filter = ["kind", "is_active", "consortium"]
    search_fields = ["user__username", "user__email"]
    autocomplete_fields = ["user"]
    list_select_related = ["user", "consortium"]


@admin.register(ReportingPeriod)
class ReportingPeriodAdmin(ScopedModelAdmin):
    list_display = [
        "__str__",
        "consortium",
        "number",
        "start_date",
        "end_date",
        "statement_due_date",
    ]
    list_filter = ["consortium"]
    search_fields = ["consortium__acronym"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Periods are generated from the consortium's dates, never typed in.
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(CostCategory)
class CostCategoryAdmin(ScopedModelAdmin):
    list_display = ["name", "code", "consortium", "kind", "flat_rate", "flat_rate_base", "position"]
    list_filter = ["consortium", "kind"]
    search_fields = ["name", "code"]
    list_select_related = ["consortium", "flat_rate_base"]


admin.site.unregister(User)


class PersonRoleInline(ScopedTabularInline):
    model = ConsortiumRole
    fk_name = "user"
    fields = ["consortium", "kind", "is_active"]
    show_change_link = False
    rows_select_related = ("user", "consortium")


class PersonMembershipInline(ScopedTabularInline):
    model = Membership
    fk_name = "user"
    fields = ["partner", "role", "is_active"]
    autocomplete_fields = ["partner"]
    show_change_link = False
    rows_select_related = ("user", "partner__organisation")


class PersonProfileInline(ScopedInlineMixin, admin.StackedInline):
    """The person's language (of the app and of their emails) and their deadline reminders."""

    model = Profile
    fk_name = "user"
    fields = ["language", "deadline_reminders"]
    can_delete = False
    show_change_link = False
    max_num = 1


class PersonCreationForm(UserCreationForm):
    """A new person joins a partner at once, so that the coordinator who adds them keeps them in
    view (people outside every consortium are the superusers' business)."""

    partner = forms.ModelChoiceField(queryset=Partner.objects.none(), label=_("Partner"))
    membership_role = forms.ChoiceField(choices=choices.MembershipRole.choices, label=_("Role"))

    class Meta:
        model = User
        fields = ["username", "email", "first_name", "last_name"]
        field_classes = {"username": UsernameField}


@admin.register(User)
class PeopleAdmin(ServiceSavedInlines, CoordinatorPermissions, UserAdmin):
    """Coordinators see and add the people of their consortia; only superusers grant staff rights,
    set other people's passwords or change their email addresses (where password reset links go:
    changing it would hand the account over). People change their own address themselves,
    confirmed from the new one."""

    add_form = PersonCreationForm
    add_fieldsets = [
        (
            None,
            {
                "fields": [
                    "username",
                    "email",
                    "first_name",
                    "last_name",
                    "partner",
                    "membership_role",
                    "password1",
                    "password2",
                ]
            },
        )
    ]
    list_display = ["username", "email", "first_name", "last_name", "is_active", "last_login"]
    list_filter = ["is_active", "is_staff"]
    inlines = [PersonRoleInline, PersonMembershipInline, PersonProfileInline]
    actions = ["second_factor_reset"]

    second_factor_reset = service_action(
        second_factor.second_factor_reset,
        row="person",
        description=_("Reset two-step sign-in (a lost phone)"),
        done=ngettext_lazy(
            "Two-step sign-in reset for %(count)s person: they set it up again at their next "
            "sign-in.",
            "Two-step sign-in reset for %(count)s people: they set it up again at their next "
            "sign-in.",
            "count",
        ),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return (
            super()
            .get_queryset(request)
            .filter(pk__in=manageable_people(request.user).values("pk"))
        )

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        services.user_staff_sync(user=form.instance)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        changes = (_("Email address changes"), {"fields": ["email_changes"]})
        signing_in = (_("Two-step sign-in"), {"fields": ["second_factor"]})
        if request.user.is_superuser:
            return [*fieldsets, changes, signing_in]
        return [
            (None, {"fields": ["username"]}),
            (_("Personal info"), {"fields": ["first_name", "last_name", "email"]}),
            (_("Access"), {"fields": ["is_active", "last_login"]}),
            changes,
            signing_in,
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if request.user.is_superuser:
            return [*super().get_readonly_fields(request, obj), "email_changes", "second_factor"]
        if obj is not None and not people_managed_alone(request.user).filter(pk=obj.pk).exists():
            # Another consortium relies on this account too: its coordinator alone can't change it.
            return [
                "username",
                "first_name",
                "last_name",
                "email",
                "is_active",
                "last_login",
                "email_changes",
                "second_factor",
            ]
        # A new person's address is set as they are added; an existing person's is theirs. Their
        # access is switched off where they work (a membership, a role), whose services keep a
        # partner's last contact and a consortium's last coordinator.
        if obj is None:
            return ["last_login"]
        return ["email", "is_active", "last_login", "email_changes", "second_factor"]

    @admin.display(description=_("email address changes"))
    def email_changes(self, obj: Any) -> str:
        """Every change of the address (where password reset links go): when, old → new, who."""
        changes = EmailAddressChange.objects.filter(user_id=obj.pk).select_related("changed_by")
        return format_html_join(
            mark_safe("<br>"),
            "{} · {} → {} · {}",
            (
                (
                    date_format(timezone.localtime(change.changed_at), "SHORT_DATETIME_FORMAT"),
                    change.old_email or "–",
                    change.new_email,
                    change.changed_by.get_username() if change.changed_by else "–",
                )
                for change in changes
            ),
        ) or str(_("No change recorded."))

    @admin.display(description=_("two-step sign-in"))
    def second_factor(self, obj: Any) -> str:
        """On or off, and every change of it: when, before → after, what, who. A lost phone is
        reset with the list's action "Reset two-step sign-in"."""
        state = second_factor.second_factor_state(obj)
        changes = SecondFactorChange.objects.filter(user_id=obj.pk).select_related("changed_by")
        lines = format_html_join(
            mark_safe("<br>"),
            "{} · {} → {} · {} · {}",
            (
                (
                    date_format(timezone.localtime(change.changed_at), "SHORT_DATETIME_FORMAT"),
                    change.get_old_state_display(),
                    change.get_new_state_display(),
                    change.get_event_display(),
                    change.changed_by.get_username() if change.changed_by else "–",
                )
                for change in changes
            ),
        )
        return format_html(
            "<strong>{}</strong><br>{}", state.label, lines or _("No change recorded.")
        )

    def get_form(
        self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None:
            if not request.user.is_superuser:
                # Shown read-only, with the reason the service gives.
                form._meta.help_texts = {
                    **(form._meta.help_texts or {}),
                    "email": accounts.email_owner_only(),
                    "is_active": str(ACCESS_WHERE_THEY_WORK),
                }
            return form
        partners = Partner.objects.restrict(request.user, "manage").select_related("organisation")

        class ScopedPersonCreationForm(form):  # type: ignore[valid-type,misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                self.fields["partner"].queryset = partners

        return ScopedPersonCreationForm

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        new_email = None
        if change and "email" in form.changed_data:
            # Only a superuser's form has the field: the service records the change (who, when,
            # old, new) and tells the old address.
            new_email, obj.email = obj.email, form.initial.get("email", "")
        super().save_model(request, obj, form, change)
        if new_email is not None:
            accounts.user_email_set(user=obj, email=new_email, changed_by=request.user)
        if not change:
            services.membership_grant(
                partner=form.cleaned_data["partner"],
                user=obj,
                role=form.cleaned_data["membership_role"],
                granted_by=request.user,
            )

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> Any:
        # Django's log of a person's page names every consortium's coordinators and roles; roles
        # and memberships have their own history, scoped like every other row.
        if not request.user.is_superuser:
            raise Http404
        return super().history_view(request, object_id, extra_context)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> Any:
        # Setting someone else's password would let a coordinator sign in as a person who may
        # also work in another consortium: people reset their own by email.
        if not request.user.is_superuser and str(request.user.pk) != str(id):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)

    def get_inline_instances(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return super().get_inline_instances(request, obj) if obj is not None else []
