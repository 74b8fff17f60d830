-- submit: queue new units, atomically with their records.
-- ARGV[5] target pilot id, '' for the service-wide queue, or '@held' for
-- units held for central placement (recorded, open, in no queue: place.lua
-- later puts each on a pilot's queue)
-- ARGV[6] number of units n, then n quadruples: unit id, slots needed,
-- description JSON, its signature
-- Returns {'ok'} followed, for each unit refused alone, by its index (from
-- 0), the slots it needs and the most the target has: a unit larger than
-- its pilot, or than the largest live pilot of the service, is not queued,
-- and the units around it are. Or, when no unit can be queued, an error
-- tuple: {'service-canceled'}, {'no-pilot'}, {'pilot-final', state}.
-- Units whose record exists already are skipped, so a retried call is harmless.
local target, n = ARGV[5], tonumber(ARGV[6])
if redis.call('HGET', P .. 'info', 'state') == 'Canceled' then return {'service-canceled'} end
local queue, via, most
if target == '' or target == '@held' then
  local live = live_pilots()
  if #live > 0 then
    most = 0
    for _, p in ipairs(live) do
      if p[2] > most then most = p[2] end
    end
  end
  if target == '' then
    queue, via = P .. 'q', 'service'
  else
    via, target = 'held', ''
  end
else
  local r = redis.call('HMGET', P .. target, 'state', 'slots')
  if not r[1] then return {'no-pilot'} end
  if FINAL[r[1]] then return {'pilot-final', r[1]} end
  most = tonumber(r[2]) or 0
  queue, via = P .. target .. ':q', 'pilot'
end
local reply = {'ok'}
local created = {} -- ids of the records made here, for the set writes after the loop
if queue and redis.call('EXISTS', queue) == 0 then
  redis.pcall('XGROUP', 'CREATE', queue, 'agents', '0', 'MKSTREAM')
end
for i = 0, n - 1 do
  local id, slots, desc, sig = ARGV[7 + 4 * i], ARGV[8 + 4 * i], ARGV[9 + 4 * i], ARGV[10 + 4 * i]
  local key = P .. id
  if most and tonumber(slots) > most then
    reply[#reply + 1] = tostring(i)
    reply[#reply + 1] = slots
    reply[#reply + 1] = tostring(most)
  elseif redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'state', 'Unknown', 'start_time', NOW, 'slots', slots, 'via', via,
      'pilot', target, 'description', desc, 'sig', sig)
    expire(key)
    if queue then redis.call('XADD', queue, '*', 'u', id) end
    counted(nil, 'Unknown')
    emit('u ' .. id .. ' Unknown ' .. target)
    created[#created + 1] = id
  end
end
-- one command per set for the whole call (a call carries at most 1000 units)
if #created > 0 then
  redis.call('SADD', P .. 'open', unpack(created))
  if via == 'pilot' then
    redis.call('RPUSH', P .. target .. ':units', unpack(created))
    redis.call('SADD', P .. target .. ':pending', unpack(created))
  elseif via == 'held' then
    redis.call('SADD', P .. 'held', unpack(created))
  end
end
-- heartbeats renew the TTLs of a running pilot's keys; here only the
-- collections this call may have created get one
if queue then ensure_ttl(queue) else ensure_ttl(P .. 'held') end
ensure_ttl(P .. 'open')
ensure_ttl(P .. 'counts')
if via == 'pilot' then
  ensure_ttl(P .. target .. ':units')
  ensure_ttl(P .. target .. ':pending')
end
publish()
return reply
