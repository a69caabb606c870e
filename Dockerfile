# Consortium Manager's image: one image for the web processes, the workers and beat (docs/deploy.md).
# Built in two stages: the locked dependencies are installed with uv in the first, and only the
# virtual environment and the code reach the second, which runs as an unprivileged user.

FROM python:3.11-slim-bookworm AS build
ENV UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
RUN pip install --no-cache-dir "uv==0.13.8"
WORKDIR /app
# The dependencies first, so that a change to the code alone reuses this layer.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --no-install-project
COPY . .
RUN uv sync --frozen --no-dev


FROM python:3.11-slim-bookworm
# What WeasyPrint needs to write the reports' PDFs (the Makefile's SYSTEM_LIBS), and the
# PostgreSQL client `manage.py backup` and `restore` run (version 15, as the compose database).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 libfontconfig1 \
        fonts-dejavu-core postgresql-client \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=app:app /app /app
ENV PATH=/app/.venv/bin:$PATH \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    VAR_DIR=/app/var \
    MEDIA_ROOT=/data/media \
    PYTHONUNBUFFERED=1
# The static files are collected into the image; the settings need a key and a PostgreSQL
# address to load, never used here.
RUN SECRET_KEY=collectstatic-at-build-time-only-never-used-to-sign-anything-at-all \
    DATABASE_URL=postgres://build@127.0.0.1:5432/build \
    python manage.py collectstatic --no-input --verbosity 0 \
    && mkdir -p /data/media /data/backups \
    && chown -R app:app /data /app/var
USER 10001
VOLUME ["/data/media", "/data/backups"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/live/', timeout=4)"]
CMD ["bin/web"]
