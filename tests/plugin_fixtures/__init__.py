"""Throwaway plugins for the plugin tests; never loaded in a normal run.

* ``ra_demo_plugin/`` is a separate distribution (its own ``pyproject.toml``, entry
  point in ``retiree_admin.plugins``), installed into a temporary folder by the tests;
* ``builtin`` is scanned like ``plugins/`` when a test adds it to ``PLUGIN_PACKAGES``;
* ``misspelt`` holds a plugin whose hook name is wrong, which must stop the app.
"""
