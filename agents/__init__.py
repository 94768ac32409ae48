"""The chat agent, command mode, the LLM gateway and the orchestrator (issues #7, #9)."""
