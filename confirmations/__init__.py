"""Pending actions, approval policy, decision flow and executor."""
