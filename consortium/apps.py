from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConsortiumConfig(AppConfig):
    name = "consortium"
    verbose_name = _("Consortium")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from consortium import services  # noqa: F401  (the write rules of its models, as it loads)
        from consortium.middleware import remember_language

        user_logged_in.connect(remember_language, dispatch_uid="consortium.remember_language")
