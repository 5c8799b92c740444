-- Every per-request policy check of the gateway in one round trip (see policy/script.py).
--
-- KEYS[1] revoked token id     KEYS[2] subscription override   KEYS[3] cached subscription
-- KEYS[4] read-only flag       KEYS[5] tenant's rate-limit overrides
-- KEYS[6..] one key per rate-limit bucket
-- ARGV[1] number of buckets, then per bucket: scope, candidate count, and per candidate
--         plan ('' = any plan), requests, window in milliseconds (most specific first)
--
-- Returns { revoked, subscription (flat hash or false), subscription source, read-only (flat hash
-- or false), allowed, then per bucket: scope, limit, window ms, remaining, reset ms, retry-after ms }.
-- Rate buckets are all-or-nothing: a request refused by one bucket consumes none of the others.

local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)

local revoked = redis.call('EXISTS', KEYS[1])
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

local bucket_count = tonumber(ARGV[1])
local position = 2
local buckets = {}
for bucket = 1, bucket_count do
  local scope = ARGV[position]
  local candidates = tonumber(ARGV[position + 1])
  position = position + 2
  local limit, window = nil, nil
  local override = redis.call('HGET', KEYS[5], scope)
  if override then
    local separator = string.find(override, ':', 1, true)
    limit = tonumber(string.sub(override, 1, separator - 1))
    window = tonumber(string.sub(override, separator + 1))
  end
  for _ = 1, candidates do
    local wanted_plan = ARGV[position]
    if limit == nil and (wanted_plan == '' or wanted_plan == plan) then
      limit = tonumber(ARGV[position + 1])
      window = tonumber(ARGV[position + 2])
    end
    position = position + 3
  end
  buckets[bucket] = { key = KEYS[5 + bucket], scope = scope, limit = limit, window = window }
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
    bucket.new_tat = new_tat
    bucket.remaining = math.floor((now - allow_at) / interval)
    bucket.reset = math.ceil(new_tat - now)
  end
end
if allowed == 1 then
  for _, bucket in ipairs(buckets) do
    redis.call('SET', bucket.key, bucket.new_tat, 'PX', math.ceil(bucket.new_tat - now) + 1000)
  end
end

local answer = { revoked, #subscription > 0 and subscription or false, source,
  #read_only > 0 and read_only or false, allowed }
for _, bucket in ipairs(buckets) do
  table.insert(answer, bucket.scope)
  table.insert(answer, bucket.limit)
  table.insert(answer, bucket.window)
  table.insert(answer, bucket.remaining)
  table.insert(answer, bucket.reset)
  table.insert(answer, bucket.retry_after)
end
return answer
