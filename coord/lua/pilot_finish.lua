-- pilot_finish: end a pilot. ARGV[5] pilot id, ARGV[6] its final state,
-- ARGV[7] reason, ARGV[8] final state for its unfinished units, ARGV[9] their
-- reason, ARGV[10] 'lost' when the pilot's agent is gone without having
-- ended its units (killed, node lost, walltime, cut off), else ''.
--
-- Units the agent started and units still in the pilot's own queue get
-- ARGV[8]; service units it has not started (claimed, read but not claimed,
-- or handed to it by another pilot) go back to the service queue. When the
-- pilot was lost, the service units it had started go back too, for another
-- pilot to run, unless they were started max_attempts times already: those
-- fail, with the reason and the count. The pilot record's ended_units
-- counts the units that ended with it. Returns {'ok'}, {'final', state} or
-- {'missing'}.
local pid, state, reason, ustate, ureason, lost = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10] == 'lost'
local cur = redis.call('HGET', P .. pid, 'state')
if not cur then return {'missing'} end
if FINAL[cur] then return {'final', cur} end
if reason ~= '' then
  redis.call('HSET', P .. pid, 'state', state, 'stopped', 'True', 'end_time', NOW, 'reason', reason)
else
  redis.call('HSET', P .. pid, 'state', state, 'stopped', 'True', 'end_time', NOW)
end
emit('p ' .. pid .. ' ' .. state)
-- ended counts the units that end with the pilot (not those given back):
-- a wait on the pilot says it lost them
local ended = 0
local function finish(uid, st, why)
  if finish_unit(uid, st, why) then ended = ended + 1 end
end
for _, uid in ipairs(redis.call('SMEMBERS', P .. pid .. ':active')) do
  local u = redis.call('HMGET', P .. uid, 'state', 'via', 'attempt')
  if u[2] == 'service' and u[1] == 'New' then
    give_back(uid, '')
  elseif u[2] == 'service' and lost and u[1] and not FINAL[u[1]] then
    local tries, limit = tonumber(u[3]) or 1, conf('max_attempts')
    redis.call('SREM', P .. pid .. ':active', uid)
    if tries < limit then
      give_back(uid, ureason)
    else
      finish(uid, 'Failed', ureason .. ' (the unit was started ' .. tries .. ' times; max_attempts is ' .. limit .. ')')
    end
  else
    finish(uid, ustate, ureason)
  end
end
for _, e in ipairs(redis.call('XRANGE', P .. pid .. ':q', '-', '+')) do
  if e[2][1] == 'u' then
    local uid = e[2][2]
    local u = redis.call('HMGET', P .. uid, 'state', 'via')
    if u[1] == 'Unknown' and u[2] == 'service' then
      give_back(uid, '')
    else
      finish(uid, ustate, ureason)
    end
  end
end
for _, uid in ipairs(redis.call('SMEMBERS', P .. pid .. ':pending')) do
  finish(uid, ustate, ureason)
end
redis.call('HSET', P .. pid, 'ended_units', ended)
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
redis.call('DEL', P .. pid .. ':q', P .. pid .. ':ctl', P .. pid .. ':active', P .. pid .. ':pending', P .. pid .. ':claim')
touch_service()
expire_final(P .. pid)
expire_final(P .. pid .. ':units')
publish()
return {'ok'}
