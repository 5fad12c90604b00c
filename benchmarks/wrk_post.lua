-- wrk script of the ingest benchmark: POSTs a JSON body with a fresh messageId per event.
--
--   wrk ... -s wrk_post.lua URL -- BODY_TEMPLATE AUTHORIZATION ID_PREFIX
--
-- BODY_TEMPLATE is a file holding the body with @@MESSAGE_ID@@ where each messageId goes
-- (see payloads.py). done() prints one line `WRK_JSON {...}` for the Python driver; latencies
-- in it are microseconds.

local PLACEHOLDER = "@@MESSAGE_ID@@"
local threads = 0

function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end

local pieces = {}   -- odd slots: fixed body text; even slots: the messageIds of this request
local slots = 0
local prefix = ""
local counter = 0

function init(args)
  local file = assert(io.open(args[1], "rb"))
  local template = file:read("*a")
  file:close()
  local start = 1
  while true do
    local first, last = string.find(template, PLACEHOLDER, start, true)
    if not first then break end
    pieces[#pieces + 1] = string.sub(template, start, first - 1)
    pieces[#pieces + 1] = ""
    slots = slots + 1
    start = last + 1
  end
  pieces[#pieces + 1] = string.sub(template, start)
  prefix = args[3] .. "-" .. tid .. "-"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = args[2]
end

function request()
  for i = 1, slots do
    counter = counter + 1
    pieces[2 * i] = prefix .. counter
  end
  return wrk.format(nil, nil, nil, table.concat(pieces))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%.1f,"p90":%.1f,"p99":%.1f,"p999":%.1f,"max":%.1f,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
