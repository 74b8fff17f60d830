-- claim: an agent takes units from its queues.
-- ARGV[5] pilot id; ARGV[6] the call's token (unique per claim of this
-- agent; a retry of a call repeats it); ARGV[7], ARGV[8] how many more
-- entries to read (without blocking) from the pilot's own queue and from the
-- service queue; ARGV[9] number of entries n read already (by a blocking
-- read), then n triples: queue ('p' own queue, 's' service queue), stream
-- entry id, unit id.
-- A retry of a call that went through (its reply was lost) returns what
-- that call claimed, from P bj-<u>:claim, and claims nothing more: a unit is
-- never handed to the agent twice.
-- Every entry is acknowledged and deleted from its stream. Returns a flat list
-- of quadruples unit id, queue ('pilot'|'service'), description JSON, its
-- signature: the units now owned by the pilot
-- (state New). Canceled units are dropped; a unit larger than this pilot is
-- handed to a live pilot that is large enough, or failed if there is none.
-- If the pilot is already final, service units go back to the service queue.
-- A service-queue unit taken is appended to the pilot's P bj-<u>:units, so
-- that the pilot's listing shows it; a unit given back and taken again is
-- on the list of every pilot that took it (readers keep it under the pilot
-- its record names, coord.Store.PilotUnitIDs).
local me, token, nown, nsvc, n = ARGV[5], ARGV[6], tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local last = P .. me .. ':claim'
local out = {}
local function hand(uid, via, desc, sig)
  out[#out + 1] = uid
  out[#out + 1] = via
  out[#out + 1] = desc
  out[#out + 1] = str(sig)
end
local prev = redis.call('HMGET', last, 'token', 'units')
if prev[1] == token then
  for uid in string.gmatch(str(prev[2]), '%S+') do
    local r = redis.call('HMGET', P .. uid, 'state', 'description', 'via', 'pilot', 'sig')
    if r[1] == 'New' and r[4] == me then hand(uid, r[3], r[2], r[5]) end
  end
  return out
end
local mine = redis.call('HMGET', P .. me, 'state', 'slots')
local alive = mine[1] and not FINAL[mine[1]]
local myslots = tonumber(mine[2]) or 0
local entries = {}
for i = 0, n - 1 do
  entries[#entries + 1] = {ARGV[10 + 3 * i], ARGV[11 + 3 * i], ARGV[12 + 3 * i]}
end
local function read(q, stream, count)
  if count <= 0 or not alive then return end
  local ok, res = pcall(redis.call, 'XREADGROUP', 'GROUP', 'agents', me, 'COUNT', count, 'STREAMS', stream, '>')
  if not ok or type(res) ~= 'table' then return end
  for _, st in ipairs(res) do
    for _, e in ipairs(st[2]) do
      local uid = ''
      if e[2][1] == 'u' then uid = e[2][2] end
      entries[#entries + 1] = {q, e[1], uid}
    end
  end
end
read('p', P .. me .. ':q', nown)
read('s', P .. 'q', nsvc)
local acks = {p = {}, s = {}}
local taken = {} -- units this call takes: one SADD to the active set for all
local adopted = {} -- the service-queue units among them: one RPUSH to the pilot's list
for _, entry in ipairs(entries) do
  local q, eid, uid = entry[1], entry[2], entry[3]
  table.insert(acks[q], eid)
  local key = P .. uid
  local r = {false}
  if uid ~= '' then -- '' is a nudge: nothing to claim
    r = redis.call('HMGET', key, 'state', 'description', 'slots', 'via', 'pilot', 'sig')
  end
  if r[1] == 'Unknown' then
    local need = tonumber(r[3]) or 1
    if not alive then
      if r[4] == 'service' then
        redis.call('XADD', P .. 'q', '*', 'u', uid)
      else
        finish_unit(uid, 'Canceled', 'pilot ' .. me .. ' ended before the unit ran')
      end
    elseif need <= myslots then
      redis.call('HSET', key, 'state', 'New', 'pilot', me, 'claim_time', NOW)
      counted('Unknown', 'New')
      taken[#taken + 1] = uid
      if r[4] == 'service' then adopted[#adopted + 1] = uid end
      emit('u ' .. uid .. ' New ' .. me)
      hand(uid, r[4], r[2], r[6])
    else
      local target
      for _, p in ipairs(live_pilots()) do
        if p[1] ~= me and p[2] >= need then target = p[1] break end
      end
      if target and r[4] == 'service' then
        redis.call('XADD', P .. target .. ':q', '*', 'u', uid)
      else
        finish_unit(uid, 'Failed', 'the unit needs ' .. need .. ' slots but no running pilot has that many (pilot ' .. me .. ' has ' .. myslots .. ')')
      end
    end
  elseif r[1] == 'New' and r[5] == me then
    hand(uid, r[4], r[2], r[6])
  end
end
if #taken > 0 then redis.call('SADD', P .. me .. ':active', unpack(taken)) end
if #adopted > 0 then
  redis.call('RPUSH', P .. me .. ':units', unpack(adopted))
  ensure_ttl(P .. me .. ':units')
end
if #acks.p > 0 then
  redis.call('XACK', P .. me .. ':q', 'agents', unpack(acks.p))
  redis.call('XDEL', P .. me .. ':q', unpack(acks.p))
end
if #acks.s > 0 then
  redis.call('XACK', P .. 'q', 'agents', unpack(acks.s))
  redis.call('XDEL', P .. 'q', unpack(acks.s))
end
local ids = {}
for i = 1, #out, 4 do ids[#ids + 1] = out[i] end
redis.call('HSET', last, 'token', token, 'units', table.concat(ids, ' '))
expire(last)
publish()
return out
