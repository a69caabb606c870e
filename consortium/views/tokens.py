"""The person's integration tokens: the list of them, the form that creates one (its secret is
shown once, in the answer), and the revoke button of each. The rules are `consortium/services.py`'s
(`integration_token_issue`, `integration_token_revoke`); the API offers the same at
`/api/v1/auth/tokens/`."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import path, reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consortium import services
from consortium.forms_tokens import IntegrationTokenForm
from consortium.formtools import add_service_error, flash_service_error
from consortium.models import IntegrationToken


@login_required
def integration_tokens(request: HttpRequest) -> HttpResponse:
    """List the person's tokens and create one; the new token's secret is on the answer to the
    form and nowhere else (it is not kept, and the answer is not cached)."""
    user = request.user
    form = IntegrationTokenForm(request.POST if request.method == "POST" else None)
    if form.is_bound and form.is_valid():
        try:
            token, secret = services.integration_token_issue(
                user=user,
                name=form.cleaned_data["name"],
                expires_in_days=form.cleaned_data["expires_in_days"],
                read_only=form.cleaned_data["read_only"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            response = render(
                request,
                "accounts/integration_token_created.html",
                {"token": token, "secret": secret},
            )
            add_never_cache_headers(response)
            return response
    tokens = IntegrationToken.objects.restrict(user).select_related("user").order_by("-id")
    return render(request, "accounts/integration_tokens.html", {"form": form, "tokens": tokens})


@login_required
@require_POST
def integration_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Revoke one of the person's tokens; another person's is a 404."""
    token = get_object_or_404(IntegrationToken.objects.restrict(request.user), pk=pk)
    try:
        services.integration_token_revoke(token=token, by=request.user)
    except ValidationError as error:
        flash_service_error(request, error)
    else:
        messages.success(
            request,
            _("The token “%(name)s” is revoked: requests sending it are refused from now on.")
            % {"name": token.name},
        )
    return HttpResponseRedirect(reverse("integration-tokens"))


urlpatterns = [
    path("accounts/tokens/", integration_tokens, name="integration-tokens"),
    path(
        "accounts/tokens/<int:pk>/revoke/",
        integration_token_revoke,
        name="integration-token-revoke",
    ),
]
