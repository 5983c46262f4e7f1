-- wrk script for scripts/bench/metrics: requests cycle through METRICS_ROUTES (default 50)
-- locations /r/00 ... /r/49, so every route's counters are written during the run, not one
-- hot route's. Round-robin rather than random keeps the mix identical between variants.

local routes = tonumber(os.getenv("METRICS_ROUTES") or "50")
local paths = {}
local next_index = 0

function init(args)
    for i = 0, routes - 1 do
        paths[i] = string.format("/r/%02d", i)
    end
end

function request()
    local path = paths[next_index]
    next_index = (next_index + 1) % routes
    return wrk.format(nil, path)
end
