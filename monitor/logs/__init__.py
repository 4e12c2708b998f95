"""Access logs: their formats, following a file being written, and windows on log time."""
