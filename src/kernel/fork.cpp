#include "kernel/fork.h"

#include <cxxabi.h>

#include <cstdlib>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <typeinfo>

#include "arch/fault.h"
#include "kernel/debug/debug.h"
#include "kernel/entry/entry.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"
#include "kernel/sched/cputime.h"
#include "kernel/trace/callpath.h"

namespace kp {

[[noreturn]] void cpu_idle_loop();

namespace {

// The type of the exception being handled, demangled ("int", "my::error").
std::string current_exception_type() {
    const std::type_info* t = abi::__cxa_current_exception_type();
    if (t == nullptr) return "unknown";
    int status = 0;
    std::unique_ptr<char, decltype(&std::free)> name(abi::__cxa_demangle(t->name(), nullptr, nullptr, &status),
                                                     &std::free);
    return status == 0 && name ? name.get() : t->name();
}

// An exception escaping a task body ends that task, as an oops in process
// context ends the task (make_task_dead) and the machine goes on; the
// report names the task (docs/faults.md). It must be caught here in any
// case: below this frame is kp_stack_trampoline, which no exception may
// cross. noexcept: if the report itself throws, std::terminate.
void run_body(task_struct& self) noexcept {
    try {
        self.body();
    } catch (const std::exception& e) {
        printk(log_level::err, "kpreempt: task %s[%d] ended by an uncaught exception: %s", self.comm.c_str(),
               self.pid, e.what());
    } catch (...) {
        printk(log_level::err, "kpreempt: task %s[%d] ended by an uncaught exception of type %s",
               self.comm.c_str(), self.pid, current_exception_type().c_str());
    }
}

// First code of every task: finish the switch that brought us here, return
// to user mode (ret_from_fork), run the body, exit. The thread under us gets
// its fault handling (an alternate signal stack) if it has none yet.
void task_entry(void* arg) {
    stack_first_entry();
    fault_handler_install_this_thread();
    auto& self = *static_cast<task_struct*>(arg);
    schedule_tail(this_rq().switch_prev);
    account_set(this_cpu(), task_bucket(self));
    if (!self.is_kthread()) {
        shadow_frame<"ret_from_fork"> frame;
        syscall_exit_to_user_mode();
    }
    run_body(self);
    do_exit();
}

void idle_entry(void* /*arg*/) {
    stack_first_entry();
    fault_handler_install_this_thread();  // the first code a host vCPU thread runs
    local_irq_enable();
    cpu_idle_loop();
}

}  // namespace

void sched_set_normal(task_struct& p, int nice) {
    p.policy = sched_policy::normal;
    p.static_prio = nice_to_prio(nice);
    p.normal_prio = p.prio = p.static_prio;
    p.rt_priority = 0;
    p.se.weight = sched_prio_to_weight(nice);
    p.sched_class = &fair_sched_class;
}

void sched_set_rt(task_struct& p, sched_policy policy, int rt_priority) {
    p.policy = policy;
    p.rt_priority = rt_priority;
    p.normal_prio = p.prio = MAX_RT_PRIO - 1 - rt_priority;
    p.sched_class = &rt_sched_class;
}

task_struct& kernel_clone(kernel& k, const task_params& params, std::function<void()> body) {
    task_struct& p = k.alloc_task(params.name);
    p.body = std::move(body);
    if (params.kthread || params.percpu_kthread) p.flags |= PF_KTHREAD;
    if (params.percpu_kthread) p.flags |= PF_NO_SETAFFINITY;
    p.counts_as_live = params.counts_as_live && !params.percpu_kthread;
    if (p.counts_as_live) k.task_created();
    p.in_kernel_mode = true;  // a new task starts in the kernel (ret_from_fork)
    if (params.policy == sched_policy::fifo || params.policy == sched_policy::rr)
        sched_set_rt(p, params.policy, params.rt_priority);
    else sched_set_normal(p, params.nice);
    if (params.policy == sched_policy::batch || params.policy == sched_policy::idle) p.policy = params.policy;
    p.cpus_mask = params.affinity.none() ? cpumask{} : params.affinity;
    if (params.affinity.none())
        for (int c = 0; c < k.nr_cpus(); ++c) p.cpus_mask.set(static_cast<std::size_t>(c));
    p.nr_cpus_allowed = static_cast<int>(p.cpus_mask.count());
    for (std::size_t c = static_cast<std::size_t>(k.nr_cpus()); c < p.cpus_mask.size(); ++c)
        if (p.cpus_mask.test(c)) throw std::invalid_argument("task " + params.name + ": CPU " + std::to_string(c) + " does not exist");
    if (params.cpu < 0 || params.cpu >= k.nr_cpus())
        throw std::invalid_argument("task " + params.name + ": CPU " + std::to_string(params.cpu) + " does not exist");
    // Start on the preferred CPU if allowed there, else on the first allowed one.
    int first = params.cpu;
    while (!p.cpus_mask.test(static_cast<std::size_t>(first))) first = (first + 1) % k.nr_cpus();
    p.cpu = p.wake_cpu = first;
    if (!p.is_kthread()) p.mm = &k.alloc_mm(params.name);
    p.sched_class->task_fork(p);
    p.stack = std::make_unique<task_stack>(k.config().stack_size, stack_owner{p.comm, p.pid});
    stack_init(p.ctx, *p.stack, task_entry, &p);
    return p;
}

void leave_stopped(task_struct& p) { p.__state.store(TASK_UNINTERRUPTIBLE, std::memory_order_relaxed); }

task_struct& fork_idle(kernel& k, int cpu) {
    task_struct& p = k.alloc_task("swapper/" + std::to_string(cpu), true);
    p.flags |= PF_IDLE | PF_KTHREAD;
    p.in_kernel_mode = true;
    p.policy = sched_policy::idle;
    p.prio = p.static_prio = p.normal_prio = DEFAULT_PRIO;  // 120, as init_task's (traces print it)
    p.sched_class = &idle_sched_class;
    p.cpu = cpu;
    p.cpus_mask.set(static_cast<std::size_t>(cpu));
    p.nr_cpus_allowed = 1;
    p.active_mm = &k.init_mm;
    k.init_mm.mm_count.fetch_add(1, std::memory_order_relaxed);  // mmgrab_lazy_tlb (sched_init / cpu_init)
    p.__state.store(TASK_RUNNING);
    p.on_cpu.store(1);
    p.stack = std::make_unique<task_stack>(k.config().stack_size, stack_owner{p.comm, p.pid});
    stack_init(p.ctx, *p.stack, idle_entry, &p);
    return p;
}

void do_exit() {
    shadow_frame<"do_exit"> frame;
    task_struct& t = current();
    if (!t.in_kernel_mode) syscall_enter_from_user_mode();  // exit() is a syscall
    t.flags |= PF_EXITING;
    if (in_atomic()) {
        printk(log_level::info, "note: %s[%d] exited with preempt_count %d", t.comm.c_str(), t.pid,
               static_cast<int>(preempt_count()));
        preempt_word_here().set_count(0);
    }
    if (irqs_disabled()) {
        printk(log_level::info, "note: %s[%d] exited with irqs disabled", t.comm.c_str(), t.pid);
        local_irq_enable();
    }
    if (t.mm) {
        // exit_mm: keep the mm as a lazy active_mm until the switch away.
        t.mm->mm_count.fetch_add(1, std::memory_order_relaxed);
        // mmput: the last user's exit drops the users' shared mm_count reference.
        if (t.mm->mm_users.fetch_sub(1, std::memory_order_relaxed) == 1)
            t.mm->mm_count.fetch_sub(1, std::memory_order_relaxed);
        t.mm = nullptr;
    }
    t.exit_time = this_kernel().arch().now();
    do_task_dead();
}

}  // namespace kp
