"""jitbot's domain: access requests, their state machine, the Azure gateway and the Redis store.

Nothing in this package imports Slack; the Slack face lives in ``bot``.
"""
