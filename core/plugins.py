"""Plugin discovery, per-district switches, and calling hooks for a region.

Built in the app factory (never at import): built-ins from ``PLUGIN_PACKAGES`` and
external packages from the entry-point group are loaded alike, less the block-list;
``check_pending`` makes a misspelt hook fail at start. A plugin is on for a region when
the nearest setting on the region or one of its ancestors says so (a district's own
setting wins over the city's); a user at city level reaches a plugin's screens when it is
on anywhere below. Every switch is recorded in ``PluginChange``.
"""
from __future__ import annotations

import contextvars
import importlib
import importlib.metadata
import pkgutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType

import pluggy
from flask import g, has_request_context
from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core import hookspecs
from core.errors import RuleViolation

hookimpl = pluggy.HookimplMarker("retiree_admin")
# Settings read once for a block of batch work (``PluginRegistry.settings_read_once``).
_batch_settings: contextvars.ContextVar = contextvars.ContextVar("ra_plugin_settings",
                                                                 default=None)
# The plugins off for each region path, found once per such block.
_batch_off: contextvars.ContextVar = contextvars.ContextVar("ra_plugins_off", default=None)


@dataclass(frozen=True)
class PluginInfo:
    """What a plugin declares about itself (``PLUGIN = PluginInfo(...)``)."""

    name: str
    title: str
    version: str
    description: str = ""
    requires: tuple[str, ...] = ()
    # Codes of the districts that may enable it; empty: any district.
    regions: tuple[str, ...] = ()


@dataclass(frozen=True)
class RoleSpec:
    """A role a plugin contributes (hook ``roles``): its code, Chinese title, the region
    levels it may be attached to, its rank (who may grant it) and its permission rules
    (FAB_ROLES patterns: ``[[view regex, permission regex], ...]``); ``demo_login``: the
    login ``retiree-admin demo`` makes for it (at the role's highest level), if any."""

    name: str
    title: str
    levels: tuple[str, ...]
    rank: int
    permissions: tuple[tuple[str, str], ...]
    demo_login: str | None = None


@dataclass(frozen=True)
class ViewSpec:
    """A view a plugin contributes: class, menu name, category (Chinese)."""

    view: type
    name: str
    category: str
    icon: str = "fa-puzzle-piece"
    category_icon: str = "fa-puzzle-piece"
    href: str | None = None


class PluginSetting(Model):
    """Whether a plugin is on for one region (district, or the city for all)."""

    __tablename__ = "plugin_setting"
    __table_args__ = (UniqueConstraint("plugin", "region_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin: Mapped[str] = mapped_column(String(64), nullable=False)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    region = relationship("Region")


class PluginChange(Model):
    """Audit of every plugin switch: who, when, where, old → new."""

    __tablename__ = "plugin_change"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    plugin: Mapped[str] = mapped_column(String(64), nullable=False, index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id"), nullable=False)
    old_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    new_enabled: Mapped[bool] = mapped_column(Boolean, nullable=False)
    changed_by: Mapped[str] = mapped_column(String(64), nullable=False)
    changed_at: Mapped[datetime] = mapped_column(DateTime, nullable=False, default=datetime.now)
    region = relationship("Region")


@dataclass
class LoadedPlugin:
    info: PluginInfo
    module: ModuleType
    view_names: set[str] = field(default_factory=set)


class PluginRegistry:
    """The app's plugin manager; reach it as ``current_app.extensions["retiree_admin.plugins"]``."""

    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("retiree_admin")
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, LoadedPlugin] = {}
        self._view_owner: dict[str, str] = {}
        self._relays: dict[frozenset, _SubsetRelay] = {}

    # --- loading --------------------------------------------------------------------
    def load(self, packages: list[str], entry_point_group: str, blocklist: list[str],
             core_modules: list[ModuleType]) -> None:
        for module in core_modules:
            self.pm.register(module, name=f"core:{module.__name__}")
        for module in self._discover(packages, entry_point_group):
            info = getattr(module, "PLUGIN", None)
            if not isinstance(info, PluginInfo):
                raise RuntimeError(f"插件模块 {module.__name__} 缺少 PLUGIN = PluginInfo(...)")
            if info.name in blocklist:
                continue
            if info.name in self.plugins:
                raise RuntimeError(f"插件名称重复：{info.name}")
            shadowed = [n for n in dir(hookspecs) if isinstance(getattr(module, n, None), ModuleType)]
            if shadowed:
                # ``import plugin.views`` rebinds the package's ``views`` hook to the module.
                raise RuntimeError(f"插件 {info.name} 的子模块与钩子同名：{'、'.join(shadowed)}；请改名")
            self.pm.register(module, name=info.name)
            self.plugins[info.name] = LoadedPlugin(info, module)
        for loaded in self.plugins.values():
            missing = [r for r in loaded.info.requires if r not in self.plugins]
            if missing:
                raise RuntimeError(f"插件 {loaded.info.name} 依赖的插件未安装：{'、'.join(missing)}")
        self.pm.check_pending()

    @staticmethod
    def _discover(packages: list[str], group: str):
        for package_name in packages:
            try:
                package = importlib.import_module(package_name)
            except ModuleNotFoundError:
                continue
            for mod in pkgutil.iter_modules(package.__path__):
                if mod.ispkg and not mod.name.startswith("_"):
                    yield importlib.import_module(f"{package_name}.{mod.name}")
        for ep in importlib.metadata.entry_points(group=group):
            yield ep.load()

    def contributions(self, hook_name: str) -> list[tuple[str, object]]:
        """Call a contribution hook on every loaded plugin: [(plugin name, item), ...]."""
        out = []
        for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
            if impl.plugin_name not in self.plugins:
                continue
            result = impl.function()
            items = result if isinstance(result, list | tuple) else [result]
            out.extend((impl.plugin_name, item) for item in items if item is not None)
        return out

    def own_category(self, plugin: str, category: str) -> None:
        """A menu category belongs to a plugin when no one else has put a view in it."""
        if self._view_owner.get(category, plugin) == plugin:
            self._view_owner[category] = plugin

    def own_view(self, plugin: str, view_name: str) -> None:
        self._view_owner[view_name] = plugin
        self.plugins[plugin].view_names.add(view_name)

    # --- state ----------------------------------------------------------------------
    def _settings(self, session) -> dict[tuple[str, str], bool]:
        """{(plugin, region_path): enabled}, read once per request (or per
        ``settings_read_once`` block)."""
        if has_request_context() and "plugin_settings" in g:
            return g.plugin_settings
        settings = _batch_settings.get()
        if settings is not None:
            return settings
        settings = self._read_settings(session)
        if has_request_context():
            g.plugin_settings = settings
        return settings

    def _read_settings(self, session) -> dict[tuple[str, str], bool]:
        from core.regions import Region
        from core.scoping import unscoped

        with unscoped():
            rows = session.execute(
                select(PluginSetting.plugin, Region.region_path, PluginSetting.enabled)
                .join(Region, Region.id == PluginSetting.region_id)
            ).all()
        return {(p, path): enabled for p, path, enabled in rows}

    @contextmanager
    def settings_read_once(self, session):
        """Batch work outside a request (a chunk of an import) reads the settings once
        for the block, as a request does, instead of at every hook call; a switch made
        meanwhile applies from the next block."""
        token = _batch_settings.set(self._read_settings(session))
        off = _batch_off.set({})
        try:
            yield
        finally:
            _batch_off.reset(off)
            _batch_settings.reset(token)

    def enabled_for_path(self, plugin: str, path: str, session) -> bool:
        """Nearest setting on the region or an ancestor wins; none means off."""
        settings = self._settings(session)
        best, best_len = False, -1
        for (name, setting_path), enabled in settings.items():
            if name == plugin and path.startswith(setting_path) and len(setting_path) > best_len:
                best, best_len = enabled, len(setting_path)
        return best

    def active_for_path(self, plugin: str, path: str, session) -> bool:
        """On for ``path``, or (for a user above district level) on anywhere below it."""
        if self.enabled_for_path(plugin, path, session):
            return True
        if path.count("/") > 2:  # district level or below: only its own setting counts
            return False
        settings = self._settings(session)
        return any(name == plugin and enabled and setting_path.startswith(path)
                   and self.enabled_for_path(plugin, setting_path, session)
                   for (name, setting_path), enabled in settings.items())

    def view_active(self, view_name: str, user) -> bool:
        """Called by the security manager on every access check (FAB_NOTES: has_access)."""
        plugin = self._view_owner.get(view_name)
        if plugin is None:
            return True
        user = g.get("ra_user", user) if has_request_context() else user
        region = getattr(user, "region", None)
        if region is None:
            return False
        from core.extensions import db

        return self.active_for_path(plugin, region.region_path, db.session)

    def active_plugins(self, path: str, session) -> list[PluginInfo]:
        return [p.info for name, p in self.plugins.items()
                if self.active_for_path(name, path, session)]

    def refusal(self, session, plugin: str, region, enabled: bool) -> RuleViolation | None:
        """Why switching ``plugin`` on or off for ``region`` is refused (None: it is
        not); the plugin manager offers only the switches that are not refused (issue
        14 item 2)."""
        loaded = self.plugins.get(plugin)
        if loaded is None:
            return RuleViolation(f"没有名为 {plugin} 的插件", "plugin")
        if region.level not in ("district", "city"):
            return RuleViolation("插件只能按区或全市启用、停用", "region")
        info = loaded.info
        if info.regions and region.level == "district" and region.code not in info.regions:
            return RuleViolation(f"插件「{info.title}」不适用于{region.name}", "region")
        if info.regions and region.level == "city":
            return RuleViolation(f"插件「{info.title}」只能在指定的区启用", "region")
        path = region.region_path
        if enabled:
            off = [r for r in info.requires if not self.enabled_for_path(r, path, session)]
            if off:
                titles = "、".join(self.plugins[r].info.title for r in off)
                return RuleViolation(f"请先启用本插件依赖的插件：{titles}", "plugin")
        else:
            needing = [p.info.title for n, p in self.plugins.items()
                       if plugin in p.info.requires and self.enabled_for_path(n, path, session)]
            if needing:
                return RuleViolation(
                    f"以下已启用的插件依赖本插件，请先停用：{'、'.join(needing)}", "plugin")
        return None

    def set_enabled(self, session, plugin: str, region, enabled: bool, actor: str) -> None:
        """Switch ``plugin`` on or off for ``region`` (a district or the city).

        Refuses with a Chinese message: unknown plugin, a region that is not a district
        or city, a district the plugin is not for, a dependency that is off, or turning
        off a plugin another enabled plugin needs. Never deletes a plugin's data.
        """
        refused = self.refusal(session, plugin, region, enabled)
        if refused is not None:
            raise refused
        path = region.region_path
        old = self.enabled_for_path(plugin, path, session)
        setting = session.scalar(select(PluginSetting).where(
            PluginSetting.plugin == plugin, PluginSetting.region_id == region.id))
        if setting is None:
            setting = PluginSetting(plugin=plugin, region_id=region.id, enabled=enabled)
            session.add(setting)
        setting.enabled = enabled
        session.add(PluginChange(plugin=plugin, region_id=region.id, old_enabled=old,
                                 new_enabled=enabled, changed_by=actor))
        session.commit()
        if has_request_context():
            g.pop("plugin_settings", None)

    # --- calling rule hooks for a region --------------------------------------------
    def hook_for(self, path: str | None, session):
        """The hook relay with the plugins switched off for ``path`` left out (in a
        ``settings_read_once`` block, worked out once per path)."""
        known = _batch_off.get()
        off = known.get(path) if known is not None else None
        if off is None:
            off = frozenset(
                loaded.module for name, loaded in self.plugins.items()
                if path is None or not self.enabled_for_path(name, path, session))
            if known is not None:
                known[path] = off
        if not off:
            return self.pm.hook
        relay = self._relays.get(off)
        if relay is None:
            relay = self._relays[off] = _SubsetRelay(self.pm, off)
        return relay


class _SubsetRelay:
    """The hooks without some plugins; each hook's caller is made once."""

    def __init__(self, pm: pluggy.PluginManager, remove: frozenset) -> None:
        self._pm, self._remove = pm, remove

    def __getattr__(self, name: str):
        caller = self._pm.subset_hook_caller(name, remove_plugins=self._remove)
        setattr(self, name, caller)
        return caller
