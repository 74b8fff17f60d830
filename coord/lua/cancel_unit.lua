-- cancel_unit: ARGV[5] unit id, ARGV[6] reason.
-- A queued unit is canceled here and now: {'canceled'}. A unit owned by an
-- agent gets a "cancel" command on that pilot's control list, and the agent
-- kills it and records Canceled: {'owned', pilot id}. Otherwise {'final',
-- state} or {'missing'}.
local uid = ARGV[5]
local r = redis.call('HMGET', P .. uid, 'state', 'pilot')
if not r[1] then return {'missing'} end
if FINAL[r[1]] then return {'final', r[1]} end
if r[1] == 'Unknown' then
  finish_unit(uid, 'Canceled', ARGV[6])
  publish()
  return {'canceled'}
end
redis.call('LPUSH', P .. r[2] .. ':ctl', 'cancel ' .. uid)
expire(P .. r[2] .. ':ctl')
return {'owned', r[2]}
