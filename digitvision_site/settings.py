"""Django settings, read from the environment with safe local defaults (cookiecutter-django style)."""

from pathlib import Path

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# A local .env is optional (ENV_FILE names another); real deployments set the variables in the process
# environment, which wins over the file.
ENV_FILE = Path(env.str("ENV_FILE", default=str(BASE_DIR / ".env")))
if ENV_FILE.is_file():
    env.read_env(str(ENV_FILE))

# Off unless asked for: `make install` writes a .env (from .env.example) that turns it on for local development.
DEBUG = env.bool("DEBUG", default=False)

# The insecure key is only acceptable for local development; fail fast anywhere else.
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set when DEBUG is off; for local development set DEBUG=1 "
            "(`cp .env.example .env`, which `make install` does)."
        )
    SECRET_KEY = "django-insecure-local-development-only-digitvision"

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from here: the docs page needs no CDN
    "csp",
    "axes",  # failed sign-ins: locks out a username + address after repeated failures
    "imagekit",  # History's previews of the originals, made on first view
    "recognizer",
]

MIDDLEWARE = [
    "recognizer.request_log.RequestIdMiddleware",  # first: every log line of a request carries its id
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files from the app server, compressed and cached
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "recognizer.middleware.PageErrorMiddleware",  # the error hierarchy on pages: its message and status
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "axes.middleware.AxesMiddleware",  # last: answers a locked-out sign-in with 429
]

# Content-Security-Policy on every response: scripts only from our own static files (no inline script
# anywhere, the API docs included), nothing embeds our pages, forms post only to us. Inline style attributes
# stay allowed: the result panel sizes its probability bars with them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "blob:"],  # blob: the upload page previews the chosen photo
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# django-axes first, so a locked-out username + address is refused before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("AXES_COOLOFF_HOURS", default=0.25)  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_VERBOSE = False
# Failures are counted per username and client address, the address the API throttles use too.
AXES_CLIENT_IP_CALLABLE = "recognizer.client_address.client_address"

# Trusted proxies in front of the app (load balancer, nginx): 0 means clients connect directly and the
# socket's address is theirs; N means the N-th address from the right of X-Forwarded-For is (each proxy
# appends the one it saw). More than there really are would let clients choose their address.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
# A locked-out sign-in gets a page of the site: how long the pause lasts, and the password-reset link.
AXES_LOCKOUT_TEMPLATE = "429.html"

ROOT_URLCONF = "digitvision_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "digitvision_site.wsgi.application"
ASGI_APPLICATION = "digitvision_site.asgi.application"

DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web server and worker write the same file: wait for a lock instead of failing at once.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("timeout", 20)
# Persistent connections: opening one per request (a new PostgreSQL backend process each time) cost more CPU
# than the prediction itself. Health checks make a connection that died (database restarted) get replaced at
# the next request instead of failing it.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# API URLs answer a CSRF failure in the API's error shape; pages keep Django's page.
CSRF_FAILURE_VIEW = "recognizer.api.errors.csrf_failure"

# Logs go to stderr, one JSON object per line (time, level, logger, message, request_id, traceback), for a
# log collector; every line of a request carries its X-Request-ID. Errors (a 500's traceback) are never lost,
# whatever DEBUG says; SQL is never logged.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "recognizer.request_log.RequestIdFilter"}},
    "formatters": {"json": {"()": "recognizer.request_log.JsonFormatter"}},
    "handlers": {
        "stderr": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stderr",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stderr"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own loggers reach the root handler instead of their DEBUG-only console and mail handlers.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.server": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.db.backends": {"handlers": [], "level": "WARNING", "propagate": True},
        # Its warnings (each failed sign-in, each lockout, by username and address) without its INFO chatter.
        "axes": {"handlers": [], "level": "WARNING", "propagate": True},
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# Accounts (web pages): Django auth; password-reset mail goes to the console unless EMAIL_BACKEND says otherwise.
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "recognizer:draw"
LOGOUT_REDIRECT_URL = "login"
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="DigitVision <noreply@localhost>")

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))

MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / "media")))

# The model served by default: the checkpoint shipped in the repository.
DIGITVISION_CHECKPOINT = Path(
    env.str("DIGITVISION_CHECKPOINT", default=str(BASE_DIR / "ml" / "artifacts" / "digitnet.pt"))
)

# How often each web process asks which model version is active: a promotion reaches all within this time.
DIGITVISION_ACTIVE_VERSION_RECHECK_SECONDS = env.float("DIGITVISION_ACTIVE_VERSION_RECHECK_SECONDS", default=1.0)

# Uploads larger than this are refused before they are decoded.
DIGITVISION_MAX_UPLOAD_BYTES = env.int("DIGITVISION_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
# Images per POST /api/v1/predictions/batch/.
DIGITVISION_API_MAX_BATCH = env.int("DIGITVISION_API_MAX_BATCH", default=16)
# Django's cap on a request body outside file uploads: a JSON batch of base64 images (4/3 of the bytes) fits.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int(
    "DIGITVISION_MAX_REQUEST_BYTES", default=DIGITVISION_MAX_UPLOAD_BYTES * 4 // 3 * 2 + 64 * 1024
)

# Throttling and other per-client counters live in the cache: set CACHE_URL (e.g. redis://…/1) when several
# web processes serve, so they share one count; the default is per process.
CACHES = {
    "default": env.cache_url("CACHE_URL", default="locmemcache://"),
    # imagekit only remembers here which previews exist (it looks at the storage when it does not know), so
    # a per-process memory is enough, and History keeps working while a shared cache is down.
    "imagekit": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "imagekit"},
}
if CACHES["default"]["BACKEND"].endswith("RedisCache"):
    # A Redis that is down or hung costs a request at most a second before the throttles let it through.
    CACHES["default"].setdefault("OPTIONS", {}).update({"socket_connect_timeout": 1, "socket_timeout": 1})

IMAGEKIT_CACHE_BACKEND = "imagekit"
IMAGEKIT_CACHEFILE_DIR = "previews"
# A preview is named after its original's generated name (plus a hash of the spec): as unguessable as the original.
IMAGEKIT_SPEC_CACHEFILE_NAMER = "imagekit.cachefiles.namers.source_name_dot_hash"

REST_FRAMEWORK = {
    # Token first: an unauthenticated request then gets 401 with `WWW-Authenticate: Token`, not 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "recognizer.api.parsers.JSONParser",  # deeply nested JSON is a 400 parse_error, not a 500
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "recognizer.api.throttling.UserThrottle",
        "recognizer.api.throttling.AnonThrottle",
    ],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "recognizer.api.pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "recognizer.api.errors.exception_handler",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # Content negotiation by the Accept header only: no `?format=` override to document, fuzz or misuse.
    "URL_FORMAT_OVERRIDE": None,
    "NUM_PROXIES": NUM_PROXIES,  # DRF's rule for client addresses; our throttles use recognizer.client_address
}
# Requests per period ("N/second|minute|hour|day"), read on every request so they can be changed in tests.
DIGITVISION_API_THROTTLE_RATES = {
    "user": env.str("API_THROTTLE_USER", default="600/minute"),
    "anon": env.str("API_THROTTLE_ANON", default="60/minute"),
    "auth": env.str("API_THROTTLE_AUTH", default="10/minute"),  # token requests: slows password guessing
}

SPECTACULAR_SETTINGS = {
    "TITLE": "DigitVision API",
    "DESCRIPTION": (
        "Handwritten-digit recognition: send an image, get the digit, its calibrated confidence and all ten "
        "probabilities. Every prediction is kept in your history, where you can correct it. Authenticate with "
        "`Authorization: Token <key>` (POST /api/v1/auth/token/) or a browser session. Errors always have the "
        'shape `{"error": {"code", "message", "details"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"SourceEnum": "recognizer.models.Submission.Source"},
}

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Celery. The embedded default needs no server: kombu's filesystem transport keeps the queue in a folder
# shared by the web process and the worker (`make run` starts both). Deployments set CELERY_BROKER_URL to Redis.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
CELERY_BROKER_FOLDER = Path(env.str("CELERY_BROKER_FOLDER", default=str(BASE_DIR / ".celery-broker")))
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(CELERY_BROKER_FOLDER),
        "data_folder_out": str(CELERY_BROKER_FOLDER),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {}
)
CELERY_TASK_IGNORE_RESULT = True  # tasks write their outcome to the database rows they work on
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Each task (a retraining: PyTorch plus the MNIST replay, ~2 GB at its peak) runs in a fresh child process that
# exits afterwards, so an idle worker is small again instead of keeping PyTorch resident (`make bench-memory`).
CELERY_WORKER_MAX_TASKS_PER_CHILD = 1
CELERY_TASK_ACKS_LATE = True

# Publishing a task gives up quickly when the broker is down, so the person asking gets an answer at once.
DIGITVISION_TASK_PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_BROKER_CONNECTION_TIMEOUT = env.float("CELERY_BROKER_CONNECTION_TIMEOUT", default=3.0)
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = 3.0

# Retraining (a TrainingRun on a Celery worker).
DIGITVISION_TRAINING_TIME_LIMIT = env.int("DIGITVISION_TRAINING_TIME_LIMIT", default=600)  # seconds per run
# A run with no progress report for this long lost its worker; one queued this long found no worker.
DIGITVISION_TRAINING_STALE_SECONDS = env.int("DIGITVISION_TRAINING_STALE_SECONDS", default=120)
DIGITVISION_TRAINING_QUEUE_TIMEOUT = env.int("DIGITVISION_TRAINING_QUEUE_TIMEOUT", default=900)
# The Celery queue training runs go to (workers consume it by default).
DIGITVISION_TRAINING_QUEUE = env.str("DIGITVISION_TRAINING_QUEUE", default="celery")
# Fields of ml.retrain.RetrainConfig (JSON), e.g. {"epochs": 1} for a quick trial run; an unknown one fails the run.
DIGITVISION_RETRAIN_OPTIONS = env.json("DIGITVISION_RETRAIN_OPTIONS", default={})

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^health/$"]  # load balancers probe readiness over plain HTTP, from inside
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"
    X_FRAME_OPTIONS = "DENY"
