"""The Lua scripts the Redis store runs, each one atomic change of the store's keys."""

from __future__ import annotations

# Lua functions the scripts below start with, so each rule is written once.

# Take a lease if it is free or already ours (a retried claim whose reply was lost then succeeds);
# `since` records when its owner took it, for status.
_CLAIM_FUNCTION = """
local function claim(lease, since, owner, ttl_ms, now)
    local holder = redis.call('GET', lease)
    if holder ~= false and holder ~= owner then return false end
    redis.call('SET', lease, owner, 'PX', ttl_ms)
    if holder == false then
        redis.call('SET', since, now, 'PX', ttl_ms)
    else
        redis.call('PEXPIRE', since, ttl_ms)
    end
    return true
end
"""

# Follow a chat's recorded moves to its current id; stops at a loop like base.chat_moves does.
_RESOLVE_FUNCTION = """
local function resolve(moved, platform, chat, max_hops)
    local seen = {[chat] = true}
    for _ = 1, max_hops do
        local moved_to = redis.call('HGET', moved, platform .. ':' .. chat)
        if not moved_to or seen[moved_to] then break end
        seen[moved_to] = true
        chat = moved_to
    end
    return chat
end
"""

# Record a delivery's part count and `part` as about to go, unless that part is sent already.
_PLAN_FUNCTION = """
local function plan(delivery, in_flight, total, part, retention)
    redis.call('HSET', delivery, 'total', total)
    if redis.call('HEXISTS', delivery, 'sent:' .. part) == 0 then
        redis.call('SADD', in_flight, part)
        redis.call('EXPIRE', in_flight, retention)
    end
    redis.call('EXPIRE', delivery, retention)
end
"""

# KEYS: the lease, its since-key. ARGV: owner, ttl ms, now.
CLAIM = _CLAIM_FUNCTION + """
if claim(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]) then return 1 end
return 0
"""

RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    return 1
end
return 0
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
    redis.call('DEL', KEYS[1], KEYS[2])
end
return 0
"""

# KEYS: delivery hash, in-flight set. ARGV: part, parts total, retention seconds.
BEGIN_PART = _PLAN_FUNCTION + """
plan(KEYS[1], KEYS[2], ARGV[2], ARGV[1], ARGV[3])
return 0
"""

# KEYS: delivery hash. ARGV: part, a fresh nonce per call, retention seconds. The nonce lets a
# retried call (its first reply lost) still answer 1, while any other call answers 0.
MARK_MAYBE_SENT = """
local field = 'maybe:' .. ARGV[1]
local holder = redis.call('HGET', KEYS[1], field)
if holder == false then
    redis.call('HSET', KEYS[1], field, ARGV[2])
    redis.call('EXPIRE', KEYS[1], ARGV[3])
    return 1
end
if holder == ARGV[2] then
    return 1
end
return 0
"""

# KEYS: moved hash. ARGV: platform, chat, max hops.
RESOLVE = _RESOLVE_FUNCTION + """
return resolve(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]))
"""

# KEYS: moved hash, subscriptions hash, subscriptions version. ARGV: platform, old chat, new chat,
# max hops, a fresh version token. The same rules as MemoryStore.move_chat, in one atomic step.
MOVE = """
local platform, old, new = ARGV[1], ARGV[2], ARGV[3]
local target = new
local on_path = {[new] = true}
for _ = 1, tonumber(ARGV[4]) do
    local moved_to = redis.call('HGET', KEYS[1], platform .. ':' .. target)
    if not moved_to or on_path[moved_to] then break end
    on_path[moved_to] = true
    target = moved_to
end
if on_path[old] then
    redis.call('HDEL', KEYS[1], platform .. ':' .. new)
    target = new
end
redis.call('HSET', KEYS[1], platform .. ':' .. old, new)
local subscription = redis.call('HGET', KEYS[2], platform .. ':' .. old)
if subscription then
    redis.call('HDEL', KEYS[2], platform .. ':' .. old)
    redis.call('HSETNX', KEYS[2], platform .. ':' .. target, subscription)
    redis.call('SET', KEYS[3], ARGV[5])
end
return target
"""

# KEYS: subscriptions hash, subscriptions version. ARGV: the hash field, a fresh version token.
# The version changes only when a subscription was removed.
UNSUBSCRIBE = """
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
if removed == 1 then
    redis.call('SET', KEYS[2], ARGV[2])
end
return removed
"""

# The value is a fresh nonce per call, so a command retried after a lost reply still answers True.
FIRST_SEEN = """
local seen = redis.call('GET', KEYS[1])
if seen == false then
    redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
    return 1
end
if seen == ARGV[1] then
    return 1
end
return 0
"""

# KEYS: a delivery's ledger hash. ARGV: expected fingerprint, new one. Only a delivery that exists.
SWAP_FINGERPRINT = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local current = redis.call('HGET', KEYS[1], 'fingerprint') or ''
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'fingerprint', ARGV[2])
return 1
"""

# -- one delivery's steps, one round trip each (see Store.open_delivery and the steps after it) --------

# KEYS: lease, its since-key, delivery hash, in-flight set, moved hash, inactive hash, the chat's lease,
# its since-key. ARGV: owner, ttl ms, now, platform, chat, max hops, parts total, retention seconds.
# Answers {0} when someone else holds the lease, else {1, ledger fields, parts in flight (before the
# plan), current chat, inactive reason or '', plan: 0 not tried, 1 planned, 2 chat taken}.
OPEN_DELIVERY = _CLAIM_FUNCTION + _RESOLVE_FUNCTION + _PLAN_FUNCTION + """
if not claim(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]) then return {0} end
local fields = redis.call('HGETALL', KEYS[3])
local in_flight = redis.call('SMEMBERS', KEYS[4])
local sent = {}
for i = 1, #fields, 2 do
    if fields[i] == 'finished' and fields[i + 1] == '1' then return {1, fields, in_flight, ARGV[5], '', 0} end
    if string.sub(fields[i], 1, 5) == 'sent:' then sent[tonumber(string.sub(fields[i], 6))] = true end
end
local chat = resolve(KEYS[5], ARGV[4], ARGV[5], tonumber(ARGV[6]))
local reason = redis.call('HGET', KEYS[6], ARGV[4] .. ':' .. chat)
if reason then return {1, fields, in_flight, chat, reason, 0} end
if chat ~= ARGV[5] then return {1, fields, in_flight, chat, '', 0} end
if not claim(KEYS[7], KEYS[8], ARGV[1], ARGV[2], ARGV[3]) then return {1, fields, in_flight, chat, '', 2} end
local part = 0
while sent[part] do part = part + 1 end
plan(KEYS[3], KEYS[4], ARGV[7], math.min(part, tonumber(ARGV[7]) - 1), ARGV[8])
return {1, fields, in_flight, chat, '', 1}
"""

# KEYS: the chat's lease, its since-key, delivery hash, in-flight set.
# ARGV: owner, ttl ms, now, parts total, the part about to go, retention seconds.
PLAN_DELIVERY = _CLAIM_FUNCTION + _PLAN_FUNCTION + """
if not claim(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3]) then return 0 end
plan(KEYS[3], KEYS[4], ARGV[4], ARGV[5], ARGV[6])
return 1
"""

# KEYS: delivery hash, in-flight set. ARGV: part, message id, now, next part ('' after the last),
# retention seconds. `sent_at:` is redis_ops.SENT_AT, which `digestbot status` reads.
RECORD_SENT = """
redis.call('HSET', KEYS[1], 'sent:' .. ARGV[1], ARGV[2], 'sent_at:' .. ARGV[1], ARGV[3])
redis.call('SREM', KEYS[2], ARGV[1])
if ARGV[4] ~= '' and redis.call('HEXISTS', KEYS[1], 'sent:' .. ARGV[4]) == 0 then
    redis.call('SADD', KEYS[2], ARGV[4])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return 0
"""

# KEYS: delivery hash, in-flight set, the date's finished set, then (lease, since-key) pairs.
# ARGV: owner, '1' if finished, now, retention seconds, channel, a part never sent ('' for none), the
# last part sent and its message id ('' for none), the fingerprint to keep if none is ('' for none).
# `finished_at` and `fingerprint` are redis_ops.FINISHED_AT and redis_ops.FINGERPRINT.
CLOSE_DELIVERY = """
if ARGV[7] ~= '' then
    redis.call('HSET', KEYS[1], 'sent:' .. ARGV[7], ARGV[8], 'sent_at:' .. ARGV[7], ARGV[3])
    redis.call('SREM', KEYS[2], ARGV[7])
    redis.call('EXPIRE', KEYS[1], ARGV[4])
end
if ARGV[2] == '1' then
    redis.call('HSET', KEYS[1], 'finished', '1')
    redis.call('HSETNX', KEYS[1], 'finished_at', ARGV[3])
    redis.call('EXPIRE', KEYS[1], ARGV[4])
    redis.call('SADD', KEYS[3], ARGV[5])
    redis.call('EXPIRE', KEYS[3], ARGV[4])
    if ARGV[9] ~= '' and (redis.call('HGET', KEYS[1], 'fingerprint') or '') == '' then
        redis.call('HSET', KEYS[1], 'fingerprint', ARGV[9])
    end
elseif ARGV[6] ~= '' then
    redis.call('SREM', KEYS[2], ARGV[6])
end
for i = 4, #KEYS, 2 do
    if redis.call('GET', KEYS[i]) == ARGV[1] then
        redis.call('DEL', KEYS[i], KEYS[i + 1])
    end
end
return 0
"""
