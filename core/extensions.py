"""Uninitialised extension singletons, bound to an app in ``core.app.create_app``."""
from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

# FAB's own tables live on Model.metadata: share it, or Alembic proposes dropping them.
db = SQLA(metadata=Model.metadata)
migrate = Migrate()
csrf = CSRFProtect()


@migrate.configure
def _plugin_version_locations(config):
    """Core revisions plus one branch per loaded plugin (CTFd-style)."""
    import os

    from flask import current_app

    plugins = current_app.extensions.get("retiree_admin.plugins")
    dirs = [os.path.join(config.get_main_option("script_location"), "versions")]
    if plugins is not None:
        dirs += [str(d) for _, d in plugins.contributions("migrations_dir") if d]
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(dirs))
    return config
