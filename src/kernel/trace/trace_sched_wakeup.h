// The wakeup and wakeup_rt tracers (kernel/trace/trace_sched_wakeup.c):
// the longest time from a task's wakeup (sched_wakeup, sched_wakeup_new:
// it became TASK_RUNNING) until it was switched in (sched_switch to it).
//
// One wakee is tracked at a time, machine-wide: the highest-priority one.
// A wakeup replaces the tracked wakee only if the woken task's prio is
// numerically lower than both the tracked wakee's and the waker's
// (`current`, the interrupted task when woken from an interrupt); wakeup_rt
// also ignores tasks that are not RT. (There is no deadline class here, so
// no wakeup_dl and none of its "a DL wakee always wins" rule.)
//
// The window is what happened on the wakee's CPU (followed if it migrates)
// between the two, framed by the tracer's own entries: the wakeup
// ("  +": waker ==> wakee) and the switch ("==>": prev ==> wakee).
#pragma once

#include <mutex>

#include "kernel/trace/latency_tracer.h"

namespace kp {

class wakeup_tracer final : public latency_tracer {
public:
    enum class wakees : std::uint8_t { any_class, rt_only };

    explicit wakeup_tracer(wakees which, std::uint64_t window_events = TRACE_ALL_EVENTS,
                           std::size_t window_capacity = default_window_capacity);

    void on_entry(percpu& pc, const trace_entry& e) override;
    // The wakee being tracked, or 0.
    int tracked_pid() const { return wakeup_pid_; }

private:
    std::uint64_t needed_events() const override;
    void reset(int nr_cpus) override;
    bool probe_wakeup(percpu& pc, const trace_entry& e);  // tracked it?
    void probe_wakeup_sched_switch(percpu& pc, const trace_entry& e);
    void wakeup_reset();

    wakees which_;
    std::mutex wakeup_lock_;  // the tracked wakee is machine-wide
    int wakeup_pid_ = 0;      // wakeup_task (0: none; idle tasks are never woken)
    int wakeup_cpu_ = -1;     // task_cpu() at the wakeup: the snapshot's CPU
    int wakeup_current_cpu_ = -1;  // where it is now (sched_migrate_task)
    int wakeup_prio_ = -1;    // -1: none (Linux's is unsigned, so -1 loses to any prio)
    nsec_t start_ = 0;        // preempt_timestamp: the wakeup's time
    latency_window window_;
};

}  // namespace kp
