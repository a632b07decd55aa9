// Shared by the host benchmarks (bench/host/, docs/performance.md): a TSC
// clock that works inside a preempted task, pinning, percentiles, VmRSS,
// and the "RESULT key value" lines that bench/host/run.sh collects.
//
// Why the TSC: a task body that calls clock_gettime spends its time in the
// vDSO, which the host machine never preempts asynchronously (not the main
// program's text: docs/host.md); an inline rdtsc keeps the measuring loop in
// our own code, so that it is preempted exactly as any user code would be.
// The TSC is invariant here (constant_tsc, nonstop_tsc) and shared by both
// host CPUs, so a time taken on one CPU compares with one taken on the other.
#pragma once

#include <x86intrin.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace kpbench {

inline std::uint64_t tsc() { return __rdtsc(); }

// TSC ticks <-> nanoseconds, measured once against CLOCK_MONOTONIC.
struct tsc_rate {
    double ns_per_tick = 1.0;
    double ticks_per_ns = 1.0;
};
const tsc_rate& tsc_calibration();
inline double tsc_to_ns(std::uint64_t ticks) { return static_cast<double>(ticks) * tsc_calibration().ns_per_tick; }
inline std::uint64_t ns_to_tsc(double ns) {
    return static_cast<std::uint64_t>(ns * tsc_calibration().ticks_per_ns);
}

std::int64_t monotonic_ns();

// Pin the calling thread to host CPU `cpu` (modulo the CPUs there are).
void pin_this_thread(int cpu);
// Run fn on a new thread pinned to `cpu`, and wait for it.
void run_pinned(int cpu, const std::function<void()>& fn);
// The host CPU the benchmarks measure on (vCPU 0 of a host machine is
// pinned there), and the one the drivers (senders, watchers) use.
inline constexpr int measured_cpu = 0;
int driver_cpu();

// Sorted copy's quantile q in [0, 1] (nearest rank).
double quantile(std::vector<double> v, double q);
double mean(const std::vector<double>& v);

// The summary of one latency sample set, in nanoseconds.
struct summary {
    std::size_t n = 0;
    double p50 = 0, p99 = 0, p999 = 0, max = 0, avg = 0;
};
summary summarize(const std::vector<double>& ns);

// "RESULT <key> <value>": one measured number, collected by run.sh.
void result(const std::string& key, double value);
// The summary's fields as <prefix>.n, .p50_ns, .p99_ns, .p999_ns, .max_ns, .avg_ns.
void result(const std::string& prefix, const summary& s);

// VmRSS / VmHWM of this process, in KiB (from /proc/self/status).
long proc_status_kib(const char* field);

}  // namespace kpbench
