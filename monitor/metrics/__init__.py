"""The metrics tree: dotted series paths, the patterns that match them and the query
language of /api/v1/metrics/query, apart from any storage (pure Python, no I/O)."""
