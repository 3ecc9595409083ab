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
AUTH_DB_FAKE_PASSWORD_HASH_CHECK = True
FAB_SECURITY_MANAGER_CLASS = "core.security.RetireeSecurityManager"

# i18n: Chinese first, English selectable (?_l_=en).
BABEL_DEFAULT_LOCALE = "zh"
BABEL_DEFAULT_FOLDER = "translations"
LANGUAGES = {
    "zh": {"flag": "cn", "name": "中文"},
    "en": {"flag": "gb", "name": "English"},
}

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

# Plugins: packages scanned for built-in plugins, the entry-point group for external
# ones, and a block-list of plugin names never loaded.
PLUGIN_PACKAGES = ["plugins", "districts"]
PLUGIN_ENTRY_POINT_GROUP = "retiree_admin.plugins"
PLUGINS_BLOCKLIST = []

# Background jobs: "inline" runs them in the web process (embedded default).
JOB_BACKEND = "inline"

# Printed documents: the city centre's consultation phone on the contact card (A13),
# and an optional font file for PDFs (default: Noto Sans SC from pylopdf-fonts-zh-cn).
CENTRE_PHONE = "0512-12333"
PDF_FONT_PATH = None
