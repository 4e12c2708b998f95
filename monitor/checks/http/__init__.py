"""The `http` kind in parts: its keys (spec), the conditions on an answer (expect), the
check on libcurl (curl), and the kind as the registry loads it (kind)."""
