#include <algorithm>

#include "kpreempt/arrivals.h"

namespace kp {

arrival_stream::arrival_stream(const irq_arrivals& a, nsec_t from)
    : a_(a), rng_(a.seed), burst_start_(std::max(a.start, from)) {}

nsec_t arrival_stream::next() const {
    const nsec_t at = burst_start_ + burst_index_ * a_.burst_gap;
    return at > a_.stop ? KTIME_MAX : at;
}

// Within a burst, burst_gap apart; then the next period, or an exponential
// gap of at least 1 ns for a Poisson source.
void arrival_stream::advance() {
    if (++burst_index_ < a_.burst) return;
    burst_index_ = 0;
    if (a_.period > 0) {
        burst_start_ += a_.period;
    } else {
        std::exponential_distribution<double> gap(a_.rate_hz > 0 ? a_.rate_hz / 1e9 : 1.0);
        burst_start_ += std::max<nsec_t>(1, static_cast<nsec_t>(gap(rng_)));
    }
}

}  // namespace kp
