"""The library's own exceptions; only the CLI turns them into messages and exit codes."""


class MonitorError(Exception):
    """Base class of every error the monitor reports to the user."""


class ConfigError(MonitorError):
    """The configuration file is missing, unreadable, or invalid."""


class ConfigNotFound(ConfigError):
    """The configuration file does not exist (the CLI says how to name or make one)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: file not found")
        self.path = path


class StoreError(MonitorError):
    """The database cannot be opened, read or written."""


class UpgradeRefused(StoreError):
    """An older schema is not upgraded while another process's monitor writes the file:
    its writer would lose every row to the renamed tables."""
