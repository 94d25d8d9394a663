"""Redis persistence for jitbot: requests and their atomic state changes, audit trail, schedule, limits."""
