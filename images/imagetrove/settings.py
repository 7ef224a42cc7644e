"""MyTARDIS settings for the imagetrove image: every site-specific value comes from the
environment (docker-entrypoint.sh fills in and persists the secrets left unset)."""

import os

from .default_settings import *  # noqa: F403  (MyTARDIS's documented way)

SECRET_KEY = os.environ["MYTARDIS_SECRET_KEY"]
DEBUG = os.environ.get("MYTARDIS_DEBUG", "false") == "true"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("MYTARDIS_ALLOWED_HOSTS", "*").split(",")]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("MYTARDIS_DB_NAME", "tardis"),
        "USER": os.environ.get("MYTARDIS_DB_USER", "tardis"),
        "PASSWORD": os.environ.get("POSTGRES_PASSWORD", ""),
        "HOST": "127.0.0.1",  # the PostgreSQL in this container
        "PORT": "5432",
    }
}

DEFAULT_STORAGE_BASE_DIR = "/mytardis_store"
STAGING_PATH = "/mytardis_staging"
STATIC_ROOT = "/opt/mytardis/static"
# MyTARDIS's defaults are relative names, i.e. files in /opt/mytardis, which is not its user's.
SYSTEM_LOG_FILENAME = "/var/log/mytardis/request.log"
MODULE_LOG_FILENAME = "/var/log/mytardis/tardis.log"
if os.environ.get("CELERY_BROKER_URL"):
    BROKER_URL = CELERY_BROKER_URL = os.environ["CELERY_BROKER_URL"]
