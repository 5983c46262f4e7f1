// Request rates as the module's captain_limit_zone spells them ("10r/s", "100r/5m"), checked
// before they reach a generated nginx configuration (an app's rateLimit, api_rate_limit).
#pragma once

#include <string>
#include <string_view>

namespace captain::validation {

// Empty when `rate` is "<N>r/<unit>" or "<N>r/<K><unit>" with unit ms, s, m, h or d and N, K
// from 1 to 1000000; otherwise a sentence saying what it must look like. The module's parser
// has the final word on the exact rate (nginx -t).
std::string rate_problem(std::string_view rate);

}  // namespace captain::validation
