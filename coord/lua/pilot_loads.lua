-- pilot_loads: the pilots that are not final, as {id, state, slots, free}
-- quadruples, flat; free is slots less those of the pilot's units that are
-- not final (see pilot_busy).
local out = {}
for _, pid in ipairs(redis.call('SMEMBERS', P .. 'pilots')) do
  local r = redis.call('HMGET', P .. pid, 'state', 'slots')
  if r[1] and not FINAL[r[1]] then
    local slots = tonumber(r[2]) or 0
    out[#out + 1] = pid
    out[#out + 1] = r[1]
    out[#out + 1] = tostring(slots)
    out[#out + 1] = tostring(slots - pilot_busy(pid))
  end
end
return out
