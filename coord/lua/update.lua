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
-- units that became final here: they leave the sets in one command each
local ended, endedOwn = {}, {}
for _ = 1, n do
  local uid, state, passed, k = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
  local key = P .. uid
  local r = redis.call('HMGET', key, 'state', 'via', 'pilot', 'attempt')
  if r[1] and not FINAL[r[1]] and r[3] == me then
    local fields = {key, 'state', state}
    for j = i + 4, i + 3 + 2 * k do fields[#fields + 1] = ARGV[j] end
    if r[1] ~= 'Running' and (state == 'Running' or string.find(passed, 'Running', 1, true)) then
      fields[#fields + 1] = 'attempt'
      fields[#fields + 1] = (tonumber(r[4]) or 0) + 1
    end
    redis.call('HSET', unpack(fields))
    counted(r[1], state)
    if FINAL[state] then
      ended[#ended + 1] = uid
      if r[2] == 'pilot' then endedOwn[#endedOwn + 1] = uid end
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
if #ended > 0 then
  redis.call('SREM', P .. me .. ':active', unpack(ended))
  redis.call('SREM', P .. 'open', unpack(ended))
end
if #endedOwn > 0 then redis.call('SREM', P .. me .. ':pending', unpack(endedOwn)) end
publish()
return applied
