"""The plugin contract: every hook a plugin may implement.

A plugin is a module (or package) that defines ``PLUGIN = PluginInfo(...)`` and
implements any of the hooks below with ``@hookimpl`` (``from core.plugins import
hookimpl``). Name no submodule after a hook (``views.py`` beside a ``views`` hook):
importing it would replace the hook on the package; the loader refuses such a plugin.
Built-in plugins live in the packages ``plugins`` and ``districts``;
external ones are installed packages that name their module in the setuptools entry-point
group ``retiree_admin.plugins``. Both are discovered the same way at app creation.

Hooks return data; core registers and applies it. Contribution hooks are called once at
app creation for every loaded plugin. Rule, validation and event hooks are called per
record through ``PluginRegistry.hook_for(region)``, which leaves out plugins switched off
for that record's district, so a district's rule applies only where it is enabled.
Core's own rules are ``trylast`` implementations in ``core.defaults``: a plugin's
answer wins over them.
"""
from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("retiree_admin")


# --- contributions (called once per app, for every loaded plugin) -------------------

@hookspec
def migrations_dir():
    """Return the folder of the plugin's Alembic revisions (its own branch, whose
    first revision has ``branch_labels = ("<plugin name>",)`` and ``depends_on`` a core
    revision), or None when it has no tables."""


@hookspec
def roles():
    """Return a list of ``RoleSpec``: roles of the plugin's own (e.g. an outside office
    that approves a step). Core adds them to the built-in roles at app creation; the
    role rows are made by ``retiree-admin init`` like core's."""


@hookspec
def views():
    """Return a list of ``ViewSpec`` (FAB view class, menu name, category, icon) to
    register. Their permissions and menus follow the plugin's per-district switch."""


@hookspec
def apis():
    """Return a list of FAB ``ModelRestApi``/``BaseApi`` classes to register under
    ``/api/v1/``. They answer 403 where the plugin is switched off."""


@hookspec
def cli_commands():
    """Return a list of click commands or groups added to ``retiree-admin``."""


@hookspec
def charts():
    """Return a list of chart specifications for the supervisors' dashboard; they are
    shown only to users in regions where the plugin is enabled."""


# --- rules with one answer (first non-None result wins) ------------------------------

@hookspec(firstresult=True)
def is_in_pooling_area(district, on):
    """F9, A44: is ``district`` (a district ``Region``) inside the city pooling area on
    date ``on``? Return True or False, or None to leave the answer to others."""


@hookspec(firstresult=True)
def archive_centre_for(retiree):
    """A21, P2: the name of the archive centre that receives ``retiree``'s archive, or
    None to leave the answer to others."""


@hookspec(firstresult=True)
def enterprise_agreement(enterprise, on):
    """A12: may ``enterprise``'s retirees enter socialized management on date ``on``?
    Called (with the plugins enabled for the enterprise's district) before an archive is
    accepted. Return True when an agreement in force covers it, a Chinese message (str)
    saying what is missing to refuse, or None when no rule applies."""


@hookspec(firstresult=True)
def fee_schedule(retiree):
    """A35: the management fee due for ``retiree`` as a dict
    ``{"rate": Decimal, "years": int, "total": Decimal}``, or None."""


# --- validations (all results collected) ---------------------------------------------

@hookspec
def validate_retiree(retiree, session):
    """Called before a retiree is saved (form, API, import). Return a list of
    ``core.errors.RuleViolation`` (empty or None when the record is fine). An import
    calls it for every row but writes a chunk of rows together after their checks: a
    query made here does not see the chunk's earlier rows."""


# --- events (after something happened; return value ignored) --------------------------
# Called after the change is committed, with the plugins enabled for the record's region
# at that moment. The record's session is committed: write through a session of your own.

@hookspec
def retiree_registered(retiree):
    """A new retiree was registered (committed)."""


@hookspec
def retiree_moved(retiree, from_region, to_region):
    """A32: a retiree moved from one community (or the city centre) to another."""


@hookspec
def retiree_died(retiree):
    """A16: a retiree's death was reported."""


@hookspec
def archive_accepted(retiree):
    """A13: the retiree's archive was accepted; the community now manages the person."""
