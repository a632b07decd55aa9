#include "kernel/time/timer.h"
#include "kernel/trace/callpath.h"

#include <algorithm>

#include "kernel/debug/debug.h"
#include "kernel/irq/softirq.h"
#include "kernel/preempt/preempt.h"
#include "kernel/sched/core.h"

namespace kp {

std::uint64_t get_jiffies() { return this_kernel().jiffies.load(std::memory_order_relaxed); }

std::uint64_t initial_jiffies(int hz) {
    return static_cast<std::uint64_t>(static_cast<std::uint32_t>(-300 * hz));
}

std::uint64_t msecs_to_jiffies(std::int64_t ms) {
    const std::int64_t hz = this_kernel().config().hz;
    if (ms <= 0) return 0;
    return static_cast<std::uint64_t>((ms * hz + 999) / 1000);  // rounds up
}

std::uint64_t usecs_to_jiffies(std::int64_t us) {
    const std::int64_t hz = this_kernel().config().hz;
    if (us <= 0) return 0;
    return static_cast<std::uint64_t>((us * hz + 999999) / 1000000);
}

// The wheel has LVL_DEPTH levels of 64 buckets; level n's buckets are 8^n
// jiffies wide and it takes timeouts below 63 * 8^n jiffies. A timer is
// rounded up to the next bucket boundary of its level: at level 0 that is
// expires + 1, so a timer armed between ticks never fires early.
std::uint64_t wheel_bucket_expiry(std::uint64_t expires, std::uint64_t clk, int hz) {
    constexpr unsigned lvl_clk_shift = 3, lvl_size = 64;
    const unsigned depth = hz > 100 ? 9 : 8;
    auto lvl_start = [](unsigned n) { return std::uint64_t{lvl_size - 1} << ((n - 1) * lvl_clk_shift); };
    const auto delta = static_cast<std::int64_t>(expires - clk);
    if (delta < 0) return clk;
    unsigned lvl = 0;
    while (lvl + 1 < depth && static_cast<std::uint64_t>(delta) >= lvl_start(lvl + 1)) ++lvl;
    if (lvl + 1 == depth && static_cast<std::uint64_t>(delta) >= lvl_start(depth)) {
        // Obscenely long timeouts expire at the wheel's capacity limit.
        expires = clk + lvl_start(depth) - (std::uint64_t{1} << ((depth - 1) * lvl_clk_shift));
    }
    const unsigned shift = lvl * lvl_clk_shift;
    return ((expires >> shift) + 1) << shift;
}

void add_timer(timer_list& t) {
    percpu& pc = this_cpu();
    irq_guard irqs_off;
    t.bucket_expiry = wheel_bucket_expiry(t.expires, get_jiffies(), pc.k->config().hz);
    t.cpu = pc.cpu;
    pc.timers.push_back(&t);
}

bool del_timer_sync(timer_list& t) {
    if (t.cpu < 0) return false;
    irq_guard irqs_off;
    auto& list = this_kernel().cpu(t.cpu).timers;
    list.erase(std::remove(list.begin(), list.end(), &t), list.end());
    t.cpu = -1;
    return true;
}

namespace {

// The next timer of the CPU due at `now`, from position *i on, taken off
// the list; or null. Interrupts must be off (hardirqs change the list too).
timer_list* detach_expired_timer(percpu& pc, std::uint64_t now, std::size_t* i) {
    for (; *i < pc.timers.size(); ++*i) {
        timer_list* t = pc.timers[*i];
        if (t->bucket_expiry > now) continue;
        pc.timers.erase(pc.timers.begin() + static_cast<std::ptrdiff_t>(*i));
        t->cpu = -1;
        return t;
    }
    return nullptr;
}

// The TIMER softirq (run_timer_softirq -> __run_timers): expire in order of
// addition, in one pass, each callback with interrupts enabled (call_timer_fn
// runs with the base unlocked); a timer a callback adds already due runs in
// this same pass.
void run_timer_softirq() {
    percpu& pc = this_cpu();  // softirq context: no migration
    const std::uint64_t now = get_jiffies();
    std::size_t i = 0;
    for (;;) {
        timer_list* t = nullptr;
        {
            irq_guard irqs_off;
            t = detach_expired_timer(pc, now, &i);
        }
        if (!t) return;
        t->function(*t);
    }
}

}  // namespace

void init_timers(kernel& k) { open_softirq(k, TIMER_SOFTIRQ, run_timer_softirq); }

void run_local_timers() {
    percpu& pc = this_cpu();
    const std::uint64_t now = get_jiffies();
    for (const timer_list* t : pc.timers) {
        if (t->bucket_expiry <= now) {
            raise_softirq_irqoff(TIMER_SOFTIRQ);  // hardirq: only marks it pending
            return;
        }
    }
}

long schedule_timeout(long timeout) {
    shadow_frame<"schedule_timeout"> frame;
    if (timeout == MAX_SCHEDULE_TIMEOUT) {
        schedule();
        return timeout;
    }
    if (timeout < 0) {
        printk(log_level::err, "%s: wrong timeout value %lx", "schedule_timeout", static_cast<unsigned long>(timeout));
        __set_current_state(TASK_RUNNING);
        return 0;
    }
    const std::uint64_t expire = get_jiffies() + static_cast<std::uint64_t>(timeout);
    task_struct& self = current();
    timer_list timer;
    timer.expires = expire;
    timer.function = [&self](timer_list&) { wake_up_process(self); };  // process_timeout
    add_timer(timer);
    schedule();
    del_timer_sync(timer);
    const std::uint64_t now = get_jiffies();
    return now >= expire ? 0 : static_cast<long>(expire - now);
}

long schedule_timeout_interruptible(long timeout) {
    __set_current_state(TASK_INTERRUPTIBLE);
    return schedule_timeout(timeout);
}
long schedule_timeout_killable(long timeout) {
    __set_current_state(TASK_KILLABLE);
    return schedule_timeout(timeout);
}
long schedule_timeout_uninterruptible(long timeout) {
    __set_current_state(TASK_UNINTERRUPTIBLE);
    return schedule_timeout(timeout);
}
long schedule_timeout_idle(long timeout) {
    __set_current_state(TASK_IDLE);
    return schedule_timeout(timeout);
}

void msleep(unsigned int msecs) {
    shadow_frame<"msleep"> frame;
    long timeout = static_cast<long>(msecs_to_jiffies(msecs));
    while (timeout) timeout = schedule_timeout_uninterruptible(timeout);
}

unsigned long msleep_interruptible(unsigned int msecs) {
    long timeout = static_cast<long>(msecs_to_jiffies(msecs));
    while (timeout && !current().test_tif(TIF_SIGPENDING)) timeout = schedule_timeout_interruptible(timeout);
    const long hz = this_kernel().config().hz;
    return static_cast<unsigned long>(timeout * 1000 / hz);  // jiffies_to_msecs
}

void hrtimer_nanosleep(nsec_t rqtp, hrtimer_mode mode) {
    task_struct& self = current();
    const nsec_t expires = mode == hrtimer_mode::abs ? rqtp : this_kernel().arch().now() + rqtp;
    bool expired = false;
    hrtimer t;
    t.function = [&self, &expired](hrtimer&) {
        expired = true;
        wake_up_process(self);
        return hrtimer_restart::norestart;
    };
    t.name = "hrtimer_wakeup";
    hrtimer_start(t, expires);
    while (!expired) {
        set_current_state(TASK_UNINTERRUPTIBLE);
        if (expired) break;
        schedule();
    }
    __set_current_state(TASK_RUNNING);
    hrtimer_cancel(t);
}

void hrtimer_sleep(nsec_t ns) { hrtimer_nanosleep(ns, hrtimer_mode::rel); }

void usleep_range(unsigned long min_us, unsigned long /*max_us*/) {
    hrtimer_sleep(static_cast<nsec_t>(min_us) * NSEC_PER_USEC);
}

}  // namespace kp
