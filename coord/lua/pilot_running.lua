-- pilot_running: the agent has started. ARGV[5] pilot id, then field/value
-- pairs. Returns {'ok'}, or {'final', state} / {'missing'} when the agent
-- must not run (the pilot was canceled or failed meanwhile).
local pid = ARGV[5]
local st = redis.call('HGET', P .. pid, 'state')
if not st then return {'missing'} end
if FINAL[st] then return {'final', st} end
local args = {P .. pid, 'state', 'Running', 'stopped', 'False', 'end_queue_time', NOW, 'last_contact', NOW}
for i = 6, #ARGV do args[#args + 1] = ARGV[i] end
redis.call('HSET', unpack(args))
touch_service()
touch_pilot(pid)
emit('p ' .. pid .. ' Running')
publish()
return {'ok'}
