// Softirqs (kernel/softirq.c, include/linux/interrupt.h): ten vectors,
// raised into a per-CPU pending mask and served, lowest vector first, at the
// exit of the outermost interrupt, at the outermost local_bh_enable(), or by
// the CPU's ksoftirqd thread when the restart loop gives up.
//
// This header holds only data and declarations so that kernel.h can embed
// the per-CPU state; local_bh_disable/enable and their guard are in
// bottom_half.h.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "kpreempt/time.h"

namespace kp {

class kernel;
struct percpu;
struct task_struct;

// Linux's order: a lower number is served first in each round (RCU last by
// design).
enum softirq_nr : unsigned {
    HI_SOFTIRQ = 0,
    TIMER_SOFTIRQ,
    NET_TX_SOFTIRQ,
    NET_RX_SOFTIRQ,
    BLOCK_SOFTIRQ,
    IRQ_POLL_SOFTIRQ,
    TASKLET_SOFTIRQ,
    SCHED_SOFTIRQ,
    HRTIMER_SOFTIRQ,
    RCU_SOFTIRQ,
    NR_SOFTIRQS
};

inline constexpr const char* softirq_to_name[NR_SOFTIRQS] = {"HI",      "TIMER", "NET_TX",  "NET_RX", "BLOCK",
                                                             "IRQ_POLL", "TASKLET", "SCHED", "HRTIMER", "RCU"};

// The restart loop's bounds (handle_softirqs): at most this many rounds, and
// no new round once jiffies reach the start plus msecs_to_jiffies(2).
inline constexpr int MAX_SOFTIRQ_RESTART = 10;
inline constexpr std::int64_t MAX_SOFTIRQ_TIME_MSECS = 2;

// A vector's handler (struct softirq_action). Runs in softirq context with
// interrupts enabled; must not sleep.
using softirq_action = std::function<void()>;

// One CPU's softirq state. Touched only by its own CPU, with interrupts off
// for `pending` (as irq_stat.__softirq_pending); the statistics are written
// only by the CPU serving the softirqs.
struct softirq_cpu {
    std::uint32_t pending = 0;
    task_struct* ksoftirqd = nullptr;  // ksoftirqd/N
    std::array<std::uint64_t, NR_SOFTIRQS> count{};  // /proc/softirqs: handler runs per vector
    std::array<nsec_t, NR_SOFTIRQS> time{};          // softirq time per vector (nested hardirqs excluded)
    std::uint64_t restarts_exhausted = 0;  // rounds ended by MAX_SOFTIRQ_RESTART
    std::uint64_t time_exhausted = 0;      // ... by MAX_SOFTIRQ_TIME
    std::uint64_t resched_ended = 0;       // ... by need_resched()
};

void open_softirq(kernel& k, unsigned nr, softirq_action action);

// Interrupts must be off. Only marks the vector pending.
void __raise_softirq_irqoff(unsigned nr);
// Interrupts must be off. From task context with bottom halves enabled
// nothing else would serve it soon, so ksoftirqd is woken.
void raise_softirq_irqoff(unsigned nr);
void raise_softirq(unsigned nr);  // irqsave wrapper

std::uint32_t local_softirq_pending();

// Serve pending softirqs now unless in interrupt context (or bh disabled).
void do_softirq();
// From irq_exit_rcu(), when !in_interrupt() and something is pending.
void invoke_softirq();

// Create ksoftirqd/N for every CPU (spawn_ksoftirqd, an early initcall).
void spawn_ksoftirqd(kernel& k);

}  // namespace kp
