"""Django settings, all from the environment.

FANGPIN_DATA_DIR   where the SQLite database, the lake and uploads live (default ./var)
DATABASE_URL       e.g. postgres://user@host:5432/fangpin (default: SQLite in the data dir)
DB_CONN_MAX_AGE    seconds a served request's database connection is kept for the next one
                   (default 60 on PostgreSQL, 0 on SQLite)
SECRET_KEY         required when DEBUG is off in production; for a local run a
                   random key is generated once into FANGPIN_DATA_DIR/secret_key
DEBUG              1/true to turn on Django's debug pages (default off)
ALLOWED_HOSTS      comma-separated (default 127.0.0.1,localhost)
FANGPIN_HTTPS      1 behind HTTPS: secure cookies, HSTS, SSL redirect
FANGPIN_TRUSTED_PROXY        the reverse proxy's address, for ``fangpin serve``: the
                             client's address and scheme come from its X-Forwarded-*
FANGPIN_API_TOKEN_DAYS       how long a new API token lasts (default 90 days)
FANGPIN_LOGIN_FAILURE_LIMIT  failed logins before a lockout, per user name and per
                             address (default 5 in 15 minutes; docs/SECURITY.md)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


PACKAGE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("FANGPIN_DATA_DIR", "var")).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)
LAKE_DIR = DATA_DIR / "lake"
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY")
    if key:
        return key
    path = DATA_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG")
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "fangpin.common",
    "fangpin.regions",
    "fangpin.accounts",
    "fangpin.registry",
    "fangpin.policy",
    "fangpin.jobs",
    "fangpin.synth",
    "fangpin.funds",
    "fangpin.pairing",
    "fangpin.cases",
    "fangpin.feeds",
    "fangpin.screening",
    "fangpin.reports",
    "fangpin.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "fangpin.web.middleware.NulCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "fangpin.web.middleware.ChineseFirstLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
    "fangpin.web.middleware.DomainErrorMiddleware",
]

ROOT_URLCONF = "fangpin.config.urls"
WSGI_APPLICATION = "fangpin.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "fangpin.web.context.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'fangpin.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers work while an import writes; IMMEDIATE avoids lock upgrades mid-transaction.
    # A page cache of up to 64 MiB per connection (SQLite's default is 2 MiB): the registry's
    # indexes of a city stay in memory while a screening adds thousands of households to them
    # (a city-year's new members were written in 1.2 s with the default cache, 0.55 s with this).
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA cache_size=-65536;"
        ),
    }
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: PostgreSQL compiles a query estimated above jit_above_cost, which pays
    # off over millions of rows, not for a page's grouped counts over a county — compiling took
    # 15–40 ms of a 100 ms query (docs/PERFORMANCE.md, "Many users at once")
    _pg_options = DATABASES["default"].setdefault("OPTIONS", {})
    _pg_options["options"] = f"{_pg_options.get('options', '')} -c jit=off".strip()
    # A served request keeps its thread's connection for the next one (up to a minute idle,
    # checked before reuse): a new PostgreSQL connection forks a server process, which took
    # half the database's CPU at fifty users. Each server thread holds at most one connection.
    if "DB_CONN_MAX_AGE" not in os.environ:
        DATABASES["default"]["CONN_MAX_AGE"] = 60
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

# background jobs (fangpin.jobs): django-tasks with its database backend, run by `fangpin worker`
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# a running job whose worker has not touched it for this long counts as interrupted
FANGPIN_JOB_STALE_SECONDS = int(os.environ.get("FANGPIN_JOB_STALE_SECONDS", "120"))

# a feed batch accepted queues the screening of its years this much later; batches that
# arrive meanwhile join the queued run (fangpin.screening.jobs)
FANGPIN_SCREENING_DEBOUNCE_SECONDS = int(
    os.environ.get("FANGPIN_SCREENING_DEBOUNCE_SECONDS", "300")
)

# a list export of more rows than this is built by the worker (a job) rather than while the
# page waits
FANGPIN_EXPORT_INLINE_ROWS = int(os.environ.get("FANGPIN_EXPORT_INLINE_ROWS", "5000"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# django-axes (docs/SECURITY.md "Lockout"): FANGPIN_LOGIN_FAILURE_LIMIT failed logins within
# 15 minutes lock out a user name, from every address, and an address (REMOTE_ADDR), for
# every name: neither guessing one name's password from many addresses nor trying a password
# on many names from one address (spraying) goes on unlimited. A name+address pair needs no
# rule of its own, both rules count it. Axes holds every rule to the one limit (it compares
# the largest of their counts), so the per-address limit cannot differ from the per-name one.
AXES_FAILURE_LIMIT = int(os.environ.get("FANGPIN_LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = 0.25  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# a good login does not wipe the failures (they age out after the 15 minutes): axes would wipe
# the address's count too, so one login to an account of one's own would restart the spraying
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"

# the reverse proxy in front of ``fangpin serve`` (fangpin.web serve.behind_proxy): without
# it, every client has the proxy's address and the per-address lockout counts them as one
FANGPIN_TRUSTED_PROXY = os.environ.get("FANGPIN_TRUSTED_PROXY", "").strip()

# API tokens (docs/SECURITY.md "Tokens"): a new token lasts this many days unless revoked
FANGPIN_API_TOKEN_DAYS = int(os.environ.get("FANGPIN_API_TOKEN_DAYS", "90"))

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = DEBUG

FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
FANGPIN_IMPORT_MAX_BYTES = int(os.environ.get("FANGPIN_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
# separation of duties on relief cases (fangpin.cases.workflow.duty_refusal): the user who took
# one approval step may not take the next, and nobody decides a case they opened
FANGPIN_SEPARATION_OF_DUTIES = env_bool("FANGPIN_SEPARATION_OF_DUTIES", True)

# security: sensible by default, strict behind HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = 8 * 3600
CSRF_COOKIE_HTTPONLY = False  # htmx reads it for the X-CSRFToken header
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env_bool("FANGPIN_HTTPS"):
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
