// The tick's share of a vCPU (docs/performance.md). A spinning loop takes
// the TSC on every turn; a turn longer than 250 ns is a gap, time the loop
// did not get: the tick's signal, the redirect into the kernel, the tick
// handler and the way back, plus whatever the host does to the CPU. The
// loop runs
//   - as the only task on a 1-vCPU host machine, at HZ 1000 and at HZ 1
//     (no tick to speak of);
//   - as a plain pthread on the same host CPU (the host's own noise);
//   - as a plain pthread that a POSIX timer signals at the same rate, with
//     an empty handler (what the host charges for the signal alone).
// The tick's cost is the difference of the lost shares. Gaps of 1 ms or
// more are the host running something else on the CPU (or RT throttling),
// not an interrupt's work: the "short" figures leave them out.
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "benches.h"
#include "common.h"
#include "kpreempt/kpreempt.h"

namespace kpbench {

namespace {

struct gap_profile {
    double span_ns = 0;
    double lost_ns = 0;
    std::vector<double> gaps_ns;
};

// User code with no call in its loop (the vector has room for every gap
// kept, so push_back stays inline).
gap_profile watch_gaps(double seconds) {
    constexpr std::size_t keep = 1 << 20;
    std::vector<std::uint64_t> gaps;
    gaps.reserve(keep);
    const std::uint64_t threshold = ns_to_tsc(250);
    const std::uint64_t start = tsc();
    const std::uint64_t end = start + ns_to_tsc(seconds * 1e9);
    std::uint64_t last = start, lost = 0;
    for (;;) {
        const std::uint64_t now = tsc();
        const std::uint64_t d = now - last;
        if (d > threshold) {
            lost += d;
            if (gaps.size() < keep) gaps.push_back(d);
        }
        last = now;
        if (now >= end) break;
    }
    gap_profile g;
    g.span_ns = tsc_to_ns(last - start);
    g.lost_ns = tsc_to_ns(lost);
    g.gaps_ns.reserve(gaps.size());
    for (std::uint64_t d : gaps) g.gaps_ns.push_back(tsc_to_ns(d));
    return g;
}

void empty_handler(int) {}

// A periodic POSIX timer signalling the calling thread at `hz`, as the
// host machine's clockevent signals its vCPU thread.
gap_profile watch_gaps_under_timer(double seconds, int hz) {
    const int sig = SIGRTMIN + 6;
    struct sigaction sa{};
    sa.sa_handler = empty_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = sig;
    sev._sigev_un._tid = static_cast<pid_t>(syscall(SYS_gettid));
    timer_t timer{};
    if (timer_create(CLOCK_MONOTONIC, &sev, &timer) != 0) throw std::runtime_error("tick: timer_create");
    itimerspec its{};
    const long period = 1'000'000'000L / hz;
    its.it_value.tv_sec = its.it_interval.tv_sec = period / 1'000'000'000L;
    its.it_value.tv_nsec = its.it_interval.tv_nsec = period % 1'000'000'000L;
    timer_settime(timer, 0, &its, nullptr);
    gap_profile g = watch_gaps(seconds);
    timer_delete(timer);
    return g;
}

// The gaps in three classes: all; "short" (under 1 ms: interrupts and
// the like, not the host running something else); "interrupt-sized" (5 us
// to 1 ms: on this host a signal's delivery alone is several us, while the
// loop's own hiccups are well under 5 us).
void report_gaps(const std::string& key, const gap_profile& g) {
    std::vector<double> short_gaps, irq_gaps;
    double short_lost = 0, irq_lost = 0;
    for (double d : g.gaps_ns) {
        if (d >= 1e6) continue;
        short_gaps.push_back(d);
        short_lost += d;
        if (d < 5e3) continue;
        irq_gaps.push_back(d);
        irq_lost += d;
    }
    const double span_s = g.span_ns * 1e-9;
    result(key + ".lost_pct", 100.0 * g.lost_ns / g.span_ns);
    result(key + ".short_lost_pct", 100.0 * short_lost / g.span_ns);
    result(key + ".irq_lost_pct", 100.0 * irq_lost / g.span_ns);
    result(key + ".gaps_per_s", static_cast<double>(g.gaps_ns.size()) / span_s);
    result(key + ".short_gaps_per_s", static_cast<double>(short_gaps.size()) / span_s);
    result(key + ".irq_gaps_per_s", static_cast<double>(irq_gaps.size()) / span_s);
    result(key + ".irq_gap", summarize(irq_gaps));
}

}  // namespace

void bench_tick(const tick_options& o) {
    gap_profile g;
    switch (o.subject) {
    case tick_subject::bare:
        run_pinned(measured_cpu, [&] { g = watch_gaps(o.seconds); });
        break;
    case tick_subject::bare_timer:
        run_pinned(measured_cpu, [&] { g = watch_gaps_under_timer(o.seconds, o.hz); });
        break;
    case tick_subject::kp: {
        kp::kernel_config cfg;
        cfg.nr_cpus = 1;
        cfg.hz = o.hz;
        cfg.model = kp::preempt_mode::full;
        kp::host m(cfg);
        m.spawn({.name = "spinner"}, [&] { g = watch_gaps(o.seconds); });
        m.run(kp::secs(3600));
        break;
    }
    }
    report_gaps(o.key, g);
}

}  // namespace kpbench
