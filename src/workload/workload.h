// A workload as rt-app describes it (doc/tutorial.txt), plus kpreempt's
// kernel extensions, which rt-app ignores: a "kpreempt" object in "global"
// and events whose names start with "kp_" (no rt-app event has that prefix).
// Durations are microseconds as in rt-app (fractions allowed here), global
// duration in seconds.
#pragma once

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernel/sched/task.h"
#include "kpreempt/arrivals.h"
#include "kpreempt/config.h"
#include "workload/json.h"

namespace kp::workload {

enum class ev : std::uint8_t {
    // rt-app's events.
    run, runtime, sleep, timer, lock, unlock, wait, signal, broad, sync, barrier, suspend, resume, yield, mem,
    iorun, sem_post, sem_wait,
    // Kernel extensions: sections holding events, and preemption points.
    kp_syscall,      // the body runs in kernel mode (a syscall)
    kp_preempt_off,  // preempt_disable() ... preempt_enable()
    kp_irq_off,      // local_irq_disable() ... local_irq_enable()
    kp_spin,         // spin_lock(ref) ... spin_unlock(ref)
    kp_might_sleep,  // might_sleep()
    kp_cond_resched, // cond_resched()
};

const char* ev_name(ev e);

struct event {
    ev type = ev::run;
    std::string key;       // as written in the file ("run1")
    std::string path;      // JSON path, for messages
    json::position pos;
    nsec_t ns = 0;         // run / runtime / sleep duration; timer period
    std::int64_t bytes = 0;  // mem / iorun
    std::string ref;       // lock, cond, barrier, task, timer, semaphore name
    std::string mutex;     // wait / sync
    bool absolute = false; // timer mode
    int loop = 1;          // sections
    std::vector<event> body;  // sections
};

struct attrs {
    std::optional<sched_policy> policy;
    std::optional<int> priority;
    std::optional<std::vector<int>> cpus;
};

struct phase {
    std::string name;
    int loop = 1;
    attrs a;
    std::vector<event> events;
};

struct task_def {
    std::string name;
    std::string path;
    json::position pos;
    int instance = 1;
    int loop = -1;  // -1: forever
    nsec_t delay = 0;
    attrs a;
    std::vector<phase> phases;
};

// A device interrupt line with its device, or an NMI source (kernel
// extension). What one arrival does: the hardirq handler's work, then
// optionally a thread, a softirq, a tasklet and a work item, each with its
// own cost (docs/workloads.md).
struct irq_source_def {
    std::string name;
    std::string path;
    std::vector<int> affinity{0};  // "cpu" or "affinity": delivered to the first
    // start, stop, period or rate, burst and burst_gap; the run sets the
    // seed and ends the arrivals at its own end.
    irq_arrivals arrivals;
    nsec_t handler = 0;     // CPU work of the hardirq handler
    std::optional<nsec_t> thread;  // threaded: the irq thread's work (IRQF_ONESHOT)
    bool no_thread = false;        // IRQF_NO_THREAD: never force-threaded
    int softirq = -1;              // vector raised per arrival (softirq_nr), or -1
    nsec_t softirq_cost = 0;       // work per arrival in that vector's handler
    std::optional<nsec_t> tasklet; // a tasklet scheduled per arrival, its work
    bool tasklet_hi = false;       // tasklet_hi_schedule (HI_SOFTIRQ)
    std::optional<nsec_t> work;    // a work item queued per arrival, its work
    nsec_t work_delay = 0;         // > 0: delayed work
    bool nmi = false;              // an NMI source on its CPU instead of a line
    std::string wakes;      // a task name: the handler resumes it (as "resume")
    int cpu() const { return affinity.front(); }
};

// A periodic jiffies timer (timer_list) whose callback works `cost` in the
// TIMER softirq, re-armed every `period` rounded up to whole jiffies.
struct timer_def {
    std::string name;
    std::string path;
    int cpu = 0;
    nsec_t start = 0;
    nsec_t period = 0;
    nsec_t cost = 0;
};

struct global_def {
    nsec_t duration = -1;  // -1: until every task ends
    sched_policy default_policy = sched_policy::normal;
    bool pi_enabled = false;
    std::optional<preempt_mode> model;
    std::optional<int> cpus;
    std::optional<int> hz;
    cost_model costs;
    std::optional<std::uint64_t> seed;
    std::vector<irq_source_def> irqs;
    std::vector<timer_def> timers;
    bool threadirqs = false;
    bool ksoftirqd_defer = false;
};

struct workload {
    std::string file;
    global_def global;
    std::vector<task_def> tasks;
    std::vector<std::string> warnings;  // what is accepted but not honoured
};

// Bad input: names the file, the line and column, the JSON path.
class workload_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

workload parse_workload(std::string_view text, const std::string& file);
workload load_workload(const std::string& file);
// Several files merged into one workload as rt-app's merge.py does.
workload load_workload(const std::vector<std::string>& files);

}  // namespace kp::workload
