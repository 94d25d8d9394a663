"""The ack path: how a request from Slack is answered within its 3 seconds, and how the work behind it follows.

Slack waits for an answer (the ack) to every command, click, submission and event; the work behind it (checks,
Redis, Azure, replies, cards) only has to follow soon after. So every request takes these steps, in order:

1. **HTTP request** (``endpoint``): ``POST /slack/events`` on ``PORT`` reads the raw body. ``GET /healthz``
   beside it calls nothing (the "from me" page beside it is ``bot.source_page``, not Slack's); readiness and
   metrics live on ``OPS_PORT`` (``bot.ops``).
2. **Signature and replay check** (``verify``): the v0 signature and the timestamp are checked at once, and
   a request that fails is answered 401 before it is parsed, counted by reason (``refusals``). The replay
   check (the signature remembered in Redis, batched under load) starts alongside; a replay is answered 401
   and starts nothing, and when Redis cannot tell, the answer says "briefly unavailable" and starts nothing.
3. **Fast ack** (``fast_ack``): when the ack is known to be an empty 200 (clicks, events, and commands other
   than a grammar error or a bare ``/jit help``), it goes out as soon as the replay check says the request is
   new, before Bolt runs. Every other request (modal submissions, URL verification) is answered by Bolt's ack
   listener, which has no side effects, while the replay check runs alongside.
4. **Bolt's dispatch as background work** (``background``): after a fast ack, Bolt dispatches the same
   request as one background job. Background work starts only when no Slack request is being answered (or
   once it has waited ``max_defer``), and at most ``max_running`` jobs run at once, so acks go first.
5. **Lazy listeners** (``lazy_listeners``): the work itself is Bolt's lazy listeners (``bot.app`` registers
   an ack and a lazy listener per command, action and view). They start only once the replay check said
   the request is new, run as background work, copy Bolt's request only when they start, and are tracked,
   so a graceful shutdown (``bot.process``) waits for work that was acked.

In Socket Mode Slack sends requests down a websocket and Bolt's handler acks them: steps 1-4 do not apply
(no signature, no replay check), and the lazy listeners still run as background work.

Its metrics are part of the operations contract: ``jitbot_slack_requests_refused_total`` (step 2),
``jitbot_background_deferred_total`` and ``jitbot_background_waiting`` (steps 4 and 5).
"""
