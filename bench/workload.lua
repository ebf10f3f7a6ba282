-- wrk script for the task API: every request carries the next user's token.
-- Usage: wrk ... -s bench/workload.lua URL -- LOAD_FILE MODE
--   LOAD_FILE: one line per user, "token<TAB>id,id,..." (written by bench/seed.py)
--   MODE: "list" (GET /api/tasks) or "mixed" (40% list, 30% get, 15% toggle, 15% create)
-- At the end one line "BENCH_JSON {...}" carries the numbers bench/wrk.py reads.

local threads = {}
local users = {}
local mode = "list"
local cursor = 0
statuses = {}

local titles = {
  "Call the plumber about the leak", "Review PR #731", "Buy coffee beans",
  "Prepare slides for Monday", "Renew the parking permit", "Email Jordan the contract",
}

function setup(thread)
  table.insert(threads, thread)
  thread:set("thread_index", #threads)
end

function init(args)
  mode = args[2] or "list"
  for line in io.lines(args[1]) do
    local token, ids = line:match("^([^\t]+)\t?(.*)$")
    local task_ids = {}
    for id in ids:gmatch("%d+") do
      task_ids[#task_ids + 1] = id
    end
    local auth = "Bearer " .. token
    users[#users + 1] = {
      read = { ["Authorization"] = auth },
      write = { ["Authorization"] = auth, ["Content-Type"] = "application/json" },
      ids = task_ids,
    }
  end
  -- Threads start at different users so they do not move in lockstep.
  cursor = ((thread_index - 1) * 97) % #users
  math.randomseed(1000 + thread_index)
end

local function any_id(user)
  return user.ids[math.random(#user.ids)]
end

function request()
  cursor = cursor % #users + 1
  local user = users[cursor]
  if mode == "list" then
    return wrk.format("GET", "/api/tasks", user.read)
  end
  local roll = math.random(100)
  if roll <= 40 then
    return wrk.format("GET", "/api/tasks", user.read)
  elseif roll <= 70 then
    return wrk.format("GET", "/api/tasks/" .. any_id(user), user.read)
  elseif roll <= 85 then
    return wrk.format("PATCH", "/api/tasks/" .. any_id(user) .. "/complete", user.read)
  end
  local body = '{"title":"' .. titles[math.random(#titles)] .. '","description":"Created by the benchmark."}'
  return wrk.format("POST", "/api/tasks", user.write, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + count
    end
  end
  local parts = {}
  for status, count in pairs(counts) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p99_9":%d},"statuses":{%s}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), table.concat(parts, ",")))
end
