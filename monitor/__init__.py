"""Uptime and performance monitor: checks websites, stores every check, alerts on downtime."""

__version__ = "0.1.0"
