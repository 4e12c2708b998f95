"""The `dns` kind in parts: its keys (spec), asking the servers (ask), reading the answer
(judge), and the kind as the registry loads it (kind)."""
