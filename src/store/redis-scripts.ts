/**
 * Lua scripts: each runs atomically on the server, which is what lets N gateway instances share one
 * limit instead of each admitting its own. Multi-key scripts only touch keys with the same hash tag
 * (`{rl}`, `{bg}`, `{if:…}`, `{routes}`) so they stay valid on Redis Cluster.
 * Scripts return integers only: Redis truncates Lua floats in replies.
 */

/** Mirrors evaluateWindow() in sliding-window.ts. KEYS: cur1, prev1, cur2, prev2, … ARGV: now, consume(1|0), then limit, windowMs, cost per rule. */
export const RATE_LIMIT = `
local now = tonumber(ARGV[1])
local consume = tonumber(ARGV[2]) == 1
local n = #KEYS / 2
local function evaluate(prev, cur, limit, w, cost)
  local start = math.floor(now / w) * w
  local frac = (now - start) / w
  local used = prev * (1 - frac) + cur
  local allowed = (cost <= limit) and (used + cost <= limit)
  local after, curAfter = used, cur
  if allowed then after, curAfter = used + cost, cur + cost end
  local remaining = math.max(0, math.floor(limit - after))
  local reset = 0
  if curAfter > 0 then reset = start + 2 * w - now elseif prev > 0 then reset = start + w - now end
  local retry = 0
  if not allowed then
    if cost > limit then retry = w else
      local avail = limit - cost
      local at
      if cur <= avail then at = start + (1 - (avail - cur) / prev) * w else at = start + w + (1 - avail / cur) * w end
      retry = math.max(1, math.ceil(at - now))
    end
  end
  return allowed, remaining, reset, retry
end
local rules = {}
local all = true
for i = 1, n do
  local limit, w, cost = tonumber(ARGV[3 * i]), tonumber(ARGV[3 * i + 1]), tonumber(ARGV[3 * i + 2])
  local cur = tonumber(redis.call('GET', KEYS[2 * i - 1]) or '0')
  local prev = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
  local a, rem, rs, ra = evaluate(prev, cur, limit, w, cost)
  rules[i] = { prev, cur, limit, w, cost, a, rem, rs, ra }
  if not a then all = false end
end
local out = { all and 1 or 0 }
for i = 1, n do
  local r = rules[i]
  local rem, rs = r[7], r[8]
  if consume and all then
    redis.call('INCRBY', KEYS[2 * i - 1], r[5])
    redis.call('PEXPIRE', KEYS[2 * i - 1], 2 * r[4] + 1000)
  else
    local _, rem0, rs0 = evaluate(r[1], r[2], r[3], r[4], 0)
    rem, rs = rem0, rs0
  end
  table.insert(out, r[6] and 1 or 0)
  table.insert(out, rem)
  table.insert(out, rs)
  table.insert(out, r[9])
end
return out
`;

/** KEYS: cur1, cur2, … ARGV: windowMs, delta per rule. Counters never go below zero. */
export const RATE_ADJUST = `
for i = 1, #KEYS do
  local w, delta = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local v = math.max(0, tonumber(redis.call('GET', KEYS[i]) or '0') + delta)
  redis.call('SET', KEYS[i], v, 'PX', 2 * w + 1000)
end
return 1
`;

const PURGE = `
local function purge(L, Z, now)
  local expired = redis.call('ZRANGEBYSCORE', Z, '-inf', now)
  for _, rid in ipairs(expired) do
    local a = tonumber(redis.call('HGET', L, 'r:' .. rid) or '0')
    redis.call('HINCRBY', L, 'reserved', -a)
    redis.call('HDEL', L, 'r:' .. rid)
  end
  if #expired > 0 then redis.call('ZREMRANGEBYSCORE', Z, '-inf', now) end
end
`;

/**
 * KEYS: line1, line1:exp, line1's previous period, line2, … (hash {spent, reserved, r:<id>, seen, a:soft, a:exh}
 * + zset id→expiry, nano-USD). ARGV: now, id, amount, reservationExpiry, then limit, softAt, keyTtlMs per line.
 * Returns blockedIndex (0 = reserved), soft(0|1), then spent, reserved, alerts per line. Alerts are bits set
 * only by the one call that crossed them first in the line's period (HSETNX): 1 soft, 2 exhausted, 4 reset.
 */
export const BUDGET_RESERVE = `${PURGE}
local now, id, amount, resExp = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local n = #KEYS / 3
local blocked = 0
local st = {}
for i = 1, n do
  local L, Z, P = KEYS[3 * i - 2], KEYS[3 * i - 1], KEYS[3 * i]
  purge(L, Z, now)
  local spent = tonumber(redis.call('HGET', L, 'spent') or '0')
  local reserved = tonumber(redis.call('HGET', L, 'reserved') or '0')
  local alerts = 0
  if redis.call('HSETNX', L, 'seen', 1) == 1 then
    redis.call('PEXPIRE', L, tonumber(ARGV[4 + 3 * i]))
    if P ~= L and (redis.call('HEXISTS', P, 'a:soft') == 1 or redis.call('HEXISTS', P, 'a:exh') == 1) then alerts = 4 end
  end
  st[i] = { spent, reserved, alerts }
  if blocked == 0 and spent + reserved + amount > tonumber(ARGV[2 + 3 * i]) then blocked = i end
end
local soft = 0
if blocked == 0 then
  for i = 1, n do
    local L, Z = KEYS[3 * i - 2], KEYS[3 * i - 1]
    local ttl = tonumber(ARGV[4 + 3 * i])
    redis.call('HINCRBY', L, 'reserved', amount)
    redis.call('HSET', L, 'r:' .. id, amount)
    redis.call('ZADD', Z, resExp, id)
    redis.call('PEXPIRE', L, ttl)
    redis.call('PEXPIRE', Z, ttl)
    st[i][2] = st[i][2] + amount
    if st[i][1] + st[i][2] >= tonumber(ARGV[3 + 3 * i]) then
      soft = 1
      if redis.call('HSETNX', L, 'a:soft', 1) == 1 then st[i][3] = st[i][3] + 1 end
    end
  end
else
  -- Exhausted only once past the soft threshold: one oversized request does not spend a budget.
  local b = st[blocked]
  if b[1] + b[2] >= tonumber(ARGV[3 + 3 * blocked]) and redis.call('HSETNX', KEYS[3 * blocked - 2], 'a:exh', 1) == 1 then b[3] = b[3] + 2 end
end
local out = { blocked, soft }
for i = 1, n do
  table.insert(out, st[i][1])
  table.insert(out, st[i][2])
  table.insert(out, st[i][3])
end
return out
`;

/**
 * KEYS: line1, line1:exp, line2, … ARGV: now, id, actual (nano-USD; -1 = release), then keyTtlMs, limit per line.
 * Returns spent, alerts (2 = exhausted now: spending reached the limit first here) per line.
 */
export const BUDGET_SETTLE = `${PURGE}
local now, id, actual = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS / 2 do
  local L, Z = KEYS[2 * i - 1], KEYS[2 * i]
  if redis.call('ZREM', Z, id) == 1 then
    local a = tonumber(redis.call('HGET', L, 'r:' .. id) or '0')
    redis.call('HINCRBY', L, 'reserved', -a)
    redis.call('HDEL', L, 'r:' .. id)
  end
  local alerts = 0
  local spent = 0
  if actual >= 0 then
    spent = redis.call('HINCRBY', L, 'spent', actual)
    if spent >= tonumber(ARGV[3 + 2 * i]) and redis.call('HSETNX', L, 'a:exh', 1) == 1 then alerts = 2 end
  end
  purge(L, Z, now)
  redis.call('PEXPIRE', L, tonumber(ARGV[2 + 2 * i]))
  table.insert(out, spent)
  table.insert(out, alerts)
end
return out
`;

/** KEYS as for settle. ARGV: now. Returns spent, reserved per line (after dropping expired reservations). */
export const BUDGET_STATUS = `${PURGE}
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local L, Z = KEYS[2 * i - 1], KEYS[2 * i]
  purge(L, Z, now)
  table.insert(out, tonumber(redis.call('HGET', L, 'spent') or '0'))
  table.insert(out, tonumber(redis.call('HGET', L, 'reserved') or '0'))
end
return out
`;

/** KEYS as for settle. ARGV: now. Spent, reserved per line; expired reservations are left out of the sum, not removed: it writes nothing. */
export const BUDGET_READ = `
local now = tonumber(ARGV[1])
local out = {}
for i = 1, #KEYS / 2 do
  local L, Z = KEYS[2 * i - 1], KEYS[2 * i]
  local reserved = tonumber(redis.call('HGET', L, 'reserved') or '0')
  for _, rid in ipairs(redis.call('ZRANGEBYSCORE', Z, '-inf', now)) do
    reserved = reserved - tonumber(redis.call('HGET', L, 'r:' .. rid) or '0')
  end
  table.insert(out, tonumber(redis.call('HGET', L, 'spent') or '0'))
  table.insert(out, math.max(0, reserved))
end
return out
`;

/** KEYS: lock, result. ARGV: token, value, resultTtlMs. Only the lock's owner releases it. */
export const INFLIGHT_RESOLVE = `
redis.call('SET', KEYS[2], ARGV[2], 'PX', tonumber(ARGV[3]))
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
`;

/** KEYS: lock. ARGV: token. */
export const INFLIGHT_ABANDON = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** KEYS: record. ARGV: bodyHash, pendingTtlMs. Returns {} when claimed, else {state, bodyHash, value}. */
export const IDEMPOTENCY_BEGIN = `
local cur = redis.call('HMGET', KEYS[1], 's', 'h', 'v')
if cur[1] then return cur end
redis.call('HSET', KEYS[1], 's', 'pending', 'h', ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
return {}
`;

/** KEYS: record. Drops it only while pending: a finished record is never lost to a late abandon. */
export const IDEMPOTENCY_ABANDON = `
if redis.call('HGET', KEYS[1], 's') == 'pending' then return redis.call('DEL', KEYS[1]) end
return 0
`;

/**
 * KEYS: data, version. ARGV: name, payload (JSON of the change without its version), channel.
 * Versioned and published inside the script, so messages go out in version order.
 */
export const ROUTE_CHANGE = `
local v = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], ARGV[1], v .. '|' .. ARGV[2])
local n = redis.call('PUBLISH', ARGV[3], '{"t":"route","version":' .. v .. ',"change":' .. ARGV[2] .. '}')
return {v, n}
`;

/** KEYS: ids → hash, hash → revokedAt. ARGV: id, revokedAt. Returns 1 when revoked now. */
export const API_KEY_REVOKE = `
local h = redis.call('HGET', KEYS[1], ARGV[1])
if not h then return 0 end
return redis.call('HSETNX', KEYS[2], h, ARGV[2])
`;

/**
 * KEYS: ids → hash, hash → record, hash → revokedAt. ARGV: id, the record as read, the updated record.
 * Compare-and-set: 1 updated, 0 no such active key, -1 changed since it was read (the caller reads again).
 */
export const API_KEY_UPDATE = `
local h = redis.call('HGET', KEYS[1], ARGV[1])
if not h then return 0 end
if redis.call('HEXISTS', KEYS[3], h) == 1 then return 0 end
if redis.call('HGET', KEYS[2], h) ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[2], h, ARGV[3])
return 1
`;
