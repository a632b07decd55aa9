#include "arch/host/host_machine.h"

#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>

#include "arch/host/async_entry.h"
#include "arch/stack.h"
#include "kernel/irq/irq.h"
#include "kernel/kernel.h"

namespace kp {

void tick_setup_sched_timer(percpu& pc);
void async_irq_entry(void* machine);

// One virtual CPU: its thread, its clockevent and its pending interrupts.
// The pending masks are written by any thread (IPIs, the timer signal) and
// taken by the vCPU itself.
struct host_machine::vcpu {
    int cpu = 0;
    std::thread thread;
    std::atomic<pid_t> tid{0};
    timer_t timer{};
    bool timer_made = false;
    std::atomic<nsec_t> next_event{KTIME_MAX};
    std::atomic<std::uint32_t> pending_vectors{0};
    std::atomic<std::uint64_t> pending_lines{0};  // device lines 0..63
    std::atomic<std::uint32_t> wake_seq{0};       // futex word of the idle wait
    std::atomic<bool> idle{false};
    // Read by the vCPU's own signal handler: atomics, so that the compiler
    // neither delays nor drops the stores.
    std::atomic<bool> in_tasks{false};  // on a task's stack (not the thread's own)
    std::atomic<bool> polling{false};   // spinning in burn(): takes pending interrupts itself
    timer_t retry_timer{};  // asks again after a preemption was deferred
    bool retry_timer_made = false;
    host_machine* machine = nullptr;
    stack_context loop_ctx;  // the thread's own stack, to leave the CPU on stop
};

namespace {

static_assert(NR_IRQS <= 64, "pending_lines holds one bit per device line");

// The signal of the clockevents and IPIs (a real-time signal: queued per
// thread, never one of glibc's or the sanitizers').
int kick_signal() { return SIGRTMIN + 4; }

thread_local host_machine::vcpu* this_vcpu = nullptr;

// The two POSIX timers of a vCPU, told apart in the signal (si_value).
constexpr int CLOCKEVENT_TIMER = 1;
constexpr int RETRY_TIMER = 2;

nsec_t thread_cpu_ns() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return std::int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void futex_wait(std::atomic<std::uint32_t>& word, std::uint32_t seen) {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT_PRIVATE, seen, nullptr, nullptr, 0);
}

void futex_wake(std::atomic<std::uint32_t>& word) {
    syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

void cpu_relax() { __builtin_ia32_pause(); }

// The clockevent fired (or an IPI's signal came): a timer whose expiry has
// passed becomes a pending local-timer interrupt. Async-signal-safe: atomics
// and clock_gettime only.
// The kernel core's code (src/arch/host/kp_text.ld); weak, for a program
// linked without the script: then every pc counts as the core's.
extern "C" char __kp_text_start[] __attribute__((weak));
extern "C" char __kp_text_end[] __attribute__((weak));

bool in_core_text(std::uintptr_t pc) {
    if (!__kp_text_start) return true;
    return pc >= reinterpret_cast<std::uintptr_t>(__kp_text_start) && pc < reinterpret_cast<std::uintptr_t>(__kp_text_end);
}

// The clockevent expired: a pending local-timer interrupt. Bumping the
// wake word makes an idle wait restarted after the signal handler
// (SA_RESTART) see a new value and return. Async-signal-safe.
void clockevent_fired(host_machine::vcpu& v) {
    v.next_event.store(KTIME_MAX, std::memory_order_relaxed);
    v.pending_vectors.fetch_or(vector_bit(irq_vector::local_timer), std::memory_order_release);
    v.wake_seq.fetch_add(1, std::memory_order_release);
}

// Fire `timer` after `delay` (> 0) of real time. Relative: the machine's
// clock (host_clock) is not CLOCK_MONOTONIC's, only as fast or a little
// faster, so a delay measured on it never ends early.
void arm_timer(timer_t timer, nsec_t delay) {
    itimerspec its{};
    its.it_value.tv_sec = static_cast<time_t>(delay / 1'000'000'000);
    its.it_value.tv_nsec = static_cast<long>(delay % 1'000'000'000);
    timer_settime(timer, 0, &its, nullptr);
}

// Ask again in 50 us (Go retries its preemption requests the same way).
void arm_retry(host_machine::vcpu& v) {
    if (v.retry_timer_made) arm_timer(v.retry_timer, usecs(50));
}

// Where the signal found the vCPU decides whether the pending interrupts
// are taken now, on the interrupted task's own stack (async_redirect), or
// at the next point where the vCPU polls:
//   - interrupts masked (soft flag): local_irq_enable replays them;
//   - preemption disabled: the next preempt_enable, and the retry;
//   - the idle task, or the vCPU on its own stack: it polls;
//   - the core's own code (.kp_text): its next poll point, or the retry;
//   - outside the main program (libc, ld.so, the vDSO...): code that may
//     hold a lock of the OS thread: the retry.
// Only a task's own code with preemption and interrupts enabled is
// redirected. The redirected entry disables migration until it returns, so
// the task resumes on this vCPU: code interrupted between loading a per-CPU
// pointer and using it finds the same CPU (docs/host.md).
void maybe_redirect(host_machine::vcpu& v, ucontext_t* uc) {
    if (!v.in_tasks.load(std::memory_order_relaxed)) return;
    if (v.pending_vectors.load(std::memory_order_relaxed) == 0 &&
        v.pending_lines.load(std::memory_order_relaxed) == 0 && !v.machine->stopping())
        return;
    const percpu& pc = *this_cpu_ptr;
    if (v.polling.load(std::memory_order_relaxed) || pc.irqs_off.load(std::memory_order_relaxed) ||
        pc.current_task->is_idle())
        return;
    if (pc.preempt_count.count() != 0 || in_core_text(interrupted_pc(uc)) || !async_safe_pc(uc)) {
        arm_retry(v);
        return;
    }
    if (!async_redirect(uc, async_irq_entry, v.machine)) arm_retry(v);
}

void kick_handler(int, siginfo_t* info, void* ucv) {
    host_machine::vcpu* v = this_vcpu;
    if (!v) return;
    const int saved_errno = errno;
    const nsec_t expires = v->next_event.load(std::memory_order_acquire);
    if (expires != KTIME_MAX) {
        const nsec_t left = expires - v->machine->now();
        if (left <= 0) clockevent_fired(*v);
        // Early, by our clock (NTP slewed CLOCK_MONOTONIC ahead): the rest.
        else if (info->si_code == SI_TIMER && info->si_value.sival_int == CLOCKEVENT_TIMER) arm_timer(v->timer, left);
    }
    maybe_redirect(*v, static_cast<ucontext_t*>(ucv));
    errno = saved_errno;
}

void install_kick_handler() {
    struct sigaction sa{};
    sa.sa_sigaction = kick_handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;  // a tick in a task's last bytes of stack
    sigemptyset(&sa.sa_mask);
    if (sigaction(kick_signal(), &sa, nullptr) != 0)
        throw std::system_error(errno, std::generic_category(), "kpreempt host: sigaction");
}

// Pin the calling thread to one host CPU; a host that refuses (a cpuset,
// fewer CPUs than vCPUs) leaves it unpinned.
void pin_to_host_cpu(int cpu) {
    const unsigned n = std::thread::hardware_concurrency();
    if (n == 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(static_cast<unsigned>(cpu) % n, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

}  // namespace

host_machine::host_machine(const kernel_config& cfg) {
    async_entry_init();
    install_kick_handler();
    kernel_ = std::make_unique<kernel>(cfg, *this);
    lines_.resize(NR_IRQS);
    for (int cpu = 0; cpu < cfg.nr_cpus; ++cpu) {
        vcpus_.push_back(std::make_unique<vcpu>());
        vcpus_.back()->cpu = cpu;
        vcpus_.back()->machine = this;
    }
}

host_machine::~host_machine() {
    if (booted_.load() && !stopping_.load()) {
        stopping_.store(true);
        for (int cpu = 0; cpu < static_cast<int>(vcpus_.size()); ++cpu) kick(cpu);
    }
    for (auto& v : vcpus_)
        if (v->thread.joinable()) v->thread.join();
    if (device_thread_.joinable()) device_thread_.join();
}

nsec_t host_machine::now() const { return clock_.now(); }

host_machine::stop_reason host_machine::run(nsec_t limit) {
    if (booted_.exchange(true)) throw std::logic_error("kpreempt host: a host machine runs once");
    for (int cpu = 0; cpu < static_cast<int>(vcpus_.size()); ++cpu)
        vcpus_[static_cast<std::size_t>(cpu)]->thread = std::thread([this, cpu] { vcpu_main(cpu); });
    if (!devices_.empty()) device_thread_ = std::thread([this] { device_main(); });
    // The machine's own thread only watches: every 100 us, whether the
    // tasks are done or the time is up.
    stop_reason why = stop_reason::time_limit;
    while (now() < limit) {
        if (kernel_->nr_live_tasks() == 0) {
            why = stop_reason::all_exited;
            break;
        }
        const timespec pause{0, 100'000};
        nanosleep(&pause, nullptr);
    }
    stopping_.store(true);
    for (int cpu = 0; cpu < static_cast<int>(vcpus_.size()); ++cpu) kick(cpu);
    for (auto& v : vcpus_) v->thread.join();
    if (device_thread_.joinable()) device_thread_.join();
    kernel_->sync_accounting();
    return why;
}

// A vCPU thread: enter the CPU's current task (its idle task at first) and
// come back here only when the machine stops.
void host_machine::vcpu_main(int cpu) {
    vcpu& v = *vcpus_[static_cast<std::size_t>(cpu)];
    percpu& pc = kernel_->cpu(cpu);
    this_vcpu = &v;
    this_cpu_ptr = &pc;
    v.tid.store(static_cast<pid_t>(syscall(SYS_gettid)));
    pin_to_host_cpu(cpu);
    // Timers expire when asked: the default 50 us slack would add up to
    // 50 us to every clockevent.
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = kick_signal();
    sev._sigev_un._tid = v.tid.load();
    sev.sigev_value.sival_int = CLOCKEVENT_TIMER;
    v.timer_made = timer_create(CLOCK_MONOTONIC, &sev, &v.timer) == 0;
    sev.sigev_value.sival_int = RETRY_TIMER;
    v.retry_timer_made = timer_create(CLOCK_MONOTONIC, &sev, &v.retry_timer) == 0;
    stack_context_of_this_thread(v.loop_ctx);
    tick_setup_sched_timer(pc);
    v.in_tasks.store(true, std::memory_order_relaxed);
    stack_switch(v.loop_ctx, pc.current_task->ctx);
    v.in_tasks.store(false, std::memory_order_relaxed);
    // Stopped: the task that ran is left where it was.
    if (v.timer_made) timer_delete(v.timer);
    if (v.retry_timer_made) timer_delete(v.retry_timer);
    this_cpu_ptr = nullptr;
    this_vcpu = nullptr;
}

// Wake a vCPU to look at its pending interrupts: out of the idle futex,
// or with a signal while it runs.
void host_machine::kick(int cpu) {
    vcpu& v = *vcpus_[static_cast<std::size_t>(cpu)];
    v.wake_seq.fetch_add(1, std::memory_order_release);
    if (v.idle.load(std::memory_order_acquire)) futex_wake(v.wake_seq);
    const pid_t tid = v.tid.load(std::memory_order_acquire);
    if (tid != 0 && &v != this_vcpu) syscall(SYS_tgkill, getpid(), tid, kick_signal());
}

// The CPU leaves whatever it runs when the machine stops: back to the
// vCPU thread's own stack, for good.
void host_machine::poll_stop() {
    if (!stopping_.load(std::memory_order_relaxed)) [[likely]]
        return;
    vcpu& v = *this_vcpu;
    stack_switch(this_cpu_ptr->current_task->ctx, v.loop_ctx);
    assert(false && "a stopped vCPU never resumes its task");
}

void host_machine::set_next_event(int cpu, nsec_t expires) {
    vcpu& v = *vcpus_[static_cast<std::size_t>(cpu)];
    if (expires == KTIME_MAX) {
        v.next_event.store(KTIME_MAX, std::memory_order_release);
        if (v.timer_made) {
            const itimerspec off{};
            timer_settime(v.timer, 0, &off, nullptr);
        }
        return;
    }
    v.next_event.store(expires, std::memory_order_release);
    const nsec_t delay = expires - now();
    if (delay <= 0 || !v.timer_made) {
        // Already due (or no timer could be made): pending at once.
        clockevent_fired(v);
        if (&v != this_vcpu) kick(cpu);
        return;
    }
    arm_timer(v.timer, delay);
}

void host_machine::send_ipi(int cpu, irq_vector v) {
    if (!booted_.load(std::memory_order_relaxed)) return;  // each CPU looks for work when it starts
    vcpus_[static_cast<std::size_t>(cpu)]->pending_vectors.fetch_or(vector_bit(v), std::memory_order_release);
    kick(cpu);
}

bool host_machine::deliverable() const {
    const vcpu& v = *this_vcpu;
    if (v.pending_vectors.load(std::memory_order_acquire) == 0 &&
        v.pending_lines.load(std::memory_order_acquire) == 0)
        return false;
    return !this_cpu_ptr->irqs_off.load(std::memory_order_relaxed);
}

// Take pending interrupts one at a time while interrupts are on, highest
// vector first, then device lines by number. A handler may switch away
// (preemption at irq exit): the task may come back on another vCPU, so the
// vCPU is looked up afresh each time.
void host_machine::deliver_pending(bool at_user_point) {
    while (deliverable()) {
        vcpu& v = *this_vcpu;
        irq_source src;
        const std::uint32_t vectors = v.pending_vectors.load(std::memory_order_acquire);
        if (vectors != 0) {
            const std::uint32_t bit = vectors & -vectors;  // lowest bit: the highest vector
            v.pending_vectors.fetch_and(~bit, std::memory_order_acq_rel);
            src.vector = vector_order[__builtin_ctz(bit)];
        } else {
            const std::uint64_t lines = v.pending_lines.load(std::memory_order_acquire);
            const int irq = __builtin_ctzll(lines);
            v.pending_lines.fetch_and(~(std::uint64_t{1} << irq), std::memory_order_acq_rel);
            src.irq = irq;
        }
        cpu_take_interrupt(src, at_user_point);
    }
}

// CPU work: spin until the thread has had ns of CPU time, taking
// interrupts as they come. Time on another vCPU after a preemption counts
// from that vCPU's own clock.
void host_machine::burn(nsec_t ns) {
    nsec_t remaining = ns;
    while (remaining > 0) {
        poll_stop();
        if (deliverable()) {
            deliver_pending(true);
            continue;
        }
        const nsec_t start = thread_cpu_ns();
        nsec_t used = 0;
        this_vcpu->polling.store(true, std::memory_order_relaxed);
        while (used < remaining && !deliverable() && !stopping_.load(std::memory_order_relaxed)) {
            cpu_relax();
            used = thread_cpu_ns() - start;
        }
        this_vcpu->polling.store(false, std::memory_order_relaxed);
        remaining -= used;
    }
}

void host_machine::cpu_idle() {
    this_cpu_ptr->irqs_off.store(false, std::memory_order_relaxed);
    vcpu& v = *this_vcpu;
    for (;;) {
        poll_stop();
        if (deliverable()) break;
        const std::uint32_t seen = v.wake_seq.load(std::memory_order_acquire);
        v.idle.store(true, std::memory_order_seq_cst);
        if (!deliverable() && !stopping_.load(std::memory_order_seq_cst)) futex_wait(v.wake_seq, seen);
        v.idle.store(false, std::memory_order_relaxed);
    }
    deliver_pending(false);
}

void host_machine::replay_masked_irqs() {
    if (this_vcpu && deliverable()) deliver_pending(false);
}

// Spinning on a lock word: interrupts are taken meanwhile if on.
void host_machine::cpu_wait_event() {
    poll_stop();
    cpu_relax();
    if (deliverable()) deliver_pending(false);
}

// The spinners poll the lock word; nothing to signal.
void host_machine::cpu_send_event() {}

void host_machine::attach_device(int irq, const irq_arrivals& arrivals) {
    assert(irq >= 0 && irq < NR_IRQS && !booted_.load());
    devices_.push_back({irq, arrival_stream(arrivals, 0)});
}

// The device thread: sleep to the earliest next arrival, raise it, step
// that source. Sleeps are at most 1 ms, to notice the machine stopping.
void host_machine::device_main() {
    for (;;) {
        device* first = nullptr;
        for (device& d : devices_)
            if (!first || d.arrivals.next() < first->arrivals.next()) first = &d;
        const nsec_t at = first->arrivals.next();
        if (at == KTIME_MAX) return;
        while (!stopping_.load(std::memory_order_relaxed) && now() < at) {
            const nsec_t pause = std::min(at - now(), msecs(1));  // relative: see arm_timer
            const timespec ts{0, static_cast<long>(std::max<nsec_t>(pause, 1))};
            clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
        }
        if (stopping_.load(std::memory_order_relaxed)) return;
        raise_irq(first->irq);
        first->arrivals.advance();
    }
}

void host_machine::raise_irq(int irq) {
    assert(irq >= 0 && irq < NR_IRQS);
    const std::lock_guard lock(lines_lock_);
    line& l = lines_[static_cast<std::size_t>(irq)];
    if (l.masked) l.latched = true;
    else mark_line_pending(l.cpu, irq);
}

void host_machine::mark_line_pending(int cpu, int irq) {
    vcpus_[static_cast<std::size_t>(cpu)]->pending_lines.fetch_or(std::uint64_t{1} << irq, std::memory_order_release);
    if (booted_.load(std::memory_order_relaxed)) kick(cpu);
}

void host_machine::irq_chip_set_affinity(int irq, int cpu) {
    const std::lock_guard lock(lines_lock_);
    lines_[static_cast<std::size_t>(irq)].cpu = cpu;
}

void host_machine::irq_chip_mask(int irq) {
    const std::lock_guard lock(lines_lock_);
    lines_[static_cast<std::size_t>(irq)].masked = true;
}

// An arrival latched while masked is delivered now.
void host_machine::irq_chip_unmask(int irq) {
    const std::lock_guard lock(lines_lock_);
    line& l = lines_[static_cast<std::size_t>(irq)];
    l.masked = false;
    if (!l.latched) return;
    l.latched = false;
    mark_line_pending(l.cpu, irq);
}

// errno is the vCPU thread's (glibc keeps it in thread-local storage); each
// task keeps its own across a switch, as a register would be kept.
void host_machine::switch_to(task_struct& prev, task_struct& next, bool prev_dies) {
    const int saved_errno = errno;
    stack_switch(prev.ctx, next.ctx, prev_dies ? switch_kind::from_dies : switch_kind::keep_from);
    errno = saved_errno;
}

// The redirected call: the pending interrupts, taken on the task's stack as
// if the CPU had taken them at the interrupted instruction.
void async_irq_entry(void* machine) {
    static_cast<host_machine*>(machine)->poll_stop();
    task_struct& t = current();
    ++t.migration_disabled;
    static_cast<host_machine*>(machine)->take_pending_irqs();
    --t.migration_disabled;
}

void host_machine::take_pending_irqs() { deliver_pending(true); }

}  // namespace kp
