"""The WSGI application gunicorn serves (`bin/web`): production settings unless told otherwise."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()

from config.startup import require_collected_static  # noqa: E402  (needs the settings loaded)

require_collected_static()
