"""Everything that faces the PACS and people: listener, API, results, settings, CLI."""

from plugin.errors import ConfigurationError, PluginError

__all__ = ["ConfigurationError", "PluginError"]
