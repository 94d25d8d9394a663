"""Loopback emulators of Slack's Web API and Azure Resource Manager, used by tests and `jitbot sandbox`."""
