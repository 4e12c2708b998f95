"""The `push` kind in parts: its tokens (checked, generated, found), its watch (pushes
judged into results on an injected clock), and the kind as the registry loads it (kind)."""
