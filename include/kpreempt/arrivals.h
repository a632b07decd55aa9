// When a device (or an NMI source) fires: the machine's model of a device's
// arrival process. Periodic, Poisson, or either in bursts.
#pragma once

#include <cstdint>
#include <random>

#include "kpreempt/time.h"

namespace kp {

struct irq_arrivals {
    nsec_t start = 0;        // the first arrival
    nsec_t period = 0;       // > 0: periodic; 0: Poisson at rate_hz
    double rate_hz = 0;      // Poisson: mean arrivals per second (exponential gaps, at least 1 ns)
    int burst = 1;           // arrivals per period or Poisson event, burst_gap apart
    nsec_t burst_gap = 0;
    nsec_t stop = KTIME_MAX;  // no arrival after this instant
    std::uint64_t seed = 1;  // the Poisson stream (std::mt19937_64)
};

// The instants of one arrival process, in order (both machines step their
// sources with it, so a workload's device fires at the same instants on
// either).
class arrival_stream {
public:
    // Arrivals at or after `from` (a source attached late skips the past).
    arrival_stream(const irq_arrivals& a, nsec_t from);
    // The next arrival, or KTIME_MAX once past `stop`.
    nsec_t next() const;
    void advance();

private:
    irq_arrivals a_;
    std::mt19937_64 rng_;
    nsec_t burst_start_ = 0;  // the current period or Poisson event
    int burst_index_ = 0;
};

}  // namespace kp
