// Device interrupt lines (kernel/irq/: irqdesc.c, manage.c, handle.c,
// chip.c, reduced) and the generic entry the machine calls when it delivers
// an interrupt (x86's common_interrupt / sysvec entry, arch/x86/kernel/irq.c).
//
// A line has one action: a primary handler that runs in hardirq context,
// and optionally a thread function run by the line's irq thread
// "irq/N-name" at SCHED_FIFO 50 when the primary returns IRQ_WAKE_THREAD.
// The machine routes each line to one CPU of its affinity and keeps an
// arrival on a masked line pending until the line is unmasked.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "arch/arch.h"
#include "kernel/sched/task.h"

namespace kp {

class kernel;
struct percpu;

enum class irqreturn { none = 0, handled = 1, wake_thread = 2 };
using irq_handler_t = std::function<irqreturn(int irq)>;

// request_threaded_irq flags (include/linux/interrupt.h).
inline constexpr unsigned IRQF_ONESHOT = 0x00002000;    // keep the line masked until the thread ran
inline constexpr unsigned IRQF_NO_THREAD = 0x00010000;  // never force-threaded

inline constexpr int NR_IRQS = 64;  // device lines 0..63

struct irq_desc {
    int irq = 0;
    std::string name;       // the action's name (/proc/interrupts)
    irq_handler_t handler;  // primary, in hardirq context
    irq_handler_t thread_fn;
    unsigned flags = 0;
    irq_handler_t forced_fn;  // force-threaded (threadirqs): the requested handler, run by the thread
    task_struct* thread = nullptr;
    std::atomic<bool> runthread{false};  // IRQTF_RUNTHREAD
    std::atomic<bool> stop_thread{false};
    std::atomic<int> threads_active{0};      // woken and not yet done (synchronize_irq waits for 0)
    task_struct* sync_waiter = nullptr;      // the task in synchronize_irq
    int depth = 0;           // disable_irq nesting; masked while > 0
    bool oneshot_masked = false;
    cpumask affinity;        // empty: every CPU
    int effective_cpu = 0;   // where the machine delivers it (x86: one CPU of the mask)
    std::vector<std::uint64_t> count_per_cpu;  // /proc/interrupts
    std::vector<nsec_t> time_per_cpu;          // hardirq time spent in the handler (nested NMIs included)
    std::uint64_t thread_runs = 0;             // thread function calls
    std::uint64_t unhandled = 0;               // IRQ_NONE returns
    bool warned_no_thread = false;             // WARN_ONCE of IRQ_WAKE_THREAD without a thread
    bool affinity_changed = false;             // IRQTF_AFFINITY: the thread moves at its next run

    bool requested() const { return static_cast<bool>(handler); }
};

// Installs a line's action. handler may be empty for a threaded line (the
// default primary then only wakes the thread; flags must have IRQF_ONESHOT).
// Returns 0 or a negative errno (-EINVAL, -EBUSY), as Linux.
int request_threaded_irq(kernel& k, int irq, irq_handler_t handler, irq_handler_t thread_fn, unsigned flags,
                         std::string name);
int request_irq(kernel& k, int irq, std::string name, irq_handler_t handler, unsigned flags = 0);
void free_irq(kernel& k, int irq);

// The line's CPU affinity; the machine delivers to its first online CPU.
int irq_set_affinity(kernel& k, int irq, const cpumask& mask);
// Mask the line (nesting); an arrival meanwhile is delivered at enable_irq.
// disable_irq also waits for a running handler and thread to finish (it
// must be called from task context then).
void disable_irq_nosync(kernel& k, int irq);
void disable_irq(kernel& k, int irq);
void enable_irq(kernel& k, int irq);
void synchronize_irq(kernel& k, int irq);

// What the machine delivers: a system vector or a device line.
struct irq_source {
    irq_vector vector = irq_vector::local_timer;
    int irq = -1;  // >= 0: a device line (vector unused)
};

// The generic entry for one interrupt on the calling CPU. The machine calls
// it with local interrupts off (as the hardware leaves them), from the
// context of the interrupted task.
void handle_arch_irq(irq_source src);

// What the CPU does to take one interrupt, for both machines: mask local
// interrupts, note whether a task's own code was interrupted
// (percpu::irq_at_user_point: user_mode(regs)), run handle_arch_irq, and
// let iret restore the flag. The handler may switch away: the flag is
// restored on whichever CPU the task comes back on.
void cpu_take_interrupt(irq_source src, bool at_user_point);

// The per-CPU hardirq stack (x86-64, arch/x86/include/asm/irq_stack.h): an
// interrupt from kernel mode switches to it unless it is already in use; an
// interrupt from user mode stays on the task's kernel stack, which is empty.
// The softirqs served at irq exit run on whichever stack the handler used;
// do_softirq() from local_bh_enable() switches to the irq stack (unless in
// use). True while the calling CPU runs on its irq stack.
bool on_irq_stack();

// Linux's IRQ_STACK_SIZE is 16 KiB (32 KiB with KASAN) of C frames. Ours
// hold C++ handlers (std::function, the tracer, a workload's softirq
// bodies), the simulated machine's park frames when a handler burns CPU
// time, and under AddressSanitizer redzones that can double a frame. 64 KiB
// is four times Linux's, a quarter of a default task stack, and no cost
// until touched (MAP_NORESERVE) (docs/differences.md). A guard-page hit is
// reported as Linux reports it: "BUG: IRQ stack guard page was hit".
inline constexpr std::size_t IRQ_STACK_SIZE = 64 * 1024;

// call_on_irqstack_cond: run fn(arg) on the CPU's irq stack, with
// hardirq_stack_inuse set, unless the interrupt came from user mode (the
// task's kernel stack is empty then) or the irq stack is already in use (a
// nested interrupt, or one during the softirqs served on it): then right
// here on the current stack. The CPU's current task's stack_context follows
// the switch (arch call_on_stack), so that a CPU parked on the irq stack
// resumes on it.
void call_on_irqstack_cond(percpu& pc, bool from_user, void (*fn)(void*), void* arg);

template <class F>
void call_on_irqstack_cond(percpu& pc, bool from_user, F& fn) {
    call_on_irqstack_cond(pc, from_user, [](void* f) { (*static_cast<F*>(f))(); }, &fn);
}

}  // namespace kp
