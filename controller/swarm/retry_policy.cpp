#include "controller/swarm/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>

namespace captain::swarm {

Rng make_random_rng() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine]() {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    return uniform(*engine);
  };
}

std::chrono::milliseconds backoff_ceiling(const RetryPolicy& policy, int attempt) {
  if (attempt <= 1) return std::chrono::milliseconds(0);
  const double cap = static_cast<double>(std::max<long long>(0, policy.max.count()));
  const double initial = static_cast<double>(std::max<long long>(0, policy.initial.count()));
  // !(m >= 1) also catches NaN.
  const double multiplier = !(policy.multiplier >= 1.0) ? 1.0 : policy.multiplier;
  // Inf once it overflows, which the cap then bounds.
  const double grown = initial * std::pow(multiplier, static_cast<double>(attempt - 2));
  const double ceiling = std::isfinite(grown) ? std::min(cap, grown) : cap;
  return std::chrono::milliseconds(static_cast<long long>(ceiling));
}

std::chrono::milliseconds delay_before_attempt(const RetryPolicy& policy, int attempt, Rng& rng) {
  const auto ceiling = backoff_ceiling(policy, attempt);
  if (ceiling.count() <= 0) return std::chrono::milliseconds(0);
  double u = rng ? rng() : 0.0;
  if (!(u >= 0.0)) u = 0.0;  // negative or NaN
  if (u >= 1.0) u = std::nextafter(1.0, 0.0);
  const auto delay = static_cast<long long>(std::floor(static_cast<double>(ceiling.count()) * u));
  return std::chrono::milliseconds(std::clamp<long long>(delay, 0, ceiling.count()));
}

}  // namespace captain::swarm
