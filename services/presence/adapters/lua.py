"""Lua scripts: every presence transition happens inside one script, atomically.

Two presence replicas can run the same script at the same moment; Redis runs scripts
one at a time, so a user's first connection is announced once and every expired item
(connection, gateway, grace period) is claimed by exactly one sweep. Time is Redis's
own clock (`TIME`), so replicas and gateways never compare their clocks.

Keys, under a configurable prefix `P` (ids are length-prefixed, so any text is safe):

- `P epoch`: id of this presence state; a new one means the state was lost.
- `P leases` (zset gateway → lease deadline ms), `P lease_ttl` (hash gateway → ttl ms).
- `P reaping` (set): gateways whose lease ran out and whose connections are being reaped.
- `P g:<gateway>` (set of sids), `P c:<sid>` (hash t, u, g): connections.
- `P u:<len(t)>:<t>:<u>` (set of sids): a user's live connections.
- `P o:<t>` (hash user → "since|name"): online users of a tenant.
- `P deadlines` (zset sid → ms): a connection times out without heartbeats after this.
- `P pending` (zset "<len(t)>:<t>:<u>" → ms): offline announcements waiting out the grace.
- `P swept` (last sweep, ms), `P hold` (while set, nothing expires): see `SWEEP`.

Scripts return transitions as a flat list `kind, tenant, user, reason, ...`.
"""

from __future__ import annotations

COMMON = r"""
local P = ARGV[1]
local K_EPOCH = P .. 'epoch'
local K_LEASES = P .. 'leases'
local K_LTTL = P .. 'lease_ttl'
local K_REAPING = P .. 'reaping'
local K_DEADLINES = P .. 'deadlines'
local K_PENDING = P .. 'pending'
local K_SWEPT = P .. 'swept'
local K_HOLD = P .. 'hold'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function member(t, u) return string.len(t) .. ':' .. t .. ':' .. u end
local function split_member(m)
  local n, rest = string.match(m, '^(%d+):(.*)$')
  n = tonumber(n)
  return string.sub(rest, 1, n), string.sub(rest, n + 2)
end
local function conn_key(sid) return P .. 'c:' .. sid end
local function gw_key(gw) return P .. 'g:' .. gw end
local function user_key(t, u) return P .. 'u:' .. member(t, u) end
local function online_key(t) return P .. 'o:' .. t end
local function ms(n) return string.format('%.0f', n) end

local out = {}
local function emit(kind, t, u, reason)
  out[#out + 1] = kind
  out[#out + 1] = t
  out[#out + 1] = u
  out[#out + 1] = reason
end

local function went_offline(t, u, reason)
  redis.call('ZREM', K_PENDING, member(t, u))
  if redis.call('HDEL', online_key(t), u) == 1 then emit('offline', t, u, reason) end
end

-- Add a connection; announce the user unless they are online already or `silent`.
local function add_conn(sid, t, u, name, gw, connected, deadline, silent)
  local ck = conn_key(sid)
  if redis.call('EXISTS', ck) == 1 then
    local old = redis.call('ZSCORE', K_DEADLINES, sid)
    if (not old) or deadline > tonumber(old) then
      redis.call('ZADD', K_DEADLINES, ms(deadline), sid)
    end
    return
  end
  redis.call('HSET', ck, 't', t, 'u', u, 'g', gw)
  redis.call('SADD', gw_key(gw), sid)
  redis.call('SADD', user_key(t, u), sid)
  redis.call('ZADD', K_DEADLINES, ms(deadline), sid)
  redis.call('ZREM', K_PENDING, member(t, u))
  local ok = online_key(t)
  local cur = redis.call('HGET', ok, u)
  if cur then
    local since = tonumber(string.match(cur, '^(%d+)'))
    if silent and since and connected < since then
      redis.call('HSET', ok, u, ms(connected) .. '|' .. name)
    end
    return
  end
  redis.call('HSET', ok, u, ms(connected) .. '|' .. name)
  if not silent then emit('online', t, u, '') end
end

-- Remove a connection; the user goes offline now (grace 0) or after `grace` ms.
local function drop_conn(sid, reason, grace, now)
  local ck = conn_key(sid)
  local f = redis.call('HMGET', ck, 't', 'u', 'g')
  redis.call('ZREM', K_DEADLINES, sid)
  if not f[1] then return false end
  local t, u, gw = f[1], f[2], f[3]
  redis.call('DEL', ck)
  redis.call('SREM', gw_key(gw), sid)
  local uk = user_key(t, u)
  redis.call('SREM', uk, sid)
  if redis.call('SCARD', uk) == 0 then
    if grace > 0 then
      redis.call('ZADD', K_PENDING, ms(now + grace), member(t, u))
    else
      went_offline(t, u, reason)
    end
  end
  return true
end
"""

REPORT = (
    COMMON
    + r"""
-- ARGV: prefix, gateway, gateway's epoch, candidate epoch, lease ttl ms, resync 0|1,
--       leaving 0|1, presence ttl ms, grace ms, recovery hold ms, payload JSON
-- payload: {o: [[sid, t, u, name, age_ms, idle_ms, acked 0|1]], c: [[sid, t, u, name]],
--           a: {sid: idle_ms}}
local now = now_ms()
local gw = ARGV[2]
local epoch = redis.call('GET', K_EPOCH)
if not epoch then
  epoch = ARGV[4]
  redis.call('SET', K_EPOCH, epoch)
end
local resync = ARGV[6] == '1'
if not resync and (ARGV[3] ~= epoch or not redis.call('ZSCORE', K_LEASES, gw)) then
  return {now, epoch, 'resync', {}, {}}
end
local restore = resync and ARGV[3] ~= epoch
if resync and not restore and redis.call('SISMEMBER', K_REAPING, gw) == 1 then
  for _, sid in ipairs(redis.call('SMEMBERS', gw_key(gw))) do
    drop_conn(sid, 'gateway_lost', 0, now)
  end
  redis.call('SREM', K_REAPING, gw)
end
local lease_ttl = tonumber(ARGV[5])
redis.call('ZADD', K_LEASES, ms(now + lease_ttl), gw)
redis.call('HSET', K_LTTL, gw, ms(lease_ttl))

local ttl, grace, hold = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local body = cjson.decode(ARGV[11])
for _, o in ipairs(body.o) do
  add_conn(o[1], o[2], o[3], o[4], gw, now - o[5], now - o[6] + ttl, restore and o[7] == 1)
end
for _, c in ipairs(body.c) do
  local sid, t, u = c[1], c[2], c[3]
  if not drop_conn(sid, 'disconnect', grace, now) and restore
      and redis.call('SCARD', user_key(t, u)) == 0 then
    -- Closed while the state was lost: the user was announced online before; say
    -- offline once the other gateways had time to restore their connections.
    redis.call('HSETNX', online_key(t), u, ms(now) .. '|' .. c[4])
    redis.call('ZADD', K_PENDING, ms(now + grace + hold), member(t, u))
  end
end
local unknown = {}
for sid, idle in pairs(body.a) do
  local old = redis.call('ZSCORE', K_DEADLINES, sid)
  if old then
    local deadline = now - idle + ttl
    if deadline > tonumber(old) then redis.call('ZADD', K_DEADLINES, ms(deadline), sid) end
  else
    unknown[#unknown + 1] = sid
  end
end
if ARGV[7] == '1' then
  for _, sid in ipairs(redis.call('SMEMBERS', gw_key(gw))) do
    drop_conn(sid, 'disconnect', grace, now)
  end
  redis.call('ZREM', K_LEASES, gw)
  redis.call('HDEL', K_LTTL, gw)
end
return {now, epoch, 'ok', unknown, out}
"""
)

SWEEP = (
    COMMON
    + r"""
-- ARGV: prefix, budget (items), gap ms
-- If no sweep ran for `gap` ms (every replica or Redis was down), gateways could not
-- renew leases or report heartbeats: nothing expires until the longest lease has had
-- time to be renewed ("hold"). Without any earlier sweep the state is new (first start,
-- or Redis lost it), and everything in it was written since: no hold.
local now = now_ms()
local budget = tonumber(ARGV[2])
local last = redis.call('GET', K_SWEPT)
if last and now - tonumber(last) > tonumber(ARGV[3]) then
  local hold = 0
  for _, v in ipairs(redis.call('HVALS', K_LTTL)) do hold = math.max(hold, tonumber(v)) end
  if hold > 0 then redis.call('SET', K_HOLD, ms(now + hold), 'PX', ms(hold)) end
end
redis.call('SET', K_SWEPT, ms(now))
if redis.call('EXISTS', K_HOLD) == 1 then return {now, 0, out, 1} end

for _, m in ipairs(redis.call('ZRANGEBYSCORE', K_PENDING, '-inf', now, 'LIMIT', 0, budget)) do
  redis.call('ZREM', K_PENDING, m)
  budget = budget - 1
  local t, u = split_member(m)
  if redis.call('SCARD', user_key(t, u)) == 0 then went_offline(t, u, 'disconnect') end
end
for _, gw in ipairs(redis.call('ZRANGEBYSCORE', K_LEASES, '-inf', now, 'LIMIT', 0, 100)) do
  redis.call('ZREM', K_LEASES, gw)
  redis.call('HDEL', K_LTTL, gw)
  redis.call('SADD', K_REAPING, gw)
end
for _, gw in ipairs(redis.call('SMEMBERS', K_REAPING)) do
  if budget <= 0 then break end
  for _, sid in ipairs(redis.call('SPOP', gw_key(gw), budget)) do
    drop_conn(sid, 'gateway_lost', 0, now)
    budget = budget - 1
  end
  if redis.call('SCARD', gw_key(gw)) == 0 then redis.call('SREM', K_REAPING, gw) end
end
if budget > 0 then
  for _, sid in ipairs(redis.call('ZRANGEBYSCORE', K_DEADLINES, '-inf', now, 'LIMIT', 0, budget)) do
    drop_conn(sid, 'timeout', 0, now)
    budget = budget - 1
  end
end
local more = 0
if budget <= 0 then more = 1 end
return {now, more, out, 0}
"""
)
