// An involuntary preemption on the host machine against a bare signal round
// trip (docs/performance.md).
//
// A spinner that never calls the kernel runs on host CPU 0. A sender on host
// CPU 1 takes the TSC (t0) and sends:
//   kp switch  raise_irq(line): the vCPU's signal redirects the spinner
//              into the kernel, the line's handler wakes a SCHED_FIFO task,
//              irq exit preempts the spinner, the FIFO task runs (t1),
//              sleeps again through schedule(), the spinner resumes (t2);
//   kp irq     the same with a handler that wakes nobody: the redirect and
//              the interrupt path without a switch (t1 in the handler);
//   bare       tgkill to a plain pthread spinning the same loop; its
//              handler takes t1; the spinner resumes (t2).
// The spinner notices its resumption as the first turn of its loop that
// finds t1 set. Between events the sender sleeps 100-300 us (random), so
// that the events do not keep the same phase against the tick.
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <random>
#include <stdexcept>
#include <thread>
#include <vector>

#include "benches.h"
#include "common.h"
#include "kpreempt/kpreempt.h"

namespace kpbench {

namespace {

struct probe {
    std::atomic<std::uint64_t> t0{0};  // sent; 0 while no event is on its way
    std::atomic<std::uint64_t> t1{0};  // the other side ran
    std::atomic<std::uint64_t> t2{0};  // the spinner runs again
    std::atomic<bool> ready{false};
    std::atomic<bool> stop{false};
};

// User code with no call at all: only atomics, and the TSC once per event.
void spin_and_watch(probe& p) {
    p.ready.store(true, std::memory_order_release);
    while (!p.stop.load(std::memory_order_relaxed)) {
        // The time is taken after t1 is seen: the resumption may fall
        // anywhere in the loop.
        if (p.t1.load(std::memory_order_acquire) != 0 && p.t2.load(std::memory_order_relaxed) == 0 &&
            p.t0.load(std::memory_order_relaxed) != 0)
            p.t2.store(tsc(), std::memory_order_release);
    }
}

struct samples {
    std::vector<double> to_other;   // t1 - t0
    std::vector<double> round_trip; // t2 - t0
};

template <class Send>
samples send_events(probe& p, long events, Send send) {
    while (!p.ready.load(std::memory_order_acquire)) std::this_thread::yield();
    std::mt19937 rng(12345);
    samples s;
    const long warmup = events / 20;
    for (long i = 0; i < warmup + events; ++i) {
        p.t0.store(0);
        p.t1.store(0);
        p.t2.store(0);
        const timespec pause{0, static_cast<long>(100'000 + rng() % 200'000)};
        nanosleep(&pause, nullptr);
        const std::uint64_t t0 = tsc();
        p.t0.store(t0, std::memory_order_release);
        send();
        const std::uint64_t give_up = t0 + ns_to_tsc(1e9);
        std::uint64_t t2 = 0;
        while ((t2 = p.t2.load(std::memory_order_acquire)) == 0)
            if (tsc() > give_up) throw std::runtime_error("preempt-signal: an event got no answer in 1 s");
        if (i < warmup) continue;
        s.to_other.push_back(tsc_to_ns(p.t1.load() - t0));
        s.round_trip.push_back(tsc_to_ns(t2 - t0));
    }
    return s;
}

void report(const std::string& key, const samples& s) {
    result(key + ".to_other", summarize(s.to_other));
    result(key + ".round_trip", summarize(s.round_trip));
}

constexpr int bench_irq = 5;

// kp: the spinner and a SCHED_FIFO task on one vCPU; the line's handler
// wakes the FIFO task when `with_switch`.
samples kp_events(const preempt_signal_options& o, bool with_switch) {
    kp::kernel_config cfg;
    cfg.nr_cpus = 1;
    cfg.hz = o.hz;
    cfg.model = kp::preempt_mode::full;
    kp::host m(cfg);
    probe p;
    kp::task_struct* waker = nullptr;
    m.request_irq(bench_irq, "bench", [&] {
        if (with_switch || p.stop.load()) kp::wake_up_process(*waker);
        else p.t1.store(tsc(), std::memory_order_release);
    });
    waker = &m.spawn({.name = "fifo", .policy = kp::sched_policy::fifo, .priority = 50}, [&] {
        kp::syscall_section sys;
        for (;;) {
            kp::set_current_state(kp::TASK_UNINTERRUPTIBLE);
            if (p.stop.load()) break;
            kp::schedule();
            if (p.stop.load()) break;
            p.t1.store(tsc(), std::memory_order_release);
        }
        kp::__set_current_state(kp::TASK_RUNNING);
    });
    m.spawn({.name = "spinner"}, [&] { spin_and_watch(p); });
    std::thread runner([&] {
        pin_this_thread(driver_cpu());
        m.run(kp::secs(3600));
    });
    samples s;
    try {
        s = send_events(p, o.events, [&] { m.raise_irq(bench_irq); });
    } catch (...) {
        p.stop.store(true);
        m.raise_irq(bench_irq);
        runner.join();
        throw;
    }
    p.stop.store(true);
    m.raise_irq(bench_irq);
    runner.join();
    return s;
}

probe* bare_probe = nullptr;

void bare_handler(int) { bare_probe->t1.store(tsc(), std::memory_order_release); }

samples bare_events(const preempt_signal_options& o) {
    const int sig = SIGRTMIN + 5;
    struct sigaction sa{};
    sa.sa_handler = bare_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, nullptr);
    probe p;
    bare_probe = &p;
    std::atomic<pid_t> tid{0};
    std::thread spinner([&] {
        pin_this_thread(measured_cpu);
        tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
        spin_and_watch(p);
    });
    while (tid.load() == 0) std::this_thread::yield();
    const pid_t pid = getpid();
    samples s = send_events(p, o.events, [&] { syscall(SYS_tgkill, pid, tid.load(), sig); });
    p.stop.store(true);
    spinner.join();
    return s;
}

}  // namespace

void bench_preempt_signal(const preempt_signal_options& o) {
    report("signal.bare", bare_events(o));
    report("signal.kp_irq", kp_events(o, false));
    report("signal.kp_switch", kp_events(o, true));
}

}  // namespace kpbench
