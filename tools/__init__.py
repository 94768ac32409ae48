"""Per-user cluster clients, tool specs and registry, read and write tools."""
