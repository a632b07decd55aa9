#include "arch/host/host_clock.h"

#include <time.h>
#include <x86intrin.h>

#include <fstream>
#include <sstream>
#include <string>

namespace kp {

namespace {

// The TSC ticks at one rate on every CPU, in every power state, and the
// host kernel trusts it as its clocksource (it checks that the CPUs agree).
bool tsc_usable() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    bool constant = false;
    bool nonstop = false;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("flags", 0) != 0) continue;
        std::istringstream flags(line);
        for (std::string f; flags >> f;) {
            constant |= f == "constant_tsc";
            nonstop |= f == "nonstop_tsc";
        }
        break;  // the first CPU's flags
    }
    std::ifstream cs("/sys/devices/system/clocksource/clocksource0/current_clocksource");
    std::string source;
    cs >> source;
    return constant && nonstop && source == "tsc";
}

// One CLOCK_MONOTONIC reading and the TSC at its middle.
struct clock_pair {
    std::int64_t ns;
    std::uint64_t tsc;
};
clock_pair read_pair() {
    const std::uint64_t before = __rdtsc();
    const std::int64_t ns = host_clock::monotonic_ns();
    const std::uint64_t after = __rdtsc();
    return {ns, before + (after - before) / 2};
}

struct tsc_rate {
    bool usable = false;
    std::uint64_t mult = 0;  // ns per tick, 32.32
};

// Once per process: 20 ms against CLOCK_MONOTONIC. Each end is known to
// about 15 ns, so the rate to about 1.5 ppm; the 20 ppm rounding up covers it.
const tsc_rate& calibration() {
    static const tsc_rate rate = [] {
        tsc_rate r;
        if (!tsc_usable()) return r;
        const clock_pair a = read_pair();
        const timespec pause{0, 20'000'000};
        nanosleep(&pause, nullptr);
        const clock_pair b = read_pair();
        if (b.tsc <= a.tsc || b.ns <= a.ns) return r;
        const long double ns_per_tick = static_cast<long double>(b.ns - a.ns) / static_cast<long double>(b.tsc - a.tsc);
        r.mult = static_cast<std::uint64_t>(ns_per_tick * 1.000020L * 4294967296.0L);
        r.usable = r.mult > 0;
        return r;
    }();
    return rate;
}

}  // namespace

std::int64_t host_clock::monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

nsec_t host_clock::now() const {
    if (!tsc_) return monotonic_ns() - epoch_;
    const std::uint64_t ticks = __rdtsc() - tsc0_;
    __extension__ using u128 = unsigned __int128;
    return static_cast<nsec_t>((static_cast<u128>(ticks) * mult_) >> 32);
}

host_clock::host_clock() {
    const tsc_rate& rate = calibration();
    tsc_ = rate.usable;
    mult_ = rate.mult;
    const clock_pair p = read_pair();
    epoch_ = p.ns;
    tsc0_ = p.tsc;
}

}  // namespace kp
