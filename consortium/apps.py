from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class ConsortiumConfig(AppConfig):
    name = "consortium"
    verbose_name = _("Consortium")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from consortium import (
            services,  # noqa: F401  (the write rules of its models, as it loads)
            webhooks,  # noqa: F401  (the write rule of webhook subscriptions)
        )
        from consortium.middleware import remember_language
        from consortium.models import ConsortiumRole, Membership, Partner
        from consortium.querysets import access_changed
        from consortium.tasks import ensure_webhook_sweep_schedule

        # Who sees what is read once per request (`querysets.person_scope`): a request that
        # grants or ends someone's access reads it again after.
        for model in (ConsortiumRole, Membership, Partner):
            for signal in (post_save, post_delete):
                signal.connect(
                    access_changed, sender=model, dispatch_uid=f"access_{model.__name__}"
                )

        user_logged_in.connect(remember_language, dispatch_uid="consortium.remember_language")
        post_migrate.connect(ensure_webhook_sweep_schedule, sender=self)
