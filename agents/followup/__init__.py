"""Following approved changes until they converge (:mod:`agents.followup.service`)."""

from agents.followup.service import Follower, Told

__all__ = ["Follower", "Told"]
