"""SocialDesk settings: one file, read from the environment.

Every variable is documented in README.md and .env.example. A value that cannot be
parsed stops start-up with a message naming the variable.
"""

import json
import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SOCIALDESK_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # beat's schedule, locks and the demo's files


def env_str(name: str, default: str = "") -> str:
    """A string from the environment, or from the file named by NAME_FILE (for secrets)."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from exc
    return os.environ.get(name) or default  # set-but-empty means "use the default"


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean; use true or false.")


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer.") from None


def env_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number.") from None


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

# Without a SECRET_KEY only DEBUG (demo/development) may start; production must set one.
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY is not set. Set it, or set DEBUG=true for a demo.")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# Key for channel credentials at rest: one or more Fernet keys, comma separated, the first
# used for encryption (so keys can be rotated). Required unless DEBUG: a DEBUG demo without it
# uses a key derived from SECRET_KEY (socialdesk/crypto.py, which also reads credentials an
# older install encrypted that way; `manage.py rotate_credentials` re-encrypts them).
CREDENTIALS_KEYS = [key.strip() for key in env_str("CREDENTIALS_KEY").split(",") if key.strip()]
_MAKE_KEY = (
    "make one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())'"
)
if not CREDENTIALS_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "CREDENTIALS_KEY is not set. Production encrypts channel credentials with its own key "
        f"({_MAKE_KEY}); keep it apart from SECRET_KEY and back it up. Or set DEBUG=true for a "
        "demo."
    )
for _key in CREDENTIALS_KEYS:
    try:
        Fernet(_key)
    except ValueError:
        raise ImproperlyConfigured(
            f"CREDENTIALS_KEY must be 32 url-safe base64-encoded bytes ({_MAKE_KEY})"
        ) from None

# The simulator stands in for X and Facebook in demos and tests. Empty in production.
SIMULATOR_URL = env_str("SIMULATOR_URL").rstrip("/")
X_API_BASE_URL = env_str("X_API_BASE_URL", SIMULATOR_URL or "https://api.twitter.com").rstrip("/")
FACEBOOK_GRAPH_URL = env_str(
    "FACEBOOK_GRAPH_URL", SIMULATOR_URL or "https://graph.facebook.com"
).rstrip("/")
FACEBOOK_GRAPH_VERSION = env_str("FACEBOOK_GRAPH_VERSION", "v23.0")
SOCIAL_HTTP_TIMEOUT = env_float("SOCIAL_HTTP_TIMEOUT", 20.0)

# Meta webhooks (listening.webhooks): Facebook Pages and Messenger push their events to
# /webhooks/meta/, signed with the Meta app's secret. Without a secret the endpoint answers 404
# and the desk polls only. A DEBUG demo uses the secret the demo simulator signs with.
DEMO_META_APP_SECRET = "demo-meta-app-secret"
META_APP_SECRET = env_str("META_APP_SECRET", DEMO_META_APP_SECRET if DEBUG else "")
META_WEBHOOK_VERIFY_TOKEN = env_str(
    "META_WEBHOOK_VERIFY_TOKEN", "demo-verify-token" if DEBUG else ""
)
# A delivery with an entry whose `time` is older than this many seconds is refused as stale
# (Meta retries a failed delivery for up to 36 hours; the poll reads what is refused).
META_WEBHOOK_MAX_AGE = env_int("META_WEBHOOK_MAX_AGE", 48 * 3600)
# Attempts at processing a stored event before it is marked failed (transient errors only).
META_WEBHOOK_MAX_ATTEMPTS = env_int("META_WEBHOOK_MAX_ATTEMPTS", 8)
if META_WEBHOOK_MAX_AGE < 60 or META_WEBHOOK_MAX_ATTEMPTS < 1:
    raise ImproperlyConfigured(
        "META_WEBHOOK_MAX_AGE must be at least 60 seconds and META_WEBHOOK_MAX_ATTEMPTS at least 1."
    )
# Images attached to customers' posts are fetched from the networks' CDNs into the default
# storage (cases.media): HTTPS only, from these hosts only ("*.host" takes its subdomains),
# never from a private address. The simulator's origin (SIMULATOR_URL, tests and demo only)
# is allowed on top, over plain HTTP on 127.0.0.1.
MEDIA_FETCH_HOSTS = env_list(
    "MEDIA_FETCH_HOSTS",
    "pbs.twimg.com,video.twimg.com,ton.twitter.com,*.fbcdn.net,*.cdninstagram.com,"
    "lookaside.fbsbx.com",
)
MEDIA_FETCH_MAX_BYTES = env_int("MEDIA_FETCH_MAX_BYTES", 10 * 1024 * 1024)
MEDIA_FETCH_TIMEOUT = env_float("MEDIA_FETCH_TIMEOUT", 10.0)
MEDIA_FETCH_ATTEMPTS = env_int("MEDIA_FETCH_ATTEMPTS", 5)
if MEDIA_FETCH_MAX_BYTES < 1 or MEDIA_FETCH_TIMEOUT <= 0 or MEDIA_FETCH_ATTEMPTS < 1:
    raise ImproperlyConfigured(
        "MEDIA_FETCH_MAX_BYTES, MEDIA_FETCH_TIMEOUT and MEDIA_FETCH_ATTEMPTS must be positive."
    )

INSTALLED_APPS = [
    "socialdesk.admin_site.DeskAdminConfig",  # the admin, open to the admin group too
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "axes",
    "socialdesk",  # the project's own commands (load_demo)
    "listening",
    "cases",
    "qa",
    "sla",
    "alerts",
    "notifications",
    "csat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "socialdesk.params.RejectNulCharacters",  # 400, not a database error, for a NUL in a value
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "socialdesk.middleware.SessionTimeoutMiddleware",
    # Every view needs a signed-in user unless marked login_not_required (socialdesk/access.py).
    "socialdesk.access.SignInRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "socialdesk.middleware.PermissionsPolicyMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as axes asks: answers a locked-out sign-in with socialdesk.signin.lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "socialdesk.urls"
WSGI_APPLICATION = "socialdesk.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # socialdesk is the project, not an installed app: its template filters are named here.
            "libraries": {"desk": "socialdesk.templatetags.desk"},
        },
    },
]

# Database: PostgreSQL, always. DATABASE_URL, or else the embedded demo server that
# `make run` starts under var/ (socialdesk/embedded.py writes its URL to var/database_url).
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL and (VAR_DIR / "database_url").exists():
    DATABASE_URL = (VAR_DIR / "database_url").read_text().strip()
if not DATABASE_URL:
    raise ImproperlyConfigured(
        "DATABASE_URL is not set. Set it to a PostgreSQL URL "
        "(postgres://user:password@host:5432/socialdesk), or use `make run`, which starts an "
        "embedded PostgreSQL for the demo."
    )
try:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
except Exception as exc:  # dj_database_url raises several types on junk
    raise ImproperlyConfigured(f"DATABASE_URL cannot be parsed: {exc}") from exc
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured("DATABASE_URL must point at PostgreSQL (postgres://...).")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: REDIS_URL for the broker, the cache and the per-channel poll lock. Without it,
# the embedded demo uses a filesystem broker and a file-based cache under var/.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    _broker_dir = VAR_DIR / "broker"
    for sub in ("out", "processed", "control"):
        (_broker_dir / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "out"),
        "data_folder_out": str(_broker_dir / "out"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),  # broadcasts; default is the cwd
        "store_processed": False,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# The hard limit also sets when a reply left in "sending" counts as abandoned: that long plus
# REPLY_RECOVERY_MARGIN_SECONDS after its send began, the recovery takes it over.
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
CELERY_TASK_SOFT_TIME_LIMIT = max(CELERY_TASK_TIME_LIMIT - 60, CELERY_TASK_TIME_LIMIT * 2 // 3)
REPLY_RECOVERY_MARGIN_SECONDS = env_int("REPLY_RECOVERY_MARGIN_SECONDS", 60)
if CELERY_TASK_TIME_LIMIT < 1 or REPLY_RECOVERY_MARGIN_SECONDS < 0:
    raise ImproperlyConfigured(
        "CELERY_TASK_TIME_LIMIT must be 1 or more; REPLY_RECOVERY_MARGIN_SECONDS 0 or more (a"
        " reply is taken over from its worker only once that worker's task cannot be running)."
    )
# Seconds after an ambiguous send at which the sender looks for the reply on the network
# before it may post again: the network's read-after-write lag must fit in the last one.
REPLY_SETTLE_SCHEDULE = [float(v) for v in env_list("REPLY_SETTLE_SCHEDULE", "0,5,15,45,120,300")]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "poll-due-channels": {
        "task": "listening.tasks.poll_due_channels",
        "schedule": timedelta(seconds=env_int("POLL_TICK_SECONDS", 5)),
    },
    # Replies left in "sending" by a dead worker are taken over and reconciled; due retries
    # and due look-ups of replies being reconciled are enqueued (cases.sending, steps 7-8).
    # Stored webhook events whose Celery message was lost (or whose worker died) are
    # enqueued again: the event row, not the message, is the record (listening.webhooks).
    "sweep-webhook-events": {
        "task": "listening.tasks.sweep_webhook_events",
        "schedule": timedelta(seconds=15),
    },
    "recover-stuck-replies": {
        "task": "cases.tasks.recover_stuck_replies",
        "schedule": timedelta(seconds=10),
    },
    # Hides, shows and deletions on the networks: requeued after a dead worker, enqueued again
    # when due or when their first message was lost (cases.moderation, step 6).
    "recover-moderations": {
        "task": "cases.tasks.recover_moderations",
        "schedule": timedelta(seconds=10),
    },
    "auto-assign-cases": {
        "task": "cases.tasks.auto_assign_cases",
        "schedule": timedelta(seconds=10),
    },
    # Post images whose fetch was lost with its message, or is due a retry (cases.media).
    "fetch-waiting-media": {
        "task": "cases.tasks.fetch_waiting_media",
        "schedule": timedelta(seconds=30),
    },
    # Service-level clocks past their warning or breach point, each reported once (cases.sla).
    "advance-sla-states": {
        "task": "cases.tasks.advance_sla_states",
        "schedule": timedelta(seconds=30),
    },
    # Satisfaction surveys whose message was lost with the broker (csat.actions).
    "csat-offer-due-surveys": {
        "task": "csat.tasks.offer_due_surveys",
        "schedule": timedelta(seconds=60),
    },
    "wake-snoozed-cases": {
        "task": "cases.tasks.wake_snoozed_cases",
        "schedule": timedelta(seconds=60),
    },
    # Recent posts deleted at the source (X does not announce them), within each channel's
    # read budget; the budget is spread over 24 runs a day (listening.content).
    "check-deleted-posts": {
        "task": "listening.tasks.check_deleted_posts",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3000},
    },
    # Customer text older than DeskSettings.retention_days is blanked.
    "remove-expired-texts": {
        "task": "listening.tasks.remove_expired_texts",
        "schedule": timedelta(days=1),
    },
    # Samples each policy's last complete period once (SamplingRun is unique per period).
    "qa-run-due-sampling": {
        "task": "qa.tasks.run_due_sampling",
        "schedule": timedelta(hours=1),
    },
    # Keeps the dashboard's mention counts close behind the mentions (qa.volume).
    "qa-count-mentions": {
        "task": "qa.tasks.count_mentions",
        "schedule": timedelta(minutes=1),
    },
    # Run by a worker on beat's schedule: proves beat and a worker both work (alerts.liveness).
    "alerts-worker-heartbeat": {
        "task": "alerts.tasks.worker_heartbeat",
        "schedule": timedelta(seconds=15),
        "options": {"expires": 60},  # a stale heartbeat proves nothing: drop it
    },
    # Notification e-mails: stale claims taken back, lost messages enqueued again; digests
    # and coaching follow-ups that are due (notifications.delivery, notifications.followups).
    "notifications-sweep": {
        "task": "notifications.tasks.sweep_notification_emails",
        "schedule": timedelta(seconds=60),
        "options": {"expires": 120},
    },
    "notifications-digests": {
        "task": "notifications.tasks.send_notification_digests",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3000},
    },
    "notifications-follow-ups": {
        "task": "notifications.tasks.notify_follow_ups_due",
        "schedule": timedelta(hours=1),
        "options": {"expires": 3000},
    },
    "alerts-evaluate": {
        "task": "alerts.tasks.evaluate_alerts",
        "schedule": timedelta(seconds=60),
        "options": {"expires": 120},
    },
}
# Beat writes its own heartbeat on every tick, so a dead beat is told apart from a dead worker.
CELERY_BEAT_SCHEDULER = "alerts.liveness:HeartbeatScheduler"

# ---- Health thresholds and alerts (README "Health, alerts and monitors") ----
# Seconds without a beat tick / without a worker running the heartbeat task before either
# counts as dead.
# ---- Satisfaction surveys (README "Customer satisfaction") ----
# Seconds between resolving a case and sending its survey: a case reopened at once is not
# surveyed yet.
CSAT_SURVEY_DELAY_SECONDS = env_int("CSAT_SURVEY_DELAY_SECONDS", 60)
if CSAT_SURVEY_DELAY_SECONDS < 0:
    raise ImproperlyConfigured("CSAT_SURVEY_DELAY_SECONDS must be 0 or more (seconds).")

HEALTH_BEAT_STALE_SECONDS = env_int("HEALTH_BEAT_STALE_SECONDS", 60)
HEALTH_WORKER_STALE_SECONDS = env_int("HEALTH_WORKER_STALE_SECONDS", 90)
# Grace (seconds) past the reply recovery window, or past a queued reply's next_attempt_at,
# before a reply counts as stuck.
HEALTH_REPLY_STUCK_GRACE_SECONDS = env_int("HEALTH_REPLY_STUCK_GRACE_SECONDS", 120)
# Replies failed within the last hour at which "replies failing" is raised.
HEALTH_FAILED_REPLIES_PER_HOUR = env_int("HEALTH_FAILED_REPLIES_PER_HOUR", 1)
# Messages waiting in the Celery queue at which the queue counts as backed up.
HEALTH_QUEUE_DEPTH = env_int("HEALTH_QUEUE_DEPTH", 500)
# Quarantined records added in the last hour / day at which quarantine counts as growing.
HEALTH_QUARANTINE_PER_HOUR = env_int("HEALTH_QUARANTINE_PER_HOUR", 20)
HEALTH_QUARANTINE_PER_DAY = env_int("HEALTH_QUARANTINE_PER_DAY", 100)
# Intake gaps detected within this many hours degrade the desk (older ones are still shown).
HEALTH_INTAKE_GAP_HOURS = env_int("HEALTH_INTAKE_GAP_HOURS", 24)
# Minutes a channel may fail (no successful poll) before admins are notified.
ALERT_CHANNEL_FAILING_MINUTES = env_int("ALERT_CHANNEL_FAILING_MINUTES", 15)
# Who is told: comma-separated e-mail addresses; empty means the active admins' addresses.
ALERT_EMAILS = env_list("ALERT_EMAILS")
# Optional incoming-webhook URL (Slack, Mattermost, Teams) posted a JSON message per alert.
ALERT_WEBHOOK_URL = env_str("ALERT_WEBHOOK_URL")
# "text" ({"text": ...}: Slack, Mattermost, Teams connectors) or "adaptive-card" (Teams
# Workflows, which accept Adaptive Cards only).
ALERT_WEBHOOK_FORMAT = env_str("ALERT_WEBHOOK_FORMAT", "text")
if ALERT_WEBHOOK_FORMAT not in {"text", "adaptive-card"}:
    raise ImproperlyConfigured(
        f"ALERT_WEBHOOK_FORMAT={ALERT_WEBHOOK_FORMAT!r}: use text or adaptive-card."
    )
ALERT_WEBHOOK_TIMEOUT = env_float("ALERT_WEBHOOK_TIMEOUT", 10.0)
# Optional: a monitor presenting "Authorization: Bearer <token>" to /health/monitor gets the
# failing checks' causes too; without it the endpoint names the failing checks only.
HEALTH_MONITOR_TOKEN = env_str("HEALTH_MONITOR_TOKEN")

# E-mail (alerts), as Django's MAILERS. SMTP unless EMAIL_BACKEND names another backend
# (e.g. django.core.mail.backends.console.EmailBackend while trying things out).
_SMTP_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
_email_backend = env_str("EMAIL_BACKEND", _SMTP_BACKEND)
MAILERS = {
    "default": {
        "BACKEND": _email_backend,
        "OPTIONS": {
            "host": env_str("EMAIL_HOST", "localhost"),
            "port": env_int("EMAIL_PORT", 25),
            "username": env_str("EMAIL_HOST_USER"),
            "password": env_str("EMAIL_HOST_PASSWORD"),
            "use_tls": env_bool("EMAIL_USE_TLS", False),
            "use_ssl": env_bool("EMAIL_USE_SSL", False),
            "timeout": env_int("EMAIL_TIMEOUT", 10),
        }
        if _email_backend == _SMTP_BACKEND
        else {},
    }
}
# The hour (0-23, TIME_ZONE) at which daily notification digests are sent.
NOTIFICATION_DIGEST_HOUR = env_int("NOTIFICATION_DIGEST_HOUR", 7)
if not 0 <= NOTIFICATION_DIGEST_HOUR <= 23:
    raise ImproperlyConfigured(
        f"NOTIFICATION_DIGEST_HOUR={NOTIFICATION_DIGEST_HOUR}: use an hour from 0 to 23."
    )
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "socialdesk@localhost")
# The desk's address in alert messages (e.g. https://desk.example.com); empty: no link.
SITE_URL = env_str("SITE_URL").rstrip("/")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "cases:list"
LOGOUT_REDIRECT_URL = "login"

# Sign-in throttling (django-axes, socialdesk/signin.py): LOGIN_THROTTLE_ATTEMPTS failed
# sign-ins for one account from one client address pause that account at that address for
# LOGIN_THROTTLE_WINDOW seconds. Keyed on account + address, so nobody can lock an account's
# owner out from elsewhere. Behind reverse proxies, TRUSTED_PROXY_COUNT says how many append
# to X-Forwarded-For (0: the header is ignored and REMOTE_ADDR is the client).
LOGIN_THROTTLE_ATTEMPTS = env_int("LOGIN_THROTTLE_ATTEMPTS", 5)
LOGIN_THROTTLE_WINDOW = env_int("LOGIN_THROTTLE_WINDOW", 900)
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)
if TRUSTED_PROXY_COUNT < 0 or LOGIN_THROTTLE_ATTEMPTS < 1 or LOGIN_THROTTLE_WINDOW < 1:
    raise ImproperlyConfigured(
        "TRUSTED_PROXY_COUNT must be 0 or more; LOGIN_THROTTLE_ATTEMPTS and "
        "LOGIN_THROTTLE_WINDOW must be 1 or more."
    )
AUTHENTICATION_BACKENDS = [
    "socialdesk.signin.DeskAxesBackend",  # first: refuses a paused account + address
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = LOGIN_THROTTLE_ATTEMPTS
AXES_COOLOFF_TIME = timedelta(seconds=LOGIN_THROTTLE_WINDOW)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "socialdesk.signin.client_address"
AXES_LOCKOUT_CALLABLE = "socialdesk.signin.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept: failures are what matter
AXES_VERBOSE = False

# Sessions end after SESSION_IDLE_TIMEOUT seconds without a request, and in any case
# SESSION_MAX_AGE seconds after sign-in (socialdesk/middleware.py): this desk posts as the brand.
SESSION_IDLE_TIMEOUT = env_int("SESSION_IDLE_TIMEOUT", 8 * 3600)
SESSION_MAX_AGE = env_int("SESSION_MAX_AGE", 12 * 3600)
if SESSION_IDLE_TIMEOUT < 1800 or SESSION_MAX_AGE < SESSION_IDLE_TIMEOUT:
    raise ImproperlyConfigured(
        "SESSION_IDLE_TIMEOUT must be at least 1800 seconds and SESSION_MAX_AGE at least "
        "SESSION_IDLE_TIMEOUT."
    )
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT  # slid forward by the middleware (TOUCH_EVERY)

# The desk's own words are translated; what customers and agents wrote never is. The language
# is the one the user chose (the selector in the top bar, kept in a cookie), else the browser's
# Accept-Language, else English.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_SAMESITE = "Lax"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
WHITENOISE_AUTOREFRESH = DEBUG
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every start without it
# Hashed names and long cache lifetimes in production; plain files while developing.
# Stored post images (and anything else the desk keeps as files). Never served as public
# /media/ URLs: cases:media checks who asks. MEDIA_STORAGE_BACKEND takes any Django storage
# class (django-storages' S3, GCS, Azure...), MEDIA_STORAGE_OPTIONS its options as JSON.
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_STORAGE_BACKEND = env_str(
    "MEDIA_STORAGE_BACKEND", "django.core.files.storage.FileSystemStorage"
)
try:
    MEDIA_STORAGE_OPTIONS = json.loads(env_str("MEDIA_STORAGE_OPTIONS", "{}"))
except ValueError as exc:
    raise ImproperlyConfigured(f"MEDIA_STORAGE_OPTIONS is not JSON: {exc}") from None
if not isinstance(MEDIA_STORAGE_OPTIONS, dict):
    raise ImproperlyConfigured("MEDIA_STORAGE_OPTIONS must be a JSON object.")
STORAGES = {
    "default": {"BACKEND": MEDIA_STORAGE_BACKEND, "OPTIONS": MEDIA_STORAGE_OPTIONS},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
WHITENOISE_MANIFEST_STRICT = False  # a file missing from the manifest is served unhashed

# Security. The CSP allows no inline script; htmx is vendored and configured by a meta tag.
from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
    "base-uri": [CSP.SELF],
    "object-src": [CSP.NONE],
}
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads no cookie: the token is set on <body> as hx-headers
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
# Powerful browser features the desk never uses, denied to it and to anything it embeds.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "ambient-light-sensor", "autoplay", "bluetooth", "camera",
        "display-capture", "encrypted-media", "geolocation", "gyroscope", "hid",
        "idle-detection", "magnetometer", "microphone", "midi", "payment",
        "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "serial",
        "usb", "xr-spatial-tracking",
    )
}  # fmt: skip
if not DEBUG:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Load balancers and monitors probe over plain HTTP.
    SECURE_REDIRECT_EXEMPT = [r"^health/ping$", r"^health/monitor$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Every log record is scrubbed of tokens and secrets (socialdesk/logging.py), whatever logs it.
from socialdesk.logging import install_scrubbing  # noqa: E402

install_scrubbing()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "structured": {"()": "socialdesk.logging.KeyValueFormatter"},
    },
    "filters": {
        "scrub": {"()": "socialdesk.logging.ScrubFilter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["scrub"],
        },
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # tweepy's DEBUG lines carry the Authorization header: the channels' access tokens.
        "tweepy": {"level": "INFO"},
        # LOG_LEVELS: levels for single loggers, e.g. "listening.polling=DEBUG" (what each
        # polled page held, to trace an item), over LOG_LEVEL.
        **{
            name.strip(): {"level": level.strip().upper()}
            for name, _, level in (item.partition("=") for item in env_list("LOG_LEVELS"))
            if name.strip() and level.strip()
        },
    },
}
