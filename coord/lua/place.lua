-- place: put units held for central placement on a pilot's own queue.
-- ARGV[5] pilot id, ARGV[6] 'fail' to end the units instead (ARGV[7] the
-- reason), else '', then the unit ids, in order. Units are placed in order
-- while the pilot has free slots for them (its slots less those of its
-- units that are not final); a unit no longer held (canceled, or placed by
-- another call) is passed over. Returns {'ok', consumed, free}: the units
-- before index consumed (from 0) are placed or passed over, the others
-- stay held. Or {'no-pilot'} or {'pilot-final', state}.
local pid, fail = ARGV[5], ARGV[6] == 'fail'
local first = fail and 8 or 7
if fail then
  local n = 0
  for i = first, #ARGV do
    local uid = ARGV[i]
    if redis.call('HGET', P .. uid, 'via') == 'held' then finish_unit(uid, 'Failed', ARGV[7]) end
    n = n + 1
  end
  publish()
  return {'ok', tostring(n), '0'}
end
local r = redis.call('HMGET', P .. pid, 'state', 'slots')
if not r[1] then return {'no-pilot'} end
if FINAL[r[1]] then return {'pilot-final', r[1]} end
local free = (tonumber(r[2]) or 0) - pilot_busy(pid)
local q = P .. pid .. ':q'
local consumed, placed = 0, {}
for i = first, #ARGV do
  local uid = ARGV[i]
  local u = redis.call('HMGET', P .. uid, 'state', 'via', 'slots')
  if u[2] == 'held' and not FINAL[u[1]] then
    local need = tonumber(u[3]) or 1
    if need > free then break end
    free = free - need
    redis.call('HSET', P .. uid, 'via', 'pilot', 'pilot', pid)
    redis.call('XADD', q, '*', 'u', uid)
    emit('u ' .. uid .. ' Unknown ' .. pid)
    placed[#placed + 1] = uid
  end
  consumed = consumed + 1
end
if #placed > 0 then
  redis.call('SREM', P .. 'held', unpack(placed))
  redis.call('RPUSH', P .. pid .. ':units', unpack(placed))
  redis.call('SADD', P .. pid .. ':pending', unpack(placed))
  ensure_ttl(P .. pid .. ':units')
  ensure_ttl(P .. pid .. ':pending')
end
publish()
return {'ok', tostring(consumed), tostring(free)}
