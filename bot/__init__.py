"""jitbot's Slack face: parse, authorise, ack, render. Never imports azure.*."""
