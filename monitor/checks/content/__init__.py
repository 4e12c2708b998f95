"""The `content` kind in parts: its keys (spec), what it measures of a page and how it
judges it (analysis), and the kind as the registry loads it (kind)."""
