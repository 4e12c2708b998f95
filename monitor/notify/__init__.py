"""Notifications: what the monitor sends out while it runs (the heartbeat; the senders that
deliver alerts to the providers of the config's `notify`)."""
