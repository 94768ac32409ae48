"""WRITE tools: each plans an exact change (never applies it) and executes only a stored plan."""
