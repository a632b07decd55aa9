// What the trace buffers say happened, rebuilt as spans and marks for the
// Perfetto JSON writer (perfetto_json.h): who ran on each CPU from
// sched_switch to sched_switch, the irq handlers and softirqs inside, the
// wakeups and the waits they ended, the preemptions and migrations, and the
// runqueue length and preempt depth as step counters.
//
// Every CPU's ring is in time order (only its CPU writes it), so each CPU is
// rebuilt from its own ring alone; the places where CPUs meet (a wakeup on
// one CPU ending a wait run on another, nr_running of a remote runqueue) are
// joined by time afterwards.
//
// A full ring has lost its oldest entries: what was open when its first kept
// entry was written (a task's run, an irq handler) starts at that entry and
// says so, rather than being dropped.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

#include "kernel/trace/trace.h"
#include "kpreempt/time.h"

namespace kp {

class kernel;

namespace perfetto {

// Emission order within one CPU's track: the position of the entry that
// opened a span in its ring, times 4 (room for a mark's companions). What
// began before the first kept entry gets a negative order, outermost first.
inline constexpr std::int64_t ORDER_BEFORE_TRACE = std::numeric_limits<std::int64_t>::min() / 2;

// One task on one CPU, from the switch that put it there to the one that
// took it off.
struct run_span {
    int cpu = 0;
    int pid = 0;   // 0: the CPU's idle task
    int prio = -1; // -1: unknown (the run began before the trace)
    nsec_t start = 0;
    nsec_t end = 0;
    std::int64_t order = 0;
    bool from_trace_start = false;  // began before the CPU's first kept entry
    bool to_trace_end = false;      // still running when the trace ended
    std::int64_t end_state = -1;    // prev_state of the switch that ended it
    int preempt_point = -1;         // kpreempt_preempt's point, if the switch had one
    int preempt_model = -1;
    int flow_in = 0;                // the wakeup flow that made it run (0: none)
};

// An irq handler or a softirq vector's run, inside whatever ran on the CPU.
struct ctx_span {
    int cpu = 0;
    bool softirq = false;
    int nr = 0;    // irq line, or softirq vector
    int ret = -1;  // irq_handler_exit's ret (-1: not seen)
    nsec_t start = 0;
    nsec_t end = 0;
    std::int64_t order = 0;
    bool from_trace_start = false;
    bool to_trace_end = false;
};

struct wakeup_mark {
    int cpu = 0;  // where the waker ran
    int waker_pid = 0;
    int pid = 0;
    int prio = 0;
    int target_cpu = 0;
    bool new_task = false;  // sched_wakeup_new
    nsec_t time = 0;
    std::int64_t order = 0;
    int flow_out = 0;  // the flow to the run it caused (0: it caused none)
};

struct preempt_mark {
    int cpu = 0;
    nsec_t time = 0;
    std::int64_t order = 0;
    int point = 0;
    int model = 0;
    int prev_pid = 0;
    int next_pid = 0;
};

struct migrate_mark {
    nsec_t time = 0;
    int pid = 0;
    int orig_cpu = 0;
    int dest_cpu = 0;
};

// Runnable but not running, on a task's own track.
struct wait_span {
    int pid = 0;
    nsec_t start = 0;
    nsec_t end = 0;
    bool woken = false;       // from a wakeup (else: left the CPU still runnable)
    int waker_cpu = -1;
    int waker_pid = -1;
    int preempt_point = -1;   // how the previous run ended, when preempted
    bool to_trace_end = false;
};

// A task's run as its own track shows it (never overlapping its others).
struct task_run {
    std::size_t run = 0;  // index into timeline::runs
    nsec_t start = 0;     // later than the run's own start only if clipped
};

// A step counter: the value from each sample's time to the next.
struct counter_sample {
    nsec_t time = 0;
    std::int64_t value = 0;
};

struct ring_stats {
    std::uint64_t written = 0;
    std::uint64_t overrun = 0;
};

struct timeline {
    int nr_cpus = 0;
    nsec_t end = 0;                  // when the trace ends (open spans close here)
    std::vector<nsec_t> cpu_start;   // when each CPU's kept entries begin
    std::vector<ring_stats> rings;
    std::vector<run_span> runs;
    std::vector<ctx_span> ctx;
    std::vector<wakeup_mark> wakeups;
    std::vector<preempt_mark> preempts;
    std::vector<migrate_mark> migrations;
    std::vector<std::vector<counter_sample>> nr_running;     // per CPU
    std::vector<std::vector<counter_sample>> preempt_depth;  // per CPU
    std::vector<wait_span> waits;
    std::vector<int> task_pids;                       // tasks with a track, ascending
    std::vector<std::vector<task_run>> task_runs;     // per entry of task_pids
    std::uint64_t unmatched_exits = 0;  // irq/softirq exits whose entry is not in the rings
    int nr_flows = 0;
};

// Rebuild the timeline from the kernel's trace rings.
timeline build_timeline(kernel& k);

}  // namespace perfetto
}  // namespace kp
