"""Host check kinds on psutil: `process`, `cpu`, `memory`, `disk`, `load`. Each records
its measured value as the metric "value"; each module defines its kind, which the registry
loads when a config uses it."""
