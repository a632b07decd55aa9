#include "common.h"

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <thread>

namespace kpbench {

std::int64_t monotonic_ns() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// 100 ms against CLOCK_MONOTONIC, the TSC read right beside each clock read.
const tsc_rate& tsc_calibration() {
    static const tsc_rate rate = [] {
        const std::int64_t m0 = monotonic_ns();
        const std::uint64_t t0 = tsc();
        const timespec pause{0, 100'000'000};
        nanosleep(&pause, nullptr);
        const std::int64_t m1 = monotonic_ns();
        const std::uint64_t t1 = tsc();
        tsc_rate r;
        r.ticks_per_ns = static_cast<double>(t1 - t0) / static_cast<double>(m1 - m0);
        r.ns_per_tick = 1.0 / r.ticks_per_ns;
        return r;
    }();
    return rate;
}

void pin_this_thread(int cpu) {
    const unsigned n = std::max(1u, std::thread::hardware_concurrency());
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<unsigned>(cpu) % n, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

void run_pinned(int cpu, const std::function<void()>& fn) {
    std::thread t([&] {
        pin_this_thread(cpu);
        fn();
    });
    t.join();
}

int driver_cpu() {
    const unsigned n = std::max(1u, std::thread::hardware_concurrency());
    return n > 1 ? 1 : 0;
}

double quantile(std::vector<double> v, double q) {
    if (v.empty()) return std::nan("");
    std::sort(v.begin(), v.end());
    const double rank = std::ceil(q * static_cast<double>(v.size()));
    const std::size_t i = rank < 1 ? 0 : static_cast<std::size_t>(rank) - 1;
    return v[std::min(i, v.size() - 1)];
}

double mean(const std::vector<double>& v) {
    if (v.empty()) return std::nan("");
    return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

summary summarize(const std::vector<double>& ns) {
    summary s;
    s.n = ns.size();
    s.p50 = quantile(ns, 0.50);
    s.p99 = quantile(ns, 0.99);
    s.p999 = quantile(ns, 0.999);
    s.max = ns.empty() ? std::nan("") : *std::max_element(ns.begin(), ns.end());
    s.avg = mean(ns);
    return s;
}

void result(const std::string& key, double value) {
    std::printf("RESULT %s %.6g\n", key.c_str(), value);
    std::fflush(stdout);
}

void result(const std::string& prefix, const summary& s) {
    result(prefix + ".n", static_cast<double>(s.n));
    result(prefix + ".p50_ns", s.p50);
    result(prefix + ".p99_ns", s.p99);
    result(prefix + ".p999_ns", s.p999);
    result(prefix + ".max_ns", s.max);
    result(prefix + ".avg_ns", s.avg);
}

long proc_status_kib(const char* field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    const std::size_t len = std::strlen(field);
    while (std::getline(in, line))
        if (line.compare(0, len, field) == 0 && line.size() > len && line[len] == ':')
            return std::stol(line.substr(len + 1));
    return -1;
}

}  // namespace kpbench
