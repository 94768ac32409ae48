"""Workflow orchestration: templates, specialised agents, the engine and stored runs."""
