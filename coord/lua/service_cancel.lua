-- service_cancel: ARGV[5] reason. Marks the service Canceled (no new pilots
-- or units) and cancels the units still waiting in the service queue.
redis.call('HSET', P .. 'info', 'state', 'Canceled', 'end_time', NOW)
for _, e in ipairs(redis.call('XRANGE', P .. 'q', '-', '+')) do
  finish_unit(e[2][2], 'Canceled', ARGV[5])
end
redis.call('DEL', P .. 'q')
touch_service()
publish()
return 'ok'
