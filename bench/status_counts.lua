-- wrk script for bench/throughput.py: counts the answers per HTTP status, so the report says which
-- non-2xx a run got (wrk itself only counts them). Prints one "status <code> <count>" line each.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      totals[code] = (totals[code] or 0) + count
    end
  end
  for code, count in pairs(totals) do
    io.write(string.format("status %d %d\n", code, count))
  end
end
