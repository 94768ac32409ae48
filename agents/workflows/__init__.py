"""Workflow templates shipped with Hexabot (YAML, loaded by agents.orchestrator.workflow)."""
