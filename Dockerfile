# syntax=docker/dockerfile:1
# SocialDesk production image. The default command serves the web app under gunicorn; the same
# image runs migrations, the Celery worker, Celery beat and (demo profile only) the simulator:
# see docker-compose.yml. Configuration comes from the environment: see .env.example.

# Django 6 needs Python 3.12 or newer.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SOCIALDESK_VAR_DIR=/var/lib/socialdesk \
    STATIC_ROOT=/app/staticfiles

# An unprivileged user owns only the state directory (beat's schedule file lives there, and
# compose mounts a volume on it); the code and the collected static files stay read-only to it.
RUN groupadd --system --gid 10001 socialdesk \
    && useradd --system --uid 10001 --gid socialdesk --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin socialdesk \
    && install -d -o socialdesk -g socialdesk -m 0750 /var/lib/socialdesk

WORKDIR /app

# Dependencies in their own layer, read from pyproject.toml, so that a code change does not
# reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; \
deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; \
print('\n'.join(deps))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY . .

# `pip install` the project in place (--editable): settings.BASE_DIR is the directory above
# socialdesk/, and templates/, static/ and manage.py live in /app, not in site-packages.
# collectstatic only needs settings to load: a throwaway SECRET_KEY and CREDENTIALS_KEY (nothing
# is encrypted during the build), and database and Redis URLs
# that are parsed but never connected to. The scratch state directory keeps the build from
# leaving anything in /var/lib/socialdesk.
RUN pip install --no-deps --editable . \
    && DEBUG=false SECRET_KEY=build-only-not-a-secret SOCIALDESK_VAR_DIR=/tmp/build-var \
        CREDENTIALS_KEY=YnVpbGQtb25seS1ub3QtYS1zZWNyZXQtMDAwMDAwMDA= \
        DATABASE_URL=postgres://build@127.0.0.1:9/build REDIS_URL=redis://127.0.0.1:9/0 \
        python manage.py collectstatic --no-input \
    && rm -rf /tmp/build-var

USER socialdesk
EXPOSE 8000

# /health/ping answers 200 after a database round trip. Django answers 400 to a Host outside
# ALLOWED_HOSTS and redirects plain HTTP to HTTPS in production, so the probe sends the first
# allowed host and the X-Forwarded-Proto a TLS proxy would. python:slim has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as r; host = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('.*') or 'localhost'; r.urlopen(r.Request('http://127.0.0.1:8000/health/ping', headers={'Host': host, 'X-Forwarded-Proto': 'https'}), timeout=4)"]

CMD ["gunicorn", "socialdesk.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3"]
