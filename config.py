"""Default settings of retiree-admin.

Never edit this file to deploy. Override, in this order (later wins):
1. a Python file named by the environment variable ``RETIREE_ADMIN_CONFIG``;
2. environment variables: ``DATABASE_URL``, ``SECRET_KEY``, and ``RETIREE_ADMIN_<KEY>``
   for any other key (values are parsed as JSON when they parse, else taken as text).
"""

DEFAULT_SECRET_KEY = "dev-only-change-me"
SECRET_KEY = DEFAULT_SECRET_KEY
# None means: SQLite file ``retiree_admin.db`` in the Flask instance folder.
SQLALCHEMY_DATABASE_URI = None
SQLALCHEMY_TRACK_MODIFICATIONS = False
# Each pooled connection is tested before use: after a database restart a stale one is
# replaced instead of failing a user's request (issue 12 item 10).
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}

# Development or demo: the only modes that may run with the default secret key.
DEMO_MODE = False

APP_NAME = "企业退休人员社会化管理服务系统"
APP_THEME = ""
APP_ICON = ""

# FAB: tables come from migrations, permissions from ``retiree-admin init`` (FAB_NOTES).
FAB_CREATE_DB = False
FAB_UPDATE_PERMS = False
FAB_ADD_SECURITY_API = False
FAB_API_SWAGGER_UI = False
FAB_API_MAX_PAGE_SIZE = 100
AUTH_TYPE = 1  # AUTH_DB
AUTH_USER_REGISTRATION = False
AUTH_ROLE_PUBLIC = "Public"
AUTH_ROLE_ADMIN = "system_admin"
# A hash checked when the user is unknown, so that the answer takes as long as for a wrong
# password (CVE-2025-24023). None: made at start-up with FAB_PASSWORD_HASH_METHOD.
AUTH_DB_FAKE_PASSWORD_HASH_CHECK = None
FAB_PASSWORD_HASH_METHOD = "scrypt"
FAB_SECURITY_MANAGER_CLASS = "core.security.RetireeSecurityManager"

# i18n: Chinese first, English selectable (?_l_=en).
BABEL_DEFAULT_LOCALE = "zh"
BABEL_DEFAULT_FOLDER = "translations"
LANGUAGES = {
    "zh": {"flag": "cn", "name": "中文"},
    "en": {"flag": "gb", "name": "English"},
}
# The language menu in the navigation bar: off, clerks work in Chinese (issue 14 item 5).
SHOW_LANGUAGE_SWITCH = False

WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None

# Region tree (A6, F9): the city seeded by ``init``; districts with their codes.
# 高新区 has no GB/T 2260 code of its own (it is administered with 虎丘区):
# 320590 is a project-assigned code in the unused 90–99 range.
CITY = {"code": "320500", "name": "苏州市"}
DISTRICTS = [
    {"code": "320502", "name": "沧浪区"},
    {"code": "320503", "name": "平江区"},
    {"code": "320504", "name": "金阊区"},
    {"code": "320505", "name": "虎丘区"},
    {"code": "320590", "name": "高新区"},
    {"code": "320506", "name": "吴中区"},
    {"code": "320507", "name": "相城区"},
    {"code": "320571", "name": "工业园区"},
]
# F9: the city pooling area (市区统筹范围). District plugins may widen it (A44).
POOLING_AREA_CODES = ["320502", "320503", "320504", "320505", "320590"]
# A43: the implementation rules are in force from this date.
RULES_IN_FORCE_FROM = "2024-12-01"
# A17: age from which a retiree counts as very old (高龄).
VERY_OLD_AGE = 80
# The most rows one batch action of the roster (print, cards, export, archives) takes.
BATCH_MAX_ROWS = 200

# Plugins: packages scanned for built-in plugins, the entry-point group for external
# ones, and a block-list of plugin names never loaded.
PLUGIN_PACKAGES = ["plugins", "districts"]
PLUGIN_ENTRY_POINT_GROUP = "retiree_admin.plugins"
PLUGINS_BLOCKLIST = []

# Background jobs: "inline" runs them in a thread of the web process (embedded
# default); "rq" queues them on Redis (REDIS_URL) for `retiree-admin worker` processes.
JOB_BACKEND = "inline"

# Printed documents: the city centre's consultation phone on the contact card (A13),
# and an optional font file for PDFs (default: Noto Sans SC from pylopdf-fonts-zh-cn).
CENTRE_PHONE = "0512-12333"
PDF_FONT_PATH = None
REDIS_URL = "redis://127.0.0.1:6379/0"
JOB_QUEUE = "retiree-admin"
JOB_TIMEOUT = 3600
# A running job moves its heartbeat this often; one whose heartbeat is older than
# JOB_STALE_SECONDS lost its worker and is shown as interrupted (已中断), resumable.
JOB_HEARTBEAT_SECONDS = 15
JOB_STALE_SECONDS = 120
# Uploaded import files, error reports and exports (full ID numbers and phones) are
# deleted after this many days (core.job_purge: hourly, and `retiree-admin jobs purge`).
JOB_FILE_RETENTION_DAYS = 7
# An API POST's Idempotency-Key answers a retry with the first answer for this long.
IDEMPOTENCY_KEEP_HOURS = 24
# Excel import limits (issue #13 item 11), one rule for the web, the CLI and the jobs:
# the file as uploaded (compressed) at most IMPORT_MAX_BYTES; unpacked, its parts at most
# IMPORT_MAX_RATIO times that (IMPORT_MAX_UNPACKED, None: derived so); and every part over
# 1 MB (and all parts together) at most IMPORT_MAX_RATIO times its compressed size. Real
# workbooks unpack 5–18× (this project's export 5.5×, README "Excel import"); zip bombs
# 200–1000×. The default admits the project's own export of 1,000,000 people (249 MB).
IMPORT_MAX_BYTES = 400 * 1024 * 1024
IMPORT_MAX_RATIO = 100
IMPORT_MAX_UNPACKED = None
# On PostgreSQL, an import of more rows than this is checked and written by IMPORT_WORKERS
# processes (core.registry.import_workers); SQLite and smaller files use one.
IMPORT_WORKERS = 2
IMPORT_PARALLEL_FROM_ROWS = 2000

# --- Security (MLPS 2.0 level 3, PIPL; docs/SECURITY.md lists each control) ----------
# Password policy, on every path that sets a password.
PASSWORD_MIN_LENGTH = 8
PASSWORD_MIN_CLASSES = 3  # of: lower case, upper case, digits, other characters
# zxcvbn's score (0–4) a password must reach: refuses common and guessable ones.
PASSWORD_MIN_SCORE = 3
# A new password may not be one of the last this many (the current one included).
PASSWORD_HISTORY = 5
PASSWORD_MAX_AGE_DAYS = 90  # then it must be changed; 0: never expires
# Passwords set by someone else (an administrator's screen, a reset, `users create`
# without --no-temporary) must be changed at first login.
PASSWORD_CHANGE_AT_FIRST_LOGIN = True
# FAB's own password fields use the same policy (core.auth.policy, set at start-up).
FAB_PASSWORD_COMPLEXITY_ENABLED = True
# Lockout: this many failures in a row lock the account for LOCKOUT_MINUTES.
LOCKOUT_THRESHOLD = 5
LOCKOUT_MINUTES = 30
# Login rate limits (form and /api/v1/security/login), per client address. Counters
# live in memory; give several workers a shared store: "redis://127.0.0.1:6379/0".
AUTH_RATE_LIMITED = True
AUTH_RATE_LIMIT = "20 per 5 minute"
RATELIMIT_ENABLED = True
RATELIMIT_STORAGE_URI = "memory://"
# A shared store that is down never fails a request: counting goes on in process memory
# until it answers again (Flask-Limiter logs the switch), issue 12 item 9.
RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
RATELIMIT_SWALLOW_ERRORS = True
RATELIMIT_STORAGE_OPTIONS = {"socket_connect_timeout": 1, "socket_timeout": 1}
# Kept aggregates (the home page's counts; core.caching): in-process by default. Several
# workers share them with CACHE_TYPE = "RedisCache" and CACHE_REDIS_URL = "redis://...".
CACHE_TYPE = "SimpleCache"
CACHE_DEFAULT_TIMEOUT = 300
# Optional TOTP second factor; mandatory for users holding one of these roles.
TOTP_ISSUER = "苏州退管"
TOTP_REQUIRED_ROLES = []  # e.g. ["system_admin", "city_admin", "security_admin"]
# Fernet key(s) encrypting TOTP secrets at rest, comma-separated, the first encrypting
# (None: derived from SECRET_KEY; set it in production and keep it across rotations).
TOTP_ENCRYPTION_KEY = None
# Sessions: idle timeout and absolute lifetime; API access tokens are short-lived.
SESSION_IDLE_MINUTES = 30
SESSION_ABSOLUTE_MINUTES = 8 * 60
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# False: the cookie is Secure whenever the request came over HTTPS (behind a proxy, set
# PROXY_FIX_X_PROTO = 1); True: always.
SESSION_COOKIE_SECURE = False
JWT_ACCESS_TOKEN_EXPIRES = 15 * 60  # seconds
JWT_REFRESH_TOKEN_EXPIRES = 8 * 60 * 60
# A refused token answers {"message": …} like every other refusal of the API (and as the
# OpenAPI document says), not flask-jwt-extended's {"msg": …}.
JWT_ERROR_MESSAGE_KEY = "message"
# Behind a reverse proxy: how many proxies to trust for X-Forwarded-For / -Proto.
PROXY_FIX_X_FOR = 0
PROXY_FIX_X_PROTO = 0
# Redirect to HTTPS and send HSTS (set when served over HTTPS).
FORCE_HTTPS = False
# Redirects after login go to our own pages only: absolute URLs must name one of these
# hosts (the value below matches no real host: relative URLs only).
FAB_SAFE_REDIRECT_HOSTS = ["retiree-admin.invalid"]
# Host names the app answers to (Flask); None accepts any. Set it in production.
TRUSTED_HOSTS = None
# Uploads: the largest request body; None: IMPORT_MAX_BYTES plus 1 MB for the rest of
# the form (core.app). The xlsx itself is checked again against IMPORT_MAX_BYTES, its
# unpacked size and its compression ratio (core.registry.excel).
MAX_CONTENT_LENGTH = None
# Audit trail: kept at least this many days (the purge refuses fewer than 180). The
# chain is keyed with AUDIT_KEY (None: derived from SECRET_KEY).
AUDIT_RETENTION_DAYS = 180
AUDIT_KEY = None
# Signed checkpoints of the audit head are also appended to this file, outside the
# database (issue #12 item 13): give it a path the database owner cannot rewrite.
AUDIT_CHECKPOINT_FILE = None
# A33 data release: exports of more rows than this need an approved release request,
# which stays usable this many days.
RELEASE_FREE_ROWS = 100
RELEASE_VALID_DAYS = 30
