// Jiffies timers (timer_list) and the sleeping functions built on them and
// on hrtimers (kernel/time/timer.c, sleep_timeout.c).
//
// Expiry follows the timer wheel's rounding (wheel_bucket_expiry); a timer
// fires at the tick where jiffies reaches its bucket. As in Linux, the tick
// only raises TIMER_SOFTIRQ when a timer is due, and the callbacks run from
// that softirq (normally at the tick's own irq exit, the same instant with
// zero costs), in softirq context with interrupts enabled.
#pragma once

#include <climits>
#include <cstdint>
#include <functional>

#include "kpreempt/time.h"

namespace kp {

class kernel;
struct task_struct;

inline constexpr long MAX_SCHEDULE_TIMEOUT = LONG_MAX;

struct timer_list {
    std::uint64_t expires = 0;  // in jiffies
    // The wheel bucket's expiry: `expires` rounded up to the granularity of
    // the wheel level it lands in, so that a timer never fires early
    // (calc_wheel_index / calc_index in kernel/time/timer.c).
    std::uint64_t bucket_expiry = 0;
    std::function<void(timer_list&)> function;
    int cpu = -1;  // queued on, or -1
};

void add_timer(timer_list& t);        // on the calling CPU
// The jiffy at which a timer added at `clk` with `expires` fires.
std::uint64_t wheel_bucket_expiry(std::uint64_t expires, std::uint64_t clk, int hz);
bool del_timer_sync(timer_list& t);   // true if it was pending
void run_local_timers();              // from the tick: raise TIMER_SOFTIRQ if a timer is due
void init_timers(kernel& k);          // opens TIMER_SOFTIRQ

std::uint64_t get_jiffies();
// INITIAL_JIFFIES: jiffies start 300 s before wrapping a 32-bit counter.
std::uint64_t initial_jiffies(int hz);
std::uint64_t msecs_to_jiffies(std::int64_t ms);
std::uint64_t usecs_to_jiffies(std::int64_t us);

long schedule_timeout(long timeout);
long schedule_timeout_interruptible(long timeout);
long schedule_timeout_killable(long timeout);
long schedule_timeout_uninterruptible(long timeout);
long schedule_timeout_idle(long timeout);
void msleep(unsigned int msecs);
unsigned long msleep_interruptible(unsigned int msecs);
// hrtimer-based: sleep at least min_us (slack up to max_us is not used).
void usleep_range(unsigned long min_us, unsigned long max_us);
// clock_nanosleep()'s kernel side (hrtimer_nanosleep): sleep until `rqtp`
// (HRTIMER_MODE_ABS, TIMER_ABSTIME) or for `rqtp` (HRTIMER_MODE_REL). An
// absolute time already past still goes through the timer interrupt, as in
// Linux, so the task gives up the CPU once.
enum class hrtimer_mode { abs, rel };
void hrtimer_nanosleep(nsec_t rqtp, hrtimer_mode mode);
void hrtimer_sleep(nsec_t ns);  // hrtimer_nanosleep(ns, hrtimer_mode::rel)

}  // namespace kp
