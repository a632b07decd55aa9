// Wakeup latency of a periodic task on the host machine, beside a load on
// the same vCPU (docs/performance.md). The measuring task is cyclictest's
// timerthread: sleep to an absolute time on an hrtimer (clock_nanosleep
// TIMER_ABSTIME's kernel side), then record now - expected once back in user
// mode; a wakeup later than whole periods skips them, as cyclictest does.
// It stops after `samples` wakeups or `seconds`, whichever comes first.
//
// The loads:
//   kernel-hog  SCHED_NORMAL: a 20 ms syscall of CPU work with a
//               might_sleep() every 1 ms, then 50 us in user mode, in a loop
//               (`kpreempt latency --load kernel-hog`). The wall length of
//               each syscall is recorded: under `none` the latency is
//               bounded by it.
//   user-spin   SCHED_NORMAL: a loop with no call at all (the peer of Go's
//               spinning goroutine).
//   idle        nothing.
#include <atomic>
#include <vector>

#include "benches.h"
#include "common.h"
#include "kpreempt/kpreempt.h"

namespace kpbench {

namespace {

void kernel_hog(const std::atomic<bool>& stop, std::vector<double>& section_ns) {
    while (!stop.load(std::memory_order_relaxed)) {
        const kp::nsec_t start = kp::this_kernel().arch().now();
        {
            kp::syscall_section sys;
            for (int i = 0; i < 20 && !stop.load(std::memory_order_relaxed); ++i) {
                kp::burn(kp::usecs(1000));
                kp::might_sleep();
            }
        }
        if (section_ns.size() < section_ns.capacity())
            section_ns.push_back(static_cast<double>(kp::this_kernel().arch().now() - start));
        kp::burn(kp::usecs(50));
    }
}

void user_spin(const std::atomic<bool>& stop) {
    while (!stop.load(std::memory_order_relaxed)) {
    }
}

}  // namespace

void bench_wakeup(const wakeup_options& o) {
    kp::kernel_config cfg;
    cfg.nr_cpus = 1;
    cfg.hz = 1000;
    cfg.model = o.model;
    kp::host m(cfg);
    std::atomic<bool> stop{false};
    std::vector<double> latency;
    latency.reserve(static_cast<std::size_t>(o.samples));
    std::vector<double> hog_sections;
    hog_sections.reserve(100000);
    const kp::nsec_t interval = kp::usecs(o.interval_us);

    kp::task_spec measure{.name = "cyclic"};
    if (o.fifo) {
        measure.policy = kp::sched_policy::fifo;
        measure.priority = 80;
    }
    m.spawn(measure, [&] {
        const kp::nsec_t start = kp::this_kernel().arch().now();
        const kp::nsec_t end = start + static_cast<kp::nsec_t>(o.seconds * 1e9);
        kp::nsec_t next = start + interval;
        for (long i = 0; i < o.samples && next < end; ++i) {
            {
                kp::syscall_section sys;
                kp::hrtimer_nanosleep(next, kp::hrtimer_mode::abs);
            }
            const kp::nsec_t now = kp::this_kernel().arch().now();
            latency.push_back(static_cast<double>(now - next));
            next += interval;
            while (now > next) next += interval;
        }
        stop.store(true);
    });
    if (o.load == load_kind::kernel_hog)
        m.spawn({.name = "kernel_hog"}, [&] { kernel_hog(stop, hog_sections); });
    else if (o.load == load_kind::user_spin)
        m.spawn({.name = "spinner"}, [&] { user_spin(stop); });
    m.run(kp::secs(3600));

    result(o.key, summarize(latency));
    if (o.load == load_kind::kernel_hog) result(o.key + ".hog_syscall", summarize(hog_sections));
}

}  // namespace kpbench
