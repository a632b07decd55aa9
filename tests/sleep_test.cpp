// schedule_timeout() and the sleeping functions built on it (spec 12):
// return values, state rules, jiffies, and exact wake times on the virtual
// clock. One CPU, FULL model, zero costs; the periodic tick at HZ is the only
// thing that advances jiffies, one per tick, the first tick one period after
// boot. A jiffies timer fires at the tick at which jiffies reaches its
// timer-wheel bucket: for the short timeouts here (wheel level 0, under 63
// jiffies) that is `expires` + 1, so a sleep is never shorter than asked
// (schedule_timeout(3) at 0.5 ms wakes at the tick that makes jiffies
// j0 + 4, 4 ms). An hrtimer fires at its exact nanosecond.
#include <gtest/gtest.h>

#include <climits>
#include <cstdint>

#include "kpreempt/kpreempt.h"

namespace kp {
namespace {

constexpr int kDevIrq = 1;

// What one sleeping call saw: its return value, the virtual time and the
// jiffies after it, and the task state on return.
struct sleep_result {
    long ret = -1;
    nsec_t woke_at = -1;
    std::uint64_t jiffies_after = 0;
    unsigned state_after = ~0u;
};

// A one-CPU machine at `hz`.
kernel_config one_cpu(int hz) { return {.nr_cpus = 1, .hz = hz, .model = preempt_mode::full}; }

// Starts `sleeper` at t = 0; it burns `start` in user mode, then runs
// `call` inside a syscall section and records the result. A device
// interrupt at `irq_at` (if >= 0) runs `on_irq` against the sleeper.
template <class Call, class OnIrq>
sleep_result run_sleeper(int hz, nsec_t start, Call call, nsec_t irq_at, OnIrq on_irq) {
    sim m(one_cpu(hz));
    sleep_result r;
    task_struct& t = m.spawn({.name = "sleeper"}, [&] {
        burn(start);
        syscall_section sys;
        r.ret = call();
        r.woke_at = m.now();
        r.jiffies_after = get_jiffies();
        r.state_after = current().state();
    });
    m.request_irq(kDevIrq, "dev", [&] { on_irq(t); });
    if (irq_at >= 0) m.raise_irq(irq_at, 0, kDevIrq);
    EXPECT_EQ(m.run(secs(10)), sim_machine::stop_reason::all_exited);
    return r;
}

template <class Call>
sleep_result run_sleeper(int hz, nsec_t start, Call call) {
    return run_sleeper(hz, start, call, -1, [](task_struct&) {});
}

TEST(Jiffies, StartAtInitialJiffiesAndAdvanceOnePerTick) {
    EXPECT_EQ(initial_jiffies(1000), 4294667296u);  // (u32)(-300 * 1000)
    EXPECT_EQ(initial_jiffies(250), 4294892296u);   // (u32)(-300 * 250)
    for (const int hz : {1000, 250}) {
        sim m(one_cpu(hz));
        const std::uint64_t j0 = initial_jiffies(hz);
        const nsec_t tick = NSEC_PER_SEC / hz;
        std::uint64_t at_boot = 0, mid_third_tick = 0, at_tick_edge = 0;
        m.spawn({.name = "reader"}, [&] {
            at_boot = get_jiffies();
            burn(tick * 2 + tick / 2);
            mid_third_tick = get_jiffies();
            // Work ending exactly on a tick runs first (the machine's
            // tie-break); the tick due now is taken at the next burn.
            burn(tick / 2);
            at_tick_edge = get_jiffies();
        });
        EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
        EXPECT_EQ(at_boot, j0) << "hz " << hz;
        EXPECT_EQ(mid_third_tick, j0 + 2) << "hz " << hz;
        EXPECT_EQ(at_tick_edge, j0 + 2) << "hz " << hz;
        EXPECT_EQ(m.now(), 3 * tick);
    }
}

TEST(Jiffies, MsecsAndUsecsToJiffiesRoundUp) {
    for (const int hz : {1000, 250}) {
        sim m(one_cpu(hz));
        std::uint64_t ms1 = 0, ms3 = 0, ms4 = 0, ms10 = 0, us1 = 0, us4000 = 0, ms0 = 9;
        m.spawn({.name = "conv"}, [&] {
            ms0 = msecs_to_jiffies(0);
            ms1 = msecs_to_jiffies(1);
            ms3 = msecs_to_jiffies(3);
            ms4 = msecs_to_jiffies(4);
            ms10 = msecs_to_jiffies(10);
            us1 = usecs_to_jiffies(1);
            us4000 = usecs_to_jiffies(4000);
        });
        EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
        EXPECT_EQ(ms0, 0u);
        EXPECT_EQ(ms1, 1u) << "hz " << hz;
        EXPECT_EQ(ms3, hz == 1000 ? 3u : 1u);
        EXPECT_EQ(ms4, hz == 1000 ? 4u : 1u);
        EXPECT_EQ(ms10, hz == 1000 ? 10u : 3u);
        EXPECT_EQ(us1, 1u);
        EXPECT_EQ(us4000, hz == 1000 ? 4u : 1u);
    }
}

TEST(ScheduleTimeout, MaxTimeoutIsPlainScheduleUntilWoken) {
    const sleep_result r = run_sleeper(
        1000, usecs(500),
        [] {
            set_current_state(TASK_UNINTERRUPTIBLE);
            return schedule_timeout(MAX_SCHEDULE_TIMEOUT);
        },
        usecs(7300), [](task_struct& t) { wake_up_process(t); });
    EXPECT_EQ(r.ret, LONG_MAX);
    EXPECT_EQ(r.woke_at, usecs(7300));  // no timer: only the wakeup ends it
    EXPECT_EQ(r.state_after, TASK_RUNNING);
}

TEST(ScheduleTimeout, NegativeTimeoutLogsAndReturnsZeroRunning) {
    sim m(one_cpu(1000));
    long ret = -1;
    unsigned state = ~0u;
    nsec_t at = -1;
    m.spawn({.name = "neg"}, [&] {
        burn(usecs(200));
        syscall_section sys;
        set_current_state(TASK_INTERRUPTIBLE);
        ret = schedule_timeout(-5);
        state = current().state();
        at = m.now();
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(ret, 0);
    EXPECT_EQ(state, TASK_RUNNING);
    EXPECT_EQ(at, usecs(200));  // it did not sleep
    ASSERT_EQ(m.log().count("schedule_timeout: wrong timeout value"), 1u);
    bool found = false;
    for (const auto& e : m.log().entries()) {
        if (e.text.find("schedule_timeout:") == std::string::npos) continue;
        found = true;
        EXPECT_EQ(e.text, "schedule_timeout: wrong timeout value fffffffffffffffb");
        EXPECT_EQ(e.level, log_level::err);
        EXPECT_EQ(e.time, usecs(200));
    }
    EXPECT_TRUE(found);
}

TEST(ScheduleTimeout, UninterruptibleSleepsTheFullTimeoutHz1000) {
    const sleep_result r = run_sleeper(1000, usecs(500), [] { return schedule_timeout_uninterruptible(3); });
    EXPECT_EQ(r.ret, 0);
    EXPECT_EQ(r.woke_at, msecs(4));  // expire = jiffies(0.5 ms) + 3, bucket + 1: the tick at 4 ms
    EXPECT_EQ(r.jiffies_after, initial_jiffies(1000) + 4);
    EXPECT_EQ(r.state_after, TASK_RUNNING);
}

TEST(ScheduleTimeout, UninterruptibleSleepsTheFullTimeoutHz250) {
    const sleep_result r = run_sleeper(250, usecs(500), [] { return schedule_timeout_uninterruptible(3); });
    EXPECT_EQ(r.ret, 0);
    EXPECT_EQ(r.woke_at, msecs(16));  // ticks every 4 ms; bucket j0 + 4: the fourth, at 16 ms
    EXPECT_EQ(r.jiffies_after, initial_jiffies(250) + 4);
}

// Timeouts of 63 jiffies or more land in wheel level 1, whose buckets are 8
// jiffies wide: expiry rounds up to the next multiple of 8 (j0 is a
// multiple of 8: 2^32 - 300000).
TEST(ScheduleTimeout, LongTimeoutsRoundUpToTheWheelLevelGranularity) {
    ASSERT_EQ(initial_jiffies(1000) % 8, 0u);
    const sleep_result r = run_sleeper(1000, usecs(500), [] { return schedule_timeout_uninterruptible(100); });
    EXPECT_EQ(r.ret, 0);
    EXPECT_EQ(r.woke_at, msecs(104));  // expires j0 + 100; ((j0 + 100) >> 3) + 1 = j0/8 + 13 -> j0 + 104
    EXPECT_EQ(r.jiffies_after, initial_jiffies(1000) + 104);
    // Just below the level boundary stays in level 0: expires + 1.
    const sleep_result s = run_sleeper(1000, usecs(500), [] { return schedule_timeout_uninterruptible(62); });
    EXPECT_EQ(s.woke_at, msecs(63));
}

TEST(ScheduleTimeout, UninterruptibleIgnoresSignals) {
    const sleep_result r = run_sleeper(
        1000, usecs(500), [] { return schedule_timeout_uninterruptible(5); }, usecs(2200),
        [](task_struct& t) { send_sig(t); });
    EXPECT_EQ(r.ret, 0);
    EXPECT_EQ(r.woke_at, msecs(6));  // expires j0 + 5, bucket j0 + 6; the signal changes nothing
}

TEST(ScheduleTimeout, ExplicitWakeupReturnsRemainingJiffiesHz1000) {
    const sleep_result r = run_sleeper(
        1000, usecs(500), [] { return schedule_timeout_uninterruptible(10); }, usecs(3300),
        [](task_struct& t) { wake_up_process(t); });
    EXPECT_EQ(r.woke_at, usecs(3300));
    EXPECT_EQ(r.ret, 7);  // expire = j0 + 10; jiffies = j0 + 3 at 3.3 ms
    EXPECT_EQ(r.state_after, TASK_RUNNING);
}

TEST(ScheduleTimeout, ExplicitWakeupReturnsRemainingJiffiesHz250) {
    const sleep_result r = run_sleeper(
        250, usecs(500), [] { return schedule_timeout_uninterruptible(10); }, usecs(9000),
        [](task_struct& t) { wake_up_process(t); });
    EXPECT_EQ(r.woke_at, usecs(9000));
    EXPECT_EQ(r.ret, 8);  // ticks at 4 and 8 ms have passed
}

TEST(ScheduleTimeout, InterruptibleReturnsEarlyOnSignal) {
    sim m(one_cpu(1000));
    long first = -1, second = -1;
    nsec_t first_at = -1, second_at = -1;
    bool pending = false;
    std::size_t timers_left = 99;
    task_struct& t = m.spawn({.name = "sleeper"}, [&] {
        burn(usecs(500));
        syscall_section sys;
        first = schedule_timeout_interruptible(10);
        first_at = m.now();
        pending = signal_pending(current());
        timers_left = this_cpu().timers.size();  // the on-stack timer is gone
        // With the signal still pending, an interruptible sleep does not sleep.
        second = schedule_timeout_interruptible(5);
        second_at = m.now();
    });
    m.request_irq(kDevIrq, "dev", [&t] { send_sig(t); });
    m.raise_irq(usecs(3300), 0, kDevIrq);
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(first, 7);
    EXPECT_EQ(first_at, usecs(3300));
    EXPECT_TRUE(pending);
    EXPECT_EQ(timers_left, 0u);
    EXPECT_EQ(second, 5);
    EXPECT_EQ(second_at, usecs(3300));
    EXPECT_EQ(t.state(), TASK_DEAD);
}

TEST(ScheduleTimeout, RunningStateReturnsAtOnceWithTimeoutLeft) {
    const sleep_result r = run_sleeper(1000, usecs(500), [] {
        __set_current_state(TASK_RUNNING);
        return schedule_timeout(5);
    });
    EXPECT_EQ(r.ret, 5);
    EXPECT_EQ(r.woke_at, usecs(500));
    EXPECT_EQ(r.jiffies_after, initial_jiffies(1000));
}

TEST(ScheduleTimeout, ZeroTimeoutSleepsUntilTheNextTick) {
    const sleep_result r = run_sleeper(1000, usecs(500), [] { return schedule_timeout_uninterruptible(0); });
    EXPECT_EQ(r.ret, 0);
    EXPECT_EQ(r.state_after, TASK_RUNNING);
    EXPECT_EQ(r.woke_at, usecs(1000));  // expire = now: the timer fires at the next tick
}

TEST(Msleep, WakesAtTheTickBoundaryHz1000) {
    const sleep_result a = run_sleeper(1000, 0, [] {
        msleep(3);
        return 0L;
    });
    // msleep(3) is 3 jiffies, + 1 for the wheel bucket: on a tick edge or
    // inside the first jiffy alike, it wakes at the tick making j0 + 4.
    EXPECT_EQ(a.woke_at, msecs(4));
    const sleep_result b = run_sleeper(1000, usecs(500), [] {
        msleep(3);
        return 0L;
    });
    EXPECT_EQ(b.woke_at, msecs(4));  // 3 jiffies from inside the first one, + 1
    EXPECT_EQ(b.jiffies_after, initial_jiffies(1000) + 4);
}

TEST(Msleep, RoundsUpToWholeJiffiesHz250) {
    const sleep_result a = run_sleeper(250, usecs(500), [] {
        msleep(3);  // 1 jiffy
        return 0L;
    });
    EXPECT_EQ(a.woke_at, msecs(8));  // bucket j0 + 2: the second 4 ms tick
    const sleep_result b = run_sleeper(250, usecs(500), [] {
        msleep(10);  // 3 jiffies
        return 0L;
    });
    EXPECT_EQ(b.woke_at, msecs(16));  // bucket j0 + 4
    EXPECT_EQ(b.jiffies_after, initial_jiffies(250) + 4);
}

TEST(Msleep, IgnoresExplicitWakeups) {
    // An early wakeup makes schedule_timeout return the remainder; msleep
    // goes back to sleep for it.
    const sleep_result r = run_sleeper(
        1000, 0,
        [] {
            msleep(6);
            return 0L;
        },
        usecs(2500), [](task_struct& t) { wake_up_process(t); });
    // expires j0 + 6; woken at 2.5 ms (j0 + 2), 4 left: the new timer has
    // expires j0 + 2 + 4 = j0 + 6 again, bucket j0 + 7: 7 ms.
    EXPECT_EQ(r.woke_at, msecs(7));
}

TEST(Msleep, InterruptibleReturnsRemainingMsecs) {
    const sleep_result a = run_sleeper(
        1000, 0, [] { return static_cast<long>(msleep_interruptible(10)); }, usecs(3300),
        [](task_struct& t) { send_sig(t); });
    EXPECT_EQ(a.ret, 7);
    EXPECT_EQ(a.woke_at, usecs(3300));
    const sleep_result b = run_sleeper(
        250, 0, [] { return static_cast<long>(msleep_interruptible(40)); }, usecs(9000),
        [](task_struct& t) { send_sig(t); });
    EXPECT_EQ(b.ret, 32);  // 8 jiffies of 4 ms left
    EXPECT_EQ(b.woke_at, usecs(9000));
    const sleep_result c = run_sleeper(1000, 0, [] { return static_cast<long>(msleep_interruptible(4)); });
    EXPECT_EQ(c.ret, 0);
    EXPECT_EQ(c.woke_at, msecs(5));  // expires j0 + 4 at t = 0, bucket j0 + 5
}

TEST(UsleepRange, WakesExactlyMinMicrosecondsLater) {
    for (const int hz : {1000, 250}) {
        const sleep_result r = run_sleeper(hz, usecs(500), [] {
            usleep_range(150, 300);
            return 0L;
        });
        EXPECT_EQ(r.woke_at, usecs(650)) << "hz " << hz;  // hrtimer: not on a tick
        EXPECT_EQ(r.state_after, TASK_RUNNING);
    }
}

TEST(UsleepRange, SurvivesASpuriousWakeup) {
    const sleep_result r = run_sleeper(
        1000, usecs(100),
        [] {
            usleep_range(2000, 2500);
            return 0L;
        },
        usecs(900), [](task_struct& t) { wake_up_process(t); });
    EXPECT_EQ(r.woke_at, usecs(2100));
}

// clock_nanosleep(TIMER_ABSTIME): the wakeup is at the absolute time asked,
// whenever the call is made; a time already past still sleeps through the
// timer interrupt and returns at the same instant.
TEST(HrtimerNanosleep, AbsoluteWakesAtTheTimeAskedRelativeAfterIt) {
    const sleep_result abs = run_sleeper(1000, usecs(500), [] {
        hrtimer_nanosleep(usecs(1234), hrtimer_mode::abs);
        return 0L;
    });
    EXPECT_EQ(abs.woke_at, usecs(1234));
    EXPECT_EQ(abs.state_after, TASK_RUNNING);
    const sleep_result past = run_sleeper(1000, usecs(500), [] {
        hrtimer_nanosleep(usecs(100), hrtimer_mode::abs);
        return 0L;
    });
    EXPECT_EQ(past.woke_at, usecs(500));
    const sleep_result rel = run_sleeper(1000, usecs(500), [] {
        hrtimer_nanosleep(usecs(1234), hrtimer_mode::rel);
        return 0L;
    });
    EXPECT_EQ(rel.woke_at, usecs(1734));
}

}  // namespace
}  // namespace kp
