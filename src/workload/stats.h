// What a run's reports are made of, gathered from the scheduler's events:
// runs and wakeup latencies per task, and the timeline's slices.
#pragma once

#include <mutex>
#include <vector>

#include "kpreempt/observer.h"
#include "workload/runner.h"

namespace kp {
class kernel;
struct task_struct;
}  // namespace kp

namespace kp::workload {

// Who calls the observer during a run: the simulated machine's one thread,
// or every vCPU thread of the host machine at once.
enum class observer_callers { one_thread, every_vcpu };

class stats_collector : public sched_observer {
public:
    explicit stats_collector(observer_callers callers = observer_callers::one_thread) : callers_(callers) {}
    void on_switch(const sched_switch_event& e) override;
    void on_wakeup(const sched_wakeup_event& e) override;
    void on_irq_handler(nsec_t time, int cpu, int irq, bool entry) override;
    // Close the slices still open at the end of the run.
    void finish(nsec_t now);

    std::uint64_t runs(int pid) const;
    latency_stats wakeup_latency(int pid) const;
    const std::vector<timeline_slice>& timeline() const { return slices_; }

private:
    struct per_task {
        std::uint64_t runs = 0;
        nsec_t woken_at = -1;
        std::vector<nsec_t> latencies;
    };
    struct open_slice {
        int pid = -1;
        nsec_t start = 0;
        std::string comm;
    };
    per_task& task(int pid);
    // Serialises the vCPUs' calls on the host. Not taken on the simulated
    // machine, whose one thread needs no lock. The callers hold the CPU's
    // rq lock or are in a hardirq with interrupts masked: nothing in here
    // waits for another vCPU, so a vCPU never sleeps on it for long.
    std::unique_lock<std::mutex> lock();

    observer_callers callers_;
    std::mutex lock_;
    std::vector<per_task> tasks_;
    std::vector<open_slice> open_;  // per CPU
    std::vector<nsec_t> irq_start_;  // per CPU, -1 when not in a handler
    std::vector<timeline_slice> slices_;
};

latency_stats summarize(std::vector<nsec_t> samples);

// Fill the per-task and per-CPU results of a finished run.
void collect_results(kernel& k, const std::vector<task_struct*>& tasks, const stats_collector& stats,
                     run_result& out);

}  // namespace kp::workload
