"""Controller side of the verify module: the same spec reading as the jail module's."""

from __future__ import annotations

from ansible_collections.tui_jail.fleet.plugins.action.jail import ActionModule  # noqa: F401
