"""Benchmarks of jitbot against the floor and a default Bolt app, on loopback: ``python -m bench``.

Why: Slack gives a command 3 seconds, users feel anything over a blink, bursts happen during incidents and
Azure throttles wasteful callers; these numbers show where the bot stands, measured side by side in one run.
"""
