# The portal's image: the web server by default; docker-compose.yml runs the Celery worker and
# beat from the same image with another command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MEDIA_ROOT=/app/var/media

WORKDIR /app

# Dependencies first: this layer is rebuilt only when pyproject.toml changes.
COPY pyproject.toml ./
RUN pip install . && rm -rf build ./*.egg-info

# The code, named one by one so that .venv/, var/ (the demo database, uploads) and .env (secrets)
# never end up in the image. A new top-level app or folder must be added here
# (tests/test_compose.py checks that every local app and template/static folder is).
COPY manage.py ./
COPY portal/ portal/
COPY accounts/ accounts/
COPY orders/ orders/
COPY disputes/ disputes/
COPY evidence/ evidence/
COPY refunds/ refunds/
COPY complaints/ complaints/
COPY dashboards/ dashboards/
COPY demo/ demo/
COPY locale/ locale/
COPY api/ api/
COPY operations/ operations/
COPY templates/ templates/
COPY static/ static/

# Static files are collected at build time and served by whitenoise; no database is needed.
# The settings refuse to load without a SECRET_KEY when DEBUG is off: this step gets a throw-away
# one of its own (not kept in the image's environment; compose gives the real one at run time).
RUN SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --noinput

# The code stays owned by root; the portal's user may only write under var/ (uploads, the
# beat schedule, mail files). The media folder exists in the image so that a named volume
# mounted there starts out owned by that user.
RUN groupadd --system --gid 1000 app \
    && useradd --system --uid 1000 --gid app --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin app \
    && mkdir -p /app/var/media /app/var/mail \
    && chown -R app:app /app/var

USER app

EXPOSE 8000

CMD ["gunicorn", "portal.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "2"]
