"""The Lua scripts behind every atomic step. Each runs as one Redis command: all of it or none of it.

Arguments travel as one JSON document (``ARGV[1]``) with numbers as strings, so no precision is lost in
Lua's number formatting. Every key a script reads or writes arrives in ``KEYS``, as Redis requires for
Cluster (https://redis.io/docs/latest/commands/eval/): no script builds a key name. Where the key depends on
stored data (the requester of a request, the request a dedupe key points at), the caller names it from what
it already knows and the script checks that the stored data still agrees, answering with the fact to retry
with when it does not.
"""

from __future__ import annotations

COMMON = """
local function audit_append(stream, ms, maxlen, fields)
  local args = {'XADD', stream}
  if maxlen ~= '0' then
    table.insert(args, 'MAXLEN'); table.insert(args, '~'); table.insert(args, maxlen)
  end
  local id_at = #args + 1
  table.insert(args, ms .. '-*')
  for i = 1, #fields do table.insert(args, fields[i]) end
  local res = redis.pcall(unpack(args))
  if type(res) == 'table' and res.err then
    args[id_at] = '*'
    res = redis.call(unpack(args))
  end
  return res
end

local function extend(list, more)
  for i = 1, #more do table.insert(list, more[i]) end
  return list
end

local function fields_match(key, expected)
  for _, pair in ipairs(expected or {}) do
    local current = redis.call('HGET', key, pair[1])
    if pair[2] == cjson.null then
      if current then return false end
    elseif current ~= pair[2] then
      return false
    end
  end
  return true
end

local function apply_schedule(schedule, claims, attempts, add, remove)
  for _, item in ipairs(add) do
    redis.call('ZADD', schedule, item[2], item[1])
    redis.call('HDEL', claims, item[1])
    redis.call('HDEL', attempts, item[1])
  end
  for _, member in ipairs(remove) do
    redis.call('ZREM', schedule, member)
    redis.call('HDEL', claims, member)
    redis.call('HDEL', attempts, member)
  end
end
"""

# KEYS: request, dedupe, user pending index, pending index, audit, schedule, claims, attempts, and when
# p.existing names the request the dedupe key is believed to point at, that request.
# Returns {'dedupe_moved', id} when the dedupe key points elsewhere: call again naming that request.
CREATE = (
    COMMON
    + """
local p = cjson.decode(ARGV[1])
local existing = redis.call('GET', KEYS[2])
if existing then
  if existing ~= p.existing then
    return {'dedupe_moved', existing}
  end
  if redis.call('HGET', KEYS[9], 'state') == 'pending' then
    return {'existing', redis.call('HGETALL', KEYS[9])}
  end
end
local pending = redis.call('ZCARD', KEYS[3])
if pending >= tonumber(p.max_pending) then
  return {'too_many', pending}
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  return {'id_taken'}
end
redis.call('HSET', KEYS[1], unpack(p.fields))
redis.call('ZADD', KEYS[3], p.now, p.id)
redis.call('ZADD', KEYS[4], p.now, p.id)
redis.call('SET', KEYS[2], p.id, 'EX', p.dedupe_ttl)
apply_schedule(KEYS[6], KEYS[7], KEYS[8], p.schedule, {})
audit_append(KEYS[5], p.ms, p.maxlen, p.audit)
return {'created'}
"""
)

# KEYS: request, audit, schedule, claims, attempts, then p.requester's index of each state in p.states, then
# the all-users index of each state in p.states (every state the move may leave, and the target).
# Returns {'requester', actual} when the request is not p.requester's: call again with that requester.
TRANSITION = (
    COMMON
    + """
local p = cjson.decode(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {'missing'}
end
local requester = redis.call('HGET', KEYS[1], 'requester')
if requester ~= p.requester then
  return {'requester', requester or ''}
end
local user_index, state_index = {}, {}
for i, s in ipairs(p.states) do
  user_index[s] = KEYS[5 + i]
  state_index[s] = KEYS[5 + #p.states + i]
end
local legal = false
for _, s in ipairs(p.allowed) do
  if s == state then legal = true end
end
if not legal or not fields_match(KEYS[1], p.expect_fields) then
  return {'illegal', state, redis.call('HGETALL', KEYS[1])}
end
redis.call('HSET', KEYS[1], 'state', p.to, unpack(p.set))
if #p.delete > 0 then
  redis.call('HDEL', KEYS[1], unpack(p.delete))
end
redis.call('ZREM', user_index[state], p.id)
redis.call('ZREM', state_index[state], p.id)
redis.call('ZADD', user_index[p.to], p.now, p.id)
redis.call('ZADD', state_index[p.to], p.now, p.id)
if p.terminal and p.retention ~= '0' then
  redis.call('EXPIRE', KEYS[1], p.retention)
  redis.call('ZREMRANGEBYSCORE', user_index[p.to], '-inf', '(' .. p.prune_before)
  redis.call('ZREMRANGEBYSCORE', state_index[p.to], '-inf', '(' .. p.prune_before)
else
  redis.call('PERSIST', KEYS[1])
end
apply_schedule(KEYS[3], KEYS[4], KEYS[5], p.schedule, p.unschedule)
audit_append(KEYS[2], p.ms, p.maxlen, extend(
  {'event', p.to, 'actor', p.actor, 'request_id', p.id, 'at', p.at, 'from', state, 'to', p.to}, p.detail))
return {'ok', state, redis.call('HGETALL', KEYS[1])}
"""
)

# KEYS: request, audit, schedule, claims, attempts
UPDATE_FIELDS = (
    COMMON
    + """
local p = cjson.decode(ARGV[1])
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return {'missing'}
end
if #p.expect > 0 then
  local expected = false
  for _, s in ipairs(p.expect) do
    if s == state then expected = true end
  end
  if not expected then
    return {'unexpected', state, redis.call('HGETALL', KEYS[1])}
  end
end
if not fields_match(KEYS[1], p.expect_fields) then
  return {'unexpected', state, redis.call('HGETALL', KEYS[1])}
end
local set = p.set
local changed = #set > 0 or #p.delete > 0 or #p.schedule > 0 or #p.unschedule > 0
for _, pair in ipairs(p.append) do
  local field, value = pair[1], pair[2]
  local current = redis.call('HGET', KEYS[1], field) or '[]'
  for i = 1, #set, 2 do
    if set[i] == field then current = set[i + 1] end
  end
  local present = false
  for _, v in ipairs(cjson.decode(current)) do
    if v == value then present = true end
  end
  if not present then
    local encoded = cjson.encode(value)
    local updated
    if current == '[]' then
      updated = '[' .. encoded .. ']'
    else
      updated = string.sub(current, 1, -2) .. ',' .. encoded .. ']'
    end
    table.insert(set, field); table.insert(set, updated)
    changed = true
  end
end
if not changed then
  return {'unchanged', state, redis.call('HGETALL', KEYS[1])}
end
if #set > 0 then
  redis.call('HSET', KEYS[1], unpack(set))
end
if #p.delete > 0 then
  redis.call('HDEL', KEYS[1], unpack(p.delete))
end
apply_schedule(KEYS[3], KEYS[4], KEYS[5], p.schedule, p.unschedule)
audit_append(KEYS[2], p.ms, p.maxlen, extend(
  {'event', p.event, 'actor', p.actor, 'request_id', p.id, 'at', p.at, 'state', state}, p.detail))
return {'ok', state, redis.call('HGETALL', KEYS[1])}
"""
)

# KEYS: audit
RECORD = (
    COMMON
    + """
local p = cjson.decode(ARGV[1])
return audit_append(KEYS[1], p.ms, p.maxlen, p.fields)
"""
)

# KEYS: schedule, claims, attempts
SCHEDULE_SET = (
    COMMON
    + """
local p = cjson.decode(ARGV[1])
apply_schedule(KEYS[1], KEYS[2], KEYS[3], p.add, p.remove)
return #p.add + #p.remove
"""
)

# KEYS: schedule, claims, attempts. ARGV: now, lease_until, limit, token_base.
# Returns {{member, due, token, attempt, ...}, next_due_or_nil}. The idle tick is this one command, and
# inside it one ZRANGE of the first item.
CLAIM = """
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if #first == 0 or tonumber(first[2]) > tonumber(ARGV[1]) then
  return {{}, first[2]}
end
local due = redis.call('ZRANGE', KEYS[1], '-inf', ARGV[1], 'BYSCORE', 'LIMIT', 0, ARGV[3], 'WITHSCORES')
local out = {}
local n = 0
for i = 1, #due, 2 do
  n = n + 1
  local member = due[i]
  local token = ARGV[4] .. '.' .. n
  redis.call('ZADD', KEYS[1], ARGV[2], member)
  redis.call('HSET', KEYS[2], member, token)
  local attempt = redis.call('HINCRBY', KEYS[3], member, 1)
  table.insert(out, member)
  table.insert(out, due[i + 1])
  table.insert(out, token)
  table.insert(out, attempt)
end
local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {out, nxt[2]}
"""

# KEYS: schedule, claims, attempts. ARGV: member, now, lease_until, token.
# Claims one named item if it is due and unclaimed (a claimed item is scheduled at its lease's end, so not due):
# returns {due, attempt}, or nil when it is not due, taken, or gone.
CLAIM_ONE = """
local due = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not due or tonumber(due) > tonumber(ARGV[2]) then
  return false
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
local attempt = redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return {due, attempt}
"""

# KEYS: schedule, claims, attempts. ARGV: member, token, member, token, ...
# Removes each item whose claim still holds; returns 1/0 per item.
COMPLETE = """
local done = {}
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[2], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    table.insert(done, 1)
  else
    table.insert(done, 0)
  end
end
return done
"""

# KEYS: schedule, claims, attempts. ARGV: member, token, new due, attempt change (0 or -1).
# Hands a claimed item back: at once (release) or later (retry after a failure).
REQUEUE = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if ARGV[4] ~= '0' then
  redis.call('HINCRBY', KEYS[3], ARGV[1], ARGV[4])
end
return 1
"""

# KEYS: schedule, claims. ARGV: member, token, new lease end.
# Keeps a claimed item claimed by the same holder, its lease now ending at the new time; 0 if the claim was lost.
HOLD = """
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('ZADD', KEYS[1], 'XX', ARGV[3], ARGV[1])
return 1
"""

# KEYS: rate log. ARGV: now_ms, window_ms, limit, member.
RATE_HIT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, 0, limit - count - 1}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, tonumber(oldest[2]) + window - now, 0}
"""

# KEYS: the tally hash of one refusal reason, audit. ARGV[1]: {window, window_at, n, ms, maxlen, fields}.
# Counts n refusals into the current minute; the first count of a newer minute also appends one audit record
# naming the previous minute and its total. Returns 1 when a record was appended, else 0.
REFUSAL_TALLY = (
    COMMON
    + """
local p = cjson.decode(ARGV[1])
local window = redis.call('HGET', KEYS[1], 'window')
if window and tonumber(p.window) <= tonumber(window) then
  redis.call('HINCRBY', KEYS[1], 'count', p.n)
  return 0
end
local previous_at = redis.call('HGET', KEYS[1], 'window_at') or ''
local previous_count = redis.call('HGET', KEYS[1], 'count') or '0'
redis.call('HSET', KEYS[1], 'window', p.window, 'window_at', p.window_at, 'count', p.n)
local fields = extend(p.fields, {'previous_minute', previous_at, 'previous_minute_count', previous_count})
audit_append(KEYS[2], p.ms, p.maxlen, fields)
return 1
"""
)

# KEYS: the link. ARGV[1]: {now_ms, at, from}. Uses a one-time "from me" link at most once; returns its status
# ('unknown', 'used', 'expired' or 'valid') and, unless unknown, its record. See ``source_links``.
SOURCE_LINK_USE = """
local a = cjson.decode(ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 0 then return {'unknown'} end
local record = redis.call('HGET', KEYS[1], 'record')
if redis.call('HEXISTS', KEYS[1], 'used_at') == 1 then return {'used', record} end
if tonumber(redis.call('HGET', KEYS[1], 'expires_ms')) <= tonumber(a.now_ms) then return {'expired', record} end
redis.call('HSET', KEYS[1], 'used_at', a.at, 'used_from', a['from'])
return {'valid', record}
"""
