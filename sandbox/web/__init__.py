"""The sandbox's web page: a small Slack workspace and an Azure panel over the emulators, in a browser."""
