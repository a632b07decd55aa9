// The host machine's clock: nanoseconds since the machine was made.
//
// Read as Linux's sched_clock() reads it where it can: the TSC, scaled by a
// rate measured once against CLOCK_MONOTONIC. A clock_gettime() costs about
// 23 ns on our test host against 10 ns for an rdtsc, and the scheduler reads
// the clock on every wakeup and every switch (update_rq_clock). The TSC is
// used only where it is invariant and shared by all CPUs (constant_tsc and
// nonstop_tsc, and the host kernel's own clocksource is "tsc"); elsewhere the
// clock is CLOCK_MONOTONIC itself.
//
// The rate is rounded up by 20 ppm, so that this clock runs a little faster
// than CLOCK_MONOTONIC: a timer armed for a delay measured on this clock
// then fires at or after the time it was armed for. (Durations read 20 ppm
// long: 20 ns in a millisecond.) A timer that fires early anyway, because
// NTP slews CLOCK_MONOTONIC faster, is re-armed for the rest (host_machine).
#pragma once

#include <cstdint>

#include "kpreempt/time.h"

namespace kp {

class host_clock {
public:
    host_clock();  // the epoch: now() counts from here
    nsec_t now() const;
    bool uses_tsc() const { return tsc_; }
    static std::int64_t monotonic_ns();

private:
    bool tsc_ = false;
    std::int64_t epoch_ = 0;  // CLOCK_MONOTONIC at construction
    std::uint64_t tsc0_ = 0;  // the TSC at construction
    std::uint64_t mult_ = 0;  // nanoseconds per tick, 32.32 fixed point
};

}  // namespace kp
