from django.apps import AppConfig
from django.db.models.signals import post_migrate
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
        from consortium.tasks import ensure_webhook_sweep_schedule

        user_logged_in.connect(remember_language, dispatch_uid="consortium.remember_language")
        post_migrate.connect(ensure_webhook_sweep_schedule, sender=self)
