-- update: record state changes of units, in order.
-- ARGV[5] number of updates n, then per update: unit id, new state, the
-- states it passed through on the way (space-separated, may be empty: they
-- only produce events), number of extra fields k, then k field/value pairs.
-- A unit that is already final is left alone. Returns the number applied.
local n = tonumber(ARGV[5])
local i, applied = 6, 0
for _ = 1, n do
  local uid, state, passed, k = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local key = P .. uid
  local r = redis.call('HMGET', key, 'state', 'via', 'pilot')
  if r[1] and not FINAL[r[1]] then
    if k > 0 then
      redis.call('HSET', key, 'state', state, unpack(ARGV, i + 4, i + 3 + 2 * k))
    else
      redis.call('HSET', key, 'state', state)
    end
    local pilot = str(r[3])
    if FINAL[state] then
      if pilot ~= '' then
        if r[2] == 'pilot' then redis.call('SREM', P .. pilot .. ':pending', uid) end
        redis.call('SREM', P .. pilot .. ':active', uid)
      end
      expire(key) -- the TTL from submission is renewed once, at the end
    end
    if passed ~= '' then
      for s in string.gmatch(passed, '%S+') do
        emit('u ' .. uid .. ' ' .. s .. ' ' .. pilot)
      end
    end
    emit('u ' .. uid .. ' ' .. state .. ' ' .. pilot)
    applied = applied + 1
  end
  i = i + 4 + 2 * k
end
publish()
return applied
