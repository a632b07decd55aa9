// Time is int64 nanoseconds everywhere (like ktime_t).
#pragma once

#include <cstdint>
#include <limits>

namespace kp {

using nsec_t = std::int64_t;

inline constexpr nsec_t NSEC_PER_USEC = 1000;
inline constexpr nsec_t NSEC_PER_MSEC = 1000 * NSEC_PER_USEC;
inline constexpr nsec_t NSEC_PER_SEC = 1000 * NSEC_PER_MSEC;
inline constexpr nsec_t KTIME_MAX = std::numeric_limits<nsec_t>::max();

constexpr nsec_t usecs(std::int64_t n) { return n * NSEC_PER_USEC; }
constexpr nsec_t msecs(std::int64_t n) { return n * NSEC_PER_MSEC; }
constexpr nsec_t secs(std::int64_t n) { return n * NSEC_PER_SEC; }

}  // namespace kp
