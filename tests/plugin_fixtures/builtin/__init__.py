"""A plugin package scanned like ``plugins/`` (tests add it to ``PLUGIN_PACKAGES``)."""
