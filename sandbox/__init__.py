"""Local stand-ins for the demo and the tests: Kubernetes API, Slack, web console.

Production code never imports this package; only ``app.cli``/``app.demo`` wiring and tests do.
"""
