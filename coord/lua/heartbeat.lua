-- heartbeat: ARGV[5] pilot id. Refreshes last_contact, counts the beat and
-- the TTL of the service's keys. Returns {'ok'}, {'final', state} or {'missing'}.
local pid = ARGV[5]
local st = redis.call('HGET', P .. pid, 'state')
if not st then return {'missing'} end
if FINAL[st] then return {'final', st} end
redis.call('HSET', P .. pid, 'last_contact', NOW)
redis.call('HINCRBY', P .. pid, 'heartbeat', 1)
touch_service()
touch_pilot(pid)
return {'ok'}
