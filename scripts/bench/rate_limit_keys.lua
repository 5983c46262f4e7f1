-- wrk script for scripts/bench/rate_limit: every request carries `X-Key: k<7 digits>`, one of
-- RATE_LIMIT_KEYS (default 1,000,000) distinct values drawn uniformly at random, so a limiter
-- keyed on $http_x_key sees a million clients. The benchmark fills the zones with the same
-- keys (k0000000 ... k0999999) before measuring.

local keys = tonumber(os.getenv("RATE_LIMIT_KEYS") or "1000000")

function init(args)
    math.randomseed(os.time())  -- each wrk thread has its own Lua state
end

function request()
    return wrk.format(nil, nil, { ["X-Key"] = string.format("k%07d", math.random(keys) - 1) })
end
