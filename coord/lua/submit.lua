-- submit: queue new units, atomically with their records.
-- ARGV[5] target pilot id, or '' for the service-wide queue
-- ARGV[6] number of units n, then n quadruples: unit id, slots needed,
-- description JSON, its signature
-- Returns {'ok'} or an error tuple: {'service-canceled'}, {'no-pilot'},
-- {'pilot-final', state}, {'too-large', needed, largest}.
-- Units whose record exists already are skipped, so a retried call is harmless.
local target, n = ARGV[5], tonumber(ARGV[6])
if redis.call('HGET', P .. 'info', 'state') == 'Canceled' then return {'service-canceled'} end
local need = 0
for i = 0, n - 1 do
  local s = tonumber(ARGV[8 + 4 * i])
  if s > need then need = s end
end
local queue, via
if target == '' then
  local live, best = live_pilots(), 0
  for _, p in ipairs(live) do
    if p[2] > best then best = p[2] end
  end
  if #live > 0 and need > best then return {'too-large', tostring(need), tostring(best)} end
  queue, via = P .. 'q', 'service'
else
  local r = redis.call('HMGET', P .. target, 'state', 'slots')
  if not r[1] then return {'no-pilot'} end
  if FINAL[r[1]] then return {'pilot-final', r[1]} end
  if need > (tonumber(r[2]) or 0) then return {'too-large', tostring(need), str(r[2])} end
  queue, via = P .. target .. ':q', 'pilot'
end
if redis.call('EXISTS', queue) == 0 then
  redis.pcall('XGROUP', 'CREATE', queue, 'agents', '0', 'MKSTREAM')
end
for i = 0, n - 1 do
  local id, slots, desc, sig = ARGV[7 + 4 * i], ARGV[8 + 4 * i], ARGV[9 + 4 * i], ARGV[10 + 4 * i]
  local key = P .. id
  if redis.call('EXISTS', key) == 0 then
    redis.call('HSET', key, 'state', 'Unknown', 'start_time', NOW, 'slots', slots, 'via', via,
      'pilot', target, 'description', desc, 'sig', sig)
    expire(key)
    redis.call('SADD', P .. 'open', id)
    if via == 'pilot' then
      redis.call('RPUSH', P .. target .. ':units', id)
      redis.call('SADD', P .. target .. ':pending', id)
    end
    redis.call('XADD', queue, '*', 'u', id)
    emit('u ' .. id .. ' Unknown ' .. target)
  end
end
-- heartbeats renew the TTLs of a running pilot's keys; here only the
-- collections this call may have created get one
ensure_ttl(queue)
ensure_ttl(P .. 'open')
if via == 'pilot' then
  ensure_ttl(P .. target .. ':units')
  ensure_ttl(P .. target .. ':pending')
end
publish()
return {'ok'}
