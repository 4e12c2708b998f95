"""Host check kinds on psutil: `process`, `cpu`, `memory`, `disk`, `load`. Each records
its measured value as the metric "value"; each module registers its kind on import."""

from monitor.checks.host import cpu, disk, load, memory, process

__all__ = ["cpu", "disk", "load", "memory", "process"]
