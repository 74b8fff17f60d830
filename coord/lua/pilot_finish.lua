-- pilot_finish: end a pilot. ARGV[5] pilot id, ARGV[6] its final state,
-- ARGV[7] reason, ARGV[8] final state for its unfinished units, ARGV[9] their
-- reason. Units the agent started and units still in the pilot's own queue get
-- ARGV[8]; service units it has not started (claimed, read but not claimed, or
-- handed to it by another pilot) go back to the service queue. Returns {'ok'}, {'final', state} or {'missing'}.
local pid, state, reason, ustate, ureason = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]
local cur = redis.call('HGET', P .. pid, 'state')
if not cur then return {'missing'} end
if FINAL[cur] then return {'final', cur} end
if reason ~= '' then
  redis.call('HSET', P .. pid, 'state', state, 'stopped', 'True', 'end_time', NOW, 'reason', reason)
else
  redis.call('HSET', P .. pid, 'state', state, 'stopped', 'True', 'end_time', NOW)
end
emit('p ' .. pid .. ' ' .. state)
local function give_back(uid)
  redis.call('HSET', P .. uid, 'state', 'Unknown', 'pilot', '')
  redis.call('XADD', P .. 'q', '*', 'u', uid)
  emit('u ' .. uid .. ' Unknown ')
end
for _, uid in ipairs(redis.call('SMEMBERS', P .. pid .. ':active')) do
  local u = redis.call('HMGET', P .. uid, 'state', 'via')
  if u[1] == 'New' and u[2] == 'service' then
    give_back(uid)
  else
    finish_unit(uid, ustate, ureason)
  end
end
for _, e in ipairs(redis.call('XRANGE', P .. pid .. ':q', '-', '+')) do
  if e[2][1] == 'u' then
    local uid = e[2][2]
    local u = redis.call('HMGET', P .. uid, 'state', 'via')
    if u[1] == 'Unknown' and u[2] == 'service' then
      give_back(uid)
    else
      finish_unit(uid, ustate, ureason)
    end
  end
end
for _, uid in ipairs(redis.call('SMEMBERS', P .. pid .. ':pending')) do
  finish_unit(uid, ustate, ureason)
end
-- entries of the service queue this agent read but never claimed
local ok, pend = pcall(redis.call, 'XPENDING', P .. 'q', 'agents', '-', '+', 100000, pid)
if ok and type(pend) == 'table' then
  for _, p in ipairs(pend) do
    local eid = p[1]
    local e = redis.call('XRANGE', P .. 'q', eid, eid)
    redis.call('XACK', P .. 'q', 'agents', eid)
    redis.call('XDEL', P .. 'q', eid)
    if e[1] then
      local uid = e[1][2][2]
      if redis.call('HGET', P .. uid, 'state') == 'Unknown' then redis.call('XADD', P .. 'q', '*', 'u', uid) end
    end
  end
end
redis.call('DEL', P .. pid .. ':q', P .. pid .. ':ctl', P .. pid .. ':active', P .. pid .. ':pending')
touch_service()
touch_pilot(pid)
publish()
return {'ok'}
