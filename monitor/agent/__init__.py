"""Agents: check a server's monitors from another machine (a location) and post the
results back.

`client` speaks the agent protocol of the server's REST API, `link` keeps the server fed
from the local outbox (polls, heartbeats, batches, backoff), `run` runs the same runtime as
`-m` on what the server assigns.
"""
