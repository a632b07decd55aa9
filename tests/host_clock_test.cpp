// The host machine's clock (src/arch/host/host_clock.h): the TSC scaled to
// nanoseconds where the host allows, CLOCK_MONOTONIC elsewhere. Properties
// only: it never goes back, and it keeps CLOCK_MONOTONIC's rate (a wrong
// scale or shift would be off by a factor, not by parts per million).
#include "arch/host/host_clock.h"

#include <gtest/gtest.h>
#include <time.h>

#include <cstdint>

namespace kp {
namespace {

TEST(HostClock, NeverGoesBack) {
    const host_clock clock;
    nsec_t last = clock.now();
    EXPECT_GE(last, 0);
    for (int i = 0; i < 1'000'000; ++i) {
        const nsec_t t = clock.now();
        ASSERT_GE(t, last) << "read " << i;
        last = t;
    }
}

// Both clocks read back to back, retried until no preemption fell between.
struct reading {
    nsec_t ours;
    std::int64_t mono;
};
reading read_both(const host_clock& clock) {
    for (;;) {
        const nsec_t a = clock.now();
        const std::int64_t mono = host_clock::monotonic_ns();
        const nsec_t b = clock.now();
        if (b - a < 10'000) return {a + (b - a) / 2, mono};
    }
}

TEST(HostClock, KeepsMonotonicsRate) {
    const host_clock clock;
    const reading start = read_both(clock);
    const timespec pause{0, 50'000'000};
    nanosleep(&pause, nullptr);
    const reading end = read_both(clock);
    const double ratio = static_cast<double>(end.ours - start.ours) / static_cast<double>(end.mono - start.mono);
    EXPECT_NEAR(ratio, 1.0, 1e-3) << (clock.uses_tsc() ? "TSC" : "CLOCK_MONOTONIC");
}

}  // namespace
}  // namespace kp
