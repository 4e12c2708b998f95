"""Check kinds: the registry that finds them, the watchdog that bounds a blocking check,
one check run (execute), and the kinds themselves (each a module defining its KIND)."""
