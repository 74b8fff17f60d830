-- service_cancel: ARGV[5] reason. Marks the service Canceled (no new pilots
-- or units), cancels the units still waiting in the service queue or held
-- for placement, and gives the service's keys the TTL of finished records,
-- so that they are pruned.
redis.call('HSET', P .. 'info', 'state', 'Canceled', 'end_time', NOW)
for _, e in ipairs(redis.call('XRANGE', P .. 'q', '-', '+')) do
  finish_unit(e[2][2], 'Canceled', ARGV[5])
end
redis.call('DEL', P .. 'q')
for _, uid in ipairs(redis.call('SMEMBERS', P .. 'held')) do
  finish_unit(uid, 'Canceled', ARGV[5])
end
redis.call('DEL', P .. 'held')
for _, k in ipairs({'info', 'pilots', 'ev', 'ev:n', 'open', 'counts'}) do expire_final(P .. k) end
for _, pid in ipairs(redis.call('SMEMBERS', P .. 'pilots')) do
  for _, s in ipairs({'', ':units', ':q', ':ctl', ':pending', ':active'}) do expire_final(P .. pid .. s) end
end
publish()
return 'ok'
