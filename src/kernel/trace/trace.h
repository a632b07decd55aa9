// Tracepoints and the per-CPU trace buffers (include/trace/events/*.h,
// kernel/trace/ring_buffer.c, trace.c, reduced).
//
// A tracepoint records one fixed-size entry: the time, the CPU, the
// current task, the trace flags and preempt depth of the context (what
// ftrace's latency columns print), and up to five event fields. Names and
// strings (comm, irq and vector names) are looked up when the trace is
// printed, so recording copies no string. Each event is enabled on its own;
// when off, a tracepoint costs one load of the CPU's enabled mask and a
// not-taken branch.
//
// The buffers overwrite their oldest entries when full, as ftrace's
// default overwrite mode does, and count what they overwrote: the printed
// header's "entries-in-buffer/entries-written" shows it, and the CLI warns.
#pragma once

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>
#include <vector>

#include "kernel/jump_label.h"
#include "kpreempt/time.h"

namespace kp {

class kernel;
struct percpu;

enum class trace_event : std::uint8_t {
    sched_switch,        // prev_pid prev_prio prev_state next_pid next_prio
    sched_waking,        // pid prio target_cpu
    sched_wakeup,        // pid prio target_cpu
    sched_wakeup_new,    // pid prio target_cpu
    sched_migrate_task,  // pid prio orig_cpu dest_cpu
    sched_process_exit,  // pid prio
    sched_stat_runtime,  // pid runtime
    irq_handler_entry,   // irq
    irq_handler_exit,    // irq ret
    softirq_raise,       // vec
    softirq_entry,       // vec
    softirq_exit,        // vec
    ipi_send_cpu,        // cpu vector
    preempt_disable,     // caller parent (code addresses)
    preempt_enable,      // caller parent
    irq_disable,         // caller parent
    irq_enable,          // caller parent
    hrtimer_start,       // hrtimer function expires softexpires mode
    hrtimer_expire_entry,  // hrtimer function now
    hrtimer_expire_exit,   // hrtimer
    hrtimer_cancel,        // hrtimer
    kpreempt_preempt,    // point model prev_pid next_pid: a preemption taken (ours)
    kpreempt_nr_running, // cpu nr_running: a runqueue's length changed (ours; a counter)
    nr_events
};

// Tracepoints can be compiled out (cmake -DKP_TRACEPOINTS=OFF), for the
// benchmark that prices them when compiled in but off.
#ifdef KP_NO_TRACEPOINTS
inline constexpr bool tracepoints_compiled = false;
#else
inline constexpr bool tracepoints_compiled = true;
#endif

// Process-wide static keys (kernel/jump_label.h): on while some machine in
// this process has trace events live (trace_key) or a call-path counter
// attached (callpath_key). A tracepoint is a site of trace_key, a no-op
// while it is off; the per-CPU masks then decide what is recorded.
inline static_key_false trace_key;
inline static_key_false callpath_key;
[[gnu::always_inline]] inline bool trace_gate_open() { return static_branch_unlikely<trace_key>(); }

inline constexpr int NR_TRACE_EVENTS = static_cast<int>(trace_event::nr_events);
inline constexpr std::uint64_t trace_bit(trace_event e) { return std::uint64_t{1} << static_cast<int>(e); }
inline constexpr std::uint64_t TRACE_ALL_EVENTS = (std::uint64_t{1} << NR_TRACE_EVENTS) - 1;

std::string_view trace_event_name(trace_event e);
// The event named `name` ("sched_switch"), or nr_events.
trace_event trace_event_by_name(std::string_view name);

// sched_switch's prev_state field: the task's __state, or this for a
// preemption (printed "R+" whatever the state, as Linux does).
inline constexpr std::int64_t TRACE_STATE_PREEMPTED = 0x10000;

// task_index_to_char(__task_state_index(state)): one of "RSDTtXZPI". A
// dying task is autoreaped (EXIT_DEAD), as a thread or kthread is in Linux;
// TRACE_STATE_PREEMPTED is a running task ('R').
char task_state_char(std::int64_t state);

// Trace flag bits (include/linux/trace_events.h, 6.12 plus the lazy bit).
enum : std::uint8_t {
    TRACE_FLAG_IRQS_OFF = 0x01,
    TRACE_FLAG_NEED_RESCHED_LAZY = 0x02,
    TRACE_FLAG_NEED_RESCHED = 0x04,
    TRACE_FLAG_HARDIRQ = 0x08,
    TRACE_FLAG_SOFTIRQ = 0x10,
    TRACE_FLAG_PREEMPT_RESCHED = 0x20,
    TRACE_FLAG_NMI = 0x40,
    TRACE_FLAG_BH_OFF = 0x80,
};

struct trace_entry {
    nsec_t time = 0;
    std::int32_t pid = 0;      // current (0: the idle task)
    std::int16_t cpu = 0;
    trace_event type = trace_event::nr_events;
    std::uint8_t flags = 0;    // TRACE_FLAG_*
    std::uint8_t preempt = 0;  // min(preempt_count & 0xff, 15)
    std::int64_t arg[5] = {};
};

// One CPU's buffer: a ring of entries. Only its CPU writes it; a slot is
// reserved with one atomic add before it is filled, so an interrupt (or a
// host signal) that traces in the middle takes the next slot.
class trace_ring {
public:
    explicit trace_ring(std::size_t capacity);
    trace_entry& reserve();
    std::uint64_t written() const { return written_.load(std::memory_order_relaxed); }
    std::size_t in_buffer() const;
    std::uint64_t overrun() const { return written() - in_buffer(); }
    // The entries still held, oldest first.
    std::vector<trace_entry> entries() const;
    void reset() { written_.store(0, std::memory_order_relaxed); }

private:
    std::vector<trace_entry> slots_;
    std::atomic<std::uint64_t> written_{0};
};

// stop_critical_timings / start_critical_timings (trace_irqsoff.h): the
// idle loop's wait for an interrupt is not a latency.
enum class critical_timings : std::uint8_t { stop, start };

// A live consumer of trace entries (a latency tracer, a call-path counter):
// sees every entry of the events in its mask, whether or not they are
// recorded in the buffers.
class trace_probe {
public:
    virtual ~trace_probe() = default;
    virtual std::uint64_t events() const = 0;
    virtual void on_entry(percpu& pc, const trace_entry& e) = 0;
    // The idle loop is about to wait (stop) or has waited (start); `ip` is
    // the code address it happens at.
    virtual void on_critical_timings(percpu&, critical_timings, std::int64_t /*ip*/) {}
};

// A kernel's tracing state (the top trace_array).
class trace_array {
public:
    trace_array() = default;
    ~trace_array();
    trace_array(const trace_array&) = delete;
    trace_array& operator=(const trace_array&) = delete;
    // Record the events of `mask` into per-CPU rings of `entries_per_cpu`.
    void enable(kernel& k, std::uint64_t mask, std::size_t entries_per_cpu = 1u << 20);
    void disable(kernel& k);
    void add_probe(kernel& k, trace_probe* p);
    void remove_probe(kernel& k, trace_probe* p);
    std::uint64_t recorded() const { return record_mask_; }
    const trace_ring* ring(int cpu) const;
    void record(percpu* pc, trace_event e, std::initializer_list<std::int64_t> args, nsec_t now);
    // Tell every probe about a critical_timings edge on `pc`.
    void critical_timings_edge(percpu& pc, critical_timings what, std::int64_t ip);
    std::uint64_t live_mask = 0;  // recorded or probed (each CPU has a copy)

private:
    void publish(kernel& k);  // copy the live mask to every CPU
    bool holds_gate_ = false;  // this machine holds trace_key on
    std::uint64_t record_mask_ = 0;
    std::vector<std::unique_ptr<trace_ring>> rings_;
    std::vector<trace_probe*> probes_;
};

// The context of an entry (tracing_gen_ctx): flags and preempt depth.
void tracing_gen_ctx(const percpu& pc, trace_entry& e);

}  // namespace kp
