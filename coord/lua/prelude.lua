-- Shared by every script (prepended by coord/scripts.go).
-- KEYS[1]  the service's event stream (routes the call on Redis Cluster)
-- ARGV[1]  P, the key prefix of the service: "bigjob:{pcs-<uuid>}:"
-- ARGV[2]  now, epoch seconds as a decimal string
-- ARGV[3]  TTL in seconds given to every key written (0: keys never expire)
-- ARGV[4]  approximate maximum length of the event stream
-- Script arguments start at ARGV[5].
-- FINAL, the set of final states, and DEFAULT_MAX_ATTEMPTS are defined
-- before this prelude from Go (coord/scripts.go, fromGo).
local P, NOW, TTL, MAXEV = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local events = {}

local function str(v)
  if v then return v end
  return ''
end

local function emit(line)
  events[#events + 1] = line
end

local function expire(key)
  if TTL > 0 then redis.call('EXPIRE', key, TTL) end
end

-- conf reads the service's settings from P info once per call:
-- finished_ttl (seconds a final unit record is kept; absent: TTL) and
-- max_attempts (how often a unit may be started; absent: DEFAULT_MAX_ATTEMPTS).
local svc_conf
local function conf(field)
  if not svc_conf then
    local r = redis.call('HMGET', P .. 'info', 'finished_ttl', 'max_attempts')
    svc_conf = {finished_ttl = tonumber(r[1]), max_attempts = tonumber(r[2]) or DEFAULT_MAX_ATTEMPTS}
  end
  return svc_conf[field]
end

-- expire_final gives a record that became final (a unit, a pilot, a
-- canceled service's keys) its TTL: finished records are pruned sooner.
local function expire_final(key)
  local t = conf('finished_ttl')
  if t and t > 0 then redis.call('EXPIRE', key, t) else expire(key) end
end

-- EVENTS_PER_ENTRY bounds the events of one stream entry, so that MAXEV
-- entries bound the stream's memory whatever the batch sizes
-- (coord.EventsPerEntry keeps the same number).
local EVENTS_PER_ENTRY = 32

-- publish records the state changes counted, and appends the collected
-- events, in order, as stream entries of at
-- most EVENTS_PER_ENTRY events each, numbered by ev:n, so that a reader can
-- tell when trimming made it miss entries. The stream gets its TTL when it
-- is (re)created; touch_service renews it.
local by_state = {}

-- counted notes that a unit left state from (nil for a new unit) for state
-- to; publish adds the changes of the call to P counts, the units of the
-- service by state (pilot-cli watch reads it).
local function counted(from, to)
  if from then by_state[from] = (by_state[from] or 0) - 1 end
  by_state[to] = (by_state[to] or 0) + 1
end

local function publish()
  for st, n in pairs(by_state) do
    if n ~= 0 then redis.call('HINCRBY', P .. 'counts', st, n) end
  end
  by_state = {}
  for i = 1, #events, EVENTS_PER_ENTRY do
    local n = redis.call('INCR', P .. 'ev:n')
    local last = math.min(i + EVENTS_PER_ENTRY - 1, #events)
    redis.call('XADD', P .. 'ev', 'MAXLEN', '~', MAXEV, '*', 'n', n, 'e', table.concat(events, '\n', i, last))
    if n == 1 then
      expire(P .. 'ev')
      expire(P .. 'ev:n')
    end
  end
end

-- touch_service renews the TTL of the service-wide keys (heartbeats call it).
local function touch_service()
  for _, k in ipairs({'info', 'pilots', 'q', 'ev', 'ev:n', 'open', 'held', 'counts'}) do expire(P .. k) end
end

-- ensure_ttl gives a key a TTL if it has none (a collection just created).
local function ensure_ttl(key)
  if TTL > 0 and redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, TTL) end
end

local function touch_pilot(pid)
  for _, s in ipairs({'', ':q', ':ctl', ':units', ':pending', ':active', ':claim'}) do expire(P .. pid .. s) end
end

-- finish_unit moves a unit that is not final yet to a final state and drops
-- it from the sets of unfinished units. It returns true if it changed it.
local function finish_unit(uid, state, reason)
  local key = P .. uid
  local r = redis.call('HMGET', key, 'state', 'via', 'pilot')
  if not r[1] or FINAL[r[1]] then return false end
  local pilot = str(r[3])
  counted(r[1], state)
  if reason ~= '' then
    redis.call('HSET', key, 'state', state, 'end_time', NOW, 'reason', reason)
  else
    redis.call('HSET', key, 'state', state, 'end_time', NOW)
  end
  if pilot ~= '' then
    if r[2] == 'pilot' then redis.call('SREM', P .. pilot .. ':pending', uid) end
    redis.call('SREM', P .. pilot .. ':active', uid)
  elseif r[2] == 'held' then
    redis.call('SREM', P .. 'held', uid)
  end
  redis.call('SREM', P .. 'open', uid)
  expire_final(key)
  emit('u ' .. uid .. ' ' .. state .. ' ' .. pilot)
  return true
end

-- live_pilots returns the pilots that are not final, with their slot counts.
local function live_pilots()
  local out = {}
  for _, pid in ipairs(redis.call('SMEMBERS', P .. 'pilots')) do
    local r = redis.call('HMGET', P .. pid, 'state', 'slots')
    if r[1] and not FINAL[r[1]] then out[#out + 1] = {pid, tonumber(r[2]) or 0} end
  end
  return out
end

-- pilot_busy is the sum of the slots of the units that hold or wait for
-- pilot pid: submitted to it and not final (queued on it, taken or
-- running), and those of the service queue it took.
local function pilot_busy(pid)
  local busy = 0
  for _, uid in ipairs(redis.call('SMEMBERS', P .. pid .. ':pending')) do
    busy = busy + (tonumber(redis.call('HGET', P .. uid, 'slots')) or 1)
  end
  for _, uid in ipairs(redis.call('SMEMBERS', P .. pid .. ':active')) do
    if redis.call('SISMEMBER', P .. pid .. ':pending', uid) == 0 then
      busy = busy + (tonumber(redis.call('HGET', P .. uid, 'slots')) or 1)
    end
  end
  return busy
end

-- give_back returns a unit to the service queue, unowned, so that any pilot
-- may take it; why (if not '') is kept as the reason of its last lost run.
local function give_back(uid, why)
  counted(redis.call('HGET', P .. uid, 'state'), 'Unknown')
  if why ~= '' then
    redis.call('HSET', P .. uid, 'state', 'Unknown', 'pilot', '', 'lost_reason', why)
  else
    redis.call('HSET', P .. uid, 'state', 'Unknown', 'pilot', '')
  end
  redis.call('XADD', P .. 'q', '*', 'u', uid)
  emit('u ' .. uid .. ' Unknown ')
end
