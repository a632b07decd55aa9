// The measurements of kpreempt-bench-host, one function per subcommand
// (bench/host/harness.cpp parses the options). Each prints RESULT lines
// (common.h); docs/performance.md says what each one measures and how.
#pragma once

#include <string>

#include "kpreempt/config.h"
#include "kpreempt/time.h"

namespace kpbench {

// signal_bench.cpp: an involuntary preemption of a user-mode spinner, from
// the sending of the interrupt's signal to the other task running and back
// to the spinner; beside it the same redirect with no switch, and the bare
// signal round trip of a plain pthread.
struct preempt_signal_options {
    long events = 5000;
    int hz = 1000;
};
void bench_preempt_signal(const preempt_signal_options& o);

// wakeup_bench.cpp: a periodic task's wakeup latency (cyclictest's
// timerthread: an absolute hrtimer sleep, then now - expected) beside a load
// on the same vCPU.
enum class load_kind { idle, kernel_hog, user_spin };
struct wakeup_options {
    kp::preempt_mode model = kp::preempt_mode::full;
    load_kind load = load_kind::kernel_hog;
    bool fifo = true;  // SCHED_FIFO 80; else SCHED_NORMAL nice 0
    long samples = 10000;
    double seconds = 10;  // or fewer samples: whichever comes first
    long interval_us = 1000;
    std::string key;  // the RESULT prefix
};
void bench_wakeup(const wakeup_options& o);

// tick_bench.cpp: the share of a vCPU the tick takes: a spinning task
// records every gap in its own progress over a span of real time.
enum class tick_subject {
    kp,          // the only task of a 1-vCPU host machine at `hz`
    bare,        // a plain pthread: the host's own noise
    bare_timer,  // a plain pthread with a POSIX timer signalling it at `hz`
                 // (an empty handler): what the host charges for the signal
};
struct tick_options {
    int hz = 1000;
    tick_subject subject = tick_subject::kp;
    double seconds = 3;
    std::string key;
};
void bench_tick(const tick_options& o);

// tasks_bench.cpp: resident memory of many blocked tasks.
struct tasks_options {
    long count = 10000;
    long stack_kib = 64;
};
void bench_tasks(const tasks_options& o);

// harness.cpp: a host-side kernel-mode hog for cyclictest: reads of
// /dev/zero (the kernel clears the user buffer) pinned to one CPU.
void host_hog(int cpu, double seconds);

}  // namespace kpbench
