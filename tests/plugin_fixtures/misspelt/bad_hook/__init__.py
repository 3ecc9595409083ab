"""A plugin with a misspelt hook: ``check_pending`` must refuse it at start."""
from core.plugins import PluginInfo, hookimpl

PLUGIN = PluginInfo(name="bad_hook", title="拼错钩子的插件", version="0.1")


@hookimpl
def validate_retire(retiree, session):
    return []
