// Per-CPU high-resolution timers on the machine's one-shot clockevent
// (kernel/time/hrtimer.c). The periodic scheduler tick is one of them, as in
// Linux's high-resolution mode (tick_sched_timer).
#pragma once

#include <cstdint>
#include <functional>
#include <tuple>
#include <vector>

#include "kernel/locking/raw_spinlock.h"
#include "kpreempt/time.h"

namespace kp {

struct percpu;

enum class hrtimer_restart { norestart, restart };

struct hrtimer {
    nsec_t expires = 0;
    std::function<hrtimer_restart(hrtimer&)> function;
    int cpu = -1;          // the base it is queued on, -1 when not queued
    std::uint64_t seq = 0;  // FIFO order among equal expiry times
    const char* name = "hrtimer_fn";  // the function's name in traces (%ps)
};

struct hrtimer_cpu_base {
    arch_spinlock lock;
    // Sorted by (expires, seq): a few timers per CPU, so a vector (no
    // allocation once grown) beats a tree (one allocation per insert).
    std::vector<std::tuple<nsec_t, std::uint64_t, hrtimer*>> active;
    std::uint64_t next_seq = 0;
    nsec_t programmed = KTIME_MAX;  // what the clockevent is set to
};

// Arm `t` at absolute time `expires` on the calling CPU (HRTIMER_MODE_ABS).
void hrtimer_start(hrtimer& t, nsec_t expires);
// Arm on a given CPU (HRTIMER_MODE_ABS_PINNED there).
void hrtimer_start_on(percpu& pc, hrtimer& t, nsec_t expires);
// Remove if queued; true if it was queued.
bool hrtimer_cancel(hrtimer& t);
bool hrtimer_active(const hrtimer& t);
// Push expires forward by whole intervals until it is after now.
void hrtimer_forward_now(hrtimer& t, nsec_t interval);
// The local timer interrupt: run every expired timer, reprogram.
void hrtimer_interrupt(percpu& pc);

}  // namespace kp
