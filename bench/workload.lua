-- wrk script for the task API: every request carries the next user's token.
-- Usage: wrk ... -s bench/workload.lua URL -- LOAD_FILE MODE [API]
--   LOAD_FILE: one line per user, "token<TAB>id,id,...[<TAB>user id]" (bench/seed.py, bench/pocketbase.py)
--   MODE: "list" (GET /api/tasks), "list?QUERY" (GET /api/tasks?QUERY, the service's routes only)
--         or "mixed" (40% list, 30% get, 15% toggle, 15% create)
--   API: "service" (default) or "pocketbase": the same requests in PocketBase's routes, where
--        a toggle is a PATCH of the status (PocketBase has no toggle) and a create names its owner
-- At the end one line "BENCH_JSON {...}" carries the numbers bench/wrk.py reads.

local threads = {}
local users = {}
local mode = "list"
local api = "service"
local cursor = 0
local query = nil
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
  api = args[3] or "service"
  query = mode:match("^list%?(.+)$")
  for line in io.lines(args[1]) do
    local token, ids, user_id = line:match("^([^\t]+)\t?([^\t]*)\t?(.*)$")
    local task_ids = {}
    for id in ids:gmatch("[^,]+") do
      task_ids[#task_ids + 1] = id
    end
    local auth = "Bearer " .. token
    users[#users + 1] = {
      read = { ["Authorization"] = auth },
      write = { ["Authorization"] = auth, ["Content-Type"] = "application/json" },
      ids = task_ids,
      user_id = user_id,
    }
  end
  -- Threads start at different users so they do not move in lockstep.
  cursor = ((thread_index - 1) * 97) % #users
  math.randomseed(1000 + thread_index)
end

local function any_id(user)
  return user.ids[math.random(#user.ids)]
end

local service = {
  list = function(user) return wrk.format("GET", "/api/tasks", user.read) end,
  get = function(user) return wrk.format("GET", "/api/tasks/" .. any_id(user), user.read) end,
  toggle = function(user)
    return wrk.format("PATCH", "/api/tasks/" .. any_id(user) .. "/complete", user.read)
  end,
  create = function(user, title)
    local body = '{"title":"' .. title .. '","description":"Created by the benchmark."}'
    return wrk.format("POST", "/api/tasks", user.write, body)
  end,
}

local records = "/api/collections/tasks/records"
local pocketbase = {
  -- The service's first page: up to 100, newest first, with the total.
  list = function(user) return wrk.format("GET", records .. "?perPage=100&sort=-created", user.read) end,
  get = function(user) return wrk.format("GET", records .. "/" .. any_id(user), user.read) end,
  toggle = function(user)
    local status = math.random(2) == 1 and "completed" or "pending"
    return wrk.format("PATCH", records .. "/" .. any_id(user), user.write, '{"status":"' .. status .. '"}')
  end,
  create = function(user, title)
    local body = '{"title":"' .. title .. '","description":"Created by the benchmark.","user":"'
      .. user.user_id .. '","status":"pending"}'
    return wrk.format("POST", records, user.write, body)
  end,
}

function request()
  cursor = cursor % #users + 1
  local user = users[cursor]
  local routes = api == "pocketbase" and pocketbase or service
  if mode == "list" then
    return routes.list(user)
  end
  if query then
    return wrk.format("GET", "/api/tasks?" .. query, user.read)
  end
  local roll = math.random(100)
  if roll <= 40 then
    return routes.list(user)
  elseif roll <= 70 then
    return routes.get(user)
  elseif roll <= 85 then
    return routes.toggle(user)
  end
  return routes.create(user, titles[math.random(#titles)])
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
