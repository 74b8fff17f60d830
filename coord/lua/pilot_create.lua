-- pilot_create: ARGV[5] pilot id, ARGV[6] slots, then field/value pairs of
-- the pilot record. Creates the record (state Unknown), its queue and consumer
-- groups. Returns {'ok'} or {'service-canceled'}.
local pid, slots = ARGV[5], ARGV[6]
if redis.call('HGET', P .. 'info', 'state') == 'Canceled' then return {'service-canceled'} end
local args = {P .. pid, 'state', 'Unknown', 'stopped', 'False', 'start_time', NOW, 'slots', slots, 'heartbeat', '0'}
for i = 7, #ARGV do args[#args + 1] = ARGV[i] end
redis.call('HSET', unpack(args))
redis.call('SADD', P .. 'pilots', pid)
redis.call('HSETNX', P .. 'info', 'created', NOW)
redis.pcall('XGROUP', 'CREATE', P .. pid .. ':q', 'agents', '0', 'MKSTREAM')
redis.pcall('XGROUP', 'CREATE', P .. 'q', 'agents', '0', 'MKSTREAM')
touch_service()
touch_pilot(pid)
emit('p ' .. pid .. ' Unknown')
publish()
return {'ok'}
