-- requeue: an agent that stops gives back the service-queue units it claimed
-- but did not start. ARGV[5] pilot id, ARGV[6..] unit ids.
local me = ARGV[5]
for i = 6, #ARGV do
  local uid = ARGV[i]
  local key = P .. uid
  local r = redis.call('HMGET', key, 'state', 'via', 'pilot')
  if r[1] == 'New' and r[2] == 'service' and r[3] == me then
    redis.call('SREM', P .. me .. ':active', uid)
    give_back(uid, '')
  end
end
publish()
return 'ok'
