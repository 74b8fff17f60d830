-- update: record state changes of units, in order, for the agent of one
-- pilot. ARGV[5] pilot id, ARGV[6] number of updates n, then per update:
-- unit id, new state, the states it passed through on the way
-- (space-separated, may be empty: they only produce events), number of extra
-- fields k, then k field/value pairs. A unit that is final already, or that
-- this pilot no longer owns (it was given back after the pilot was taken for
-- lost), is left alone: a late agent cannot report a unit twice. A unit
-- that enters Running counts one more attempt (a retried call counts it
-- once). Returns the number applied.
local me, n = ARGV[5], tonumber(ARGV[6])
local i, applied = 7, 0
for _ = 1, n do
  local uid, state, passed, k = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local key = P .. uid
  local r = redis.call('HMGET', key, 'state', 'via', 'pilot')
  if r[1] and not FINAL[r[1]] and r[3] == me then
    if k > 0 then
      redis.call('HSET', key, 'state', state, unpack(ARGV, i + 4, i + 3 + 2 * k))
    else
      redis.call('HSET', key, 'state', state)
    end
    if r[1] ~= 'Running' and (state == 'Running' or string.find(passed, 'Running', 1, true)) then
      redis.call('HINCRBY', key, 'attempt', 1)
    end
    if FINAL[state] then
      if r[2] == 'pilot' then redis.call('SREM', P .. me .. ':pending', uid) end
      redis.call('SREM', P .. me .. ':active', uid)
      redis.call('SREM', P .. 'open', uid)
      expire_final(key)
    end
    if passed ~= '' then
      for s in string.gmatch(passed, '%S+') do
        emit('u ' .. uid .. ' ' .. s .. ' ' .. me)
      end
    end
    emit('u ' .. uid .. ' ' .. state .. ' ' .. me)
    applied = applied + 1
  end
  i = i + 4 + 2 * k
end
publish()
return applied
