-- Every per-request policy check of the gateway in one round trip (see policies/script.py).
--
-- KEYS[1] revoked token id     KEYS[2] subscription override   KEYS[3] cached subscription
-- KEYS[4] read-only flag       KEYS[5] tenant's rate-limit overrides
-- KEYS[6] demo session (a demo token's; ended early, it refuses the token at once)
-- KEYS[7] a logout's token's cached claims (the authorizer's), forgotten with the revocation
-- KEYS[8..] one key per rate-limit bucket, then last the service's circuit (forwarding/circuit_breaker.py)
-- ARGV[i] one per bucket: "scope|plan,requests,window_ms|plan,requests,window_ms..." with the
--         candidate limits most specific first (an empty plan matches any plan). One argument per
--         bucket rather than one per number: each argument costs the client an encoding step.
-- ARGV[last - 1] the circuit's probe lease in ms; 0 when the request has no circuit to check.
-- ARGV[last] a logout's revocation: seconds KEYS[1] refuses the token; 0 for any other request.
--
-- Returns { revoked (before this call's own revocation), subscription (flat hash or false),
-- subscription source, read-only (flat hash or false), demo session alive, allowed, then per
-- bucket: scope, limit, window ms, remaining, reset ms, retry-after ms, then the circuit: state,
-- probe (1 when this request is the half-open probe), failures so far, retry-after ms }.
-- Rate buckets are all-or-nothing: a request refused by one bucket consumes none of the others.

local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)

local revoked = redis.call('EXISTS', KEYS[1])
-- A logout revokes first, whatever the budgets below decide: a drained budget must not keep a
-- token alive. Written again when already there (a second logout, or after a Redis that lost it).
local revoke_seconds = tonumber(ARGV[#ARGV])
if revoke_seconds > 0 then
  redis.call('SET', KEYS[1], '1', 'EX', revoke_seconds)
  redis.call('DEL', KEYS[7])
end
local source = 'override'
local subscription = redis.call('HGETALL', KEYS[2])
if #subscription == 0 then
  source = 'cache'
  subscription = redis.call('HGETALL', KEYS[3])
end
local plan = ''
for index = 1, #subscription, 2 do
  if subscription[index] == 'plan' then plan = subscription[index + 1] end
end
local read_only = redis.call('HGETALL', KEYS[4])
local demo_alive = redis.call('EXISTS', KEYS[6])

local buckets = {}
local buckets_count = #ARGV - 2
for bucket = 1, buckets_count do
  local spec = ARGV[bucket]
  local first = string.find(spec, '|', 1, true)
  local scope = string.sub(spec, 1, first - 1)
  local limit, window = nil, nil
  local override = redis.call('HGET', KEYS[5], scope)
  if override then
    -- A malformed override is ignored, not fatal: one bad value must not stop a tenant's traffic.
    local requests, window_ms = string.match(override, '^(%d+):(%d+)$')
    if requests and tonumber(requests) > 0 and tonumber(window_ms) > 0 then
      limit = tonumber(requests)
      window = tonumber(window_ms)
    end
  end
  for wanted_plan, requests, window_ms in string.gmatch(string.sub(spec, first), '|([^,|]*),(%d+),(%d+)') do
    if limit == nil and (wanted_plan == '' or wanted_plan == plan) then
      limit = tonumber(requests)
      window = tonumber(window_ms)
    end
  end
  buckets[bucket] = { key = KEYS[7 + bucket], scope = scope, limit = limit, window = window }
end

-- GCRA: each request moves the theoretical arrival time (TAT) on by window / limit; a request is
-- allowed while the TAT stays within one window of now (a burst of `limit`, then the steady rate).
local allowed = 1
for _, bucket in ipairs(buckets) do
  local interval = bucket.window / bucket.limit
  local tat = tonumber(redis.call('GET', bucket.key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - bucket.window
  if allow_at > now then
    allowed = 0
    bucket.retry_after = math.ceil(allow_at - now)
    bucket.remaining = 0
    bucket.reset = math.ceil(tat - now)
  else
    bucket.retry_after = 0
    -- Whole milliseconds: an integer is stored and parsed faster than a float, and loses nothing here.
    bucket.new_tat = math.ceil(new_tat)
    bucket.remaining = math.floor((now - allow_at) / interval)
    bucket.reset = math.ceil(new_tat - now)
  end
end
-- The circuit (a hash: failures, opened_until, probe_until): open until opened_until, then half-open,
-- when the first request to get here takes the probe lease; the others are refused while it lasts.
-- Only an allowed request may take the lease: a rate-limited one would hold it without probing.
local circuit, probe, failures, circuit_retry = 'closed', 0, 0, 0
local probe_ms = tonumber(ARGV[#ARGV - 1])
if probe_ms > 0 then
  local fields = redis.call('HMGET', KEYS[#KEYS], 'failures', 'opened_until', 'probe_until')
  failures = tonumber(fields[1] or 0)
  local opened_until = tonumber(fields[2] or 0)
  local probe_until = tonumber(fields[3] or 0)
  if opened_until > now then
    circuit, circuit_retry = 'open', opened_until - now
  elseif opened_until > 0 then
    circuit = 'half-open'
    if probe_until > now or allowed == 0 then
      -- The probe usually answers within a second: its lease (the whole deadline) is only a bound.
      circuit_retry = 1000
    else
      probe = 1
      redis.call('HSET', KEYS[#KEYS], 'probe_until', now + probe_ms)
    end
  end
end

-- A request the circuit refuses consumes no rate limit: it never reaches the service.
if allowed == 1 and (circuit == 'closed' or probe == 1) then
  for _, bucket in ipairs(buckets) do
    redis.call('SET', bucket.key, bucket.new_tat, 'PX', math.ceil(bucket.new_tat - now) + 1000)
  end
end

local answer = { revoked, #subscription > 0 and subscription or false, source,
  #read_only > 0 and read_only or false, demo_alive, allowed }
for _, bucket in ipairs(buckets) do
  table.insert(answer, bucket.scope)
  table.insert(answer, bucket.limit)
  table.insert(answer, bucket.window)
  table.insert(answer, bucket.remaining)
  table.insert(answer, bucket.reset)
  table.insert(answer, bucket.retry_after)
end
table.insert(answer, circuit)
table.insert(answer, probe)
table.insert(answer, failures)
table.insert(answer, circuit_retry)
return answer
