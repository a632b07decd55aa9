// The kernel's debugging aids, with its exact texts (spec 5.4 and 10):
// "scheduling while atomic", "sleeping function called from invalid
// context" (and its once-a-second rate limit), blocking ops in a sleeping
// state, a preempt_count leaked at exit, and an exception escaping a task.
// Every report goes to the kernel log; the machine repairs what the kernel
// repairs and goes on. Each case uses its own machine because the
// might_sleep report is rate limited machine-wide.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"

namespace kp {
namespace {

kernel_config one_cpu() { return {.nr_cpus = 1, .hz = 1000, .model = preempt_mode::full}; }

// The log lines from the first one containing `first`, `n` lines long (fewer
// if the log ends).
std::vector<std::string> lines_from(const kernel_log& log, const std::string& first, std::size_t n) {
    std::vector<std::string> out;
    const auto& e = log.entries();
    for (std::size_t i = 0; i < e.size(); ++i) {
        if (e[i].text.find(first) == std::string::npos) continue;
        for (std::size_t j = i; j < e.size() && out.size() < n; ++j) out.push_back(e[j].text);
        break;
    }
    return out;
}

const log_entry* find_line(const kernel_log& log, const std::string& needle) {
    for (const auto& e : log.entries())
        if (e.text.find(needle) != std::string::npos) return &e;
    return nullptr;
}

std::string pid_str(const task_struct& t) { return std::to_string(t.pid); }

// ---- scheduling while atomic --------------------------------------------

TEST(SchedulingWhileAtomic, ScheduleHoldingASpinlockIsReportedAndRepaired) {
    sim m(one_cpu());
    unsigned count_after = ~0u;
    std::size_t bug_lines_after = 0;
    task_struct& culprit = m.spawn({.name = "culprit"}, [&] {
        burn(usecs(300));
        syscall_section sys;
        spinlock_t l;
        spin_lock(l);
        schedule();
        // schedule_debug set the count to exactly its own disable, which
        // schedule() dropped again: the spinlock's +1 is gone.
        count_after = preempt_count();
        bug_lines_after = m.log().count("BUG: scheduling while atomic");
        spin_unlock(l);  // so its preempt_enable underflows (DEBUG_PREEMPT)
    });
    nsec_t other_ran = -1;
    task_struct& other = m.spawn({.name = "other"}, [&] {
        burn(usecs(100));
        msleep(2);
        other_ran = m.now();
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const log_entry* bug = find_line(m.log(), "BUG: scheduling while atomic");
    ASSERT_NE(bug, nullptr);
    EXPECT_EQ(bug->text, "BUG: scheduling while atomic: culprit/" + pid_str(culprit) + "/0x00000002");
    EXPECT_EQ(bug->level, log_level::err);
    EXPECT_EQ(bug_lines_after, 1u);
    EXPECT_EQ(m.log().count("BUG: scheduling while atomic"), 1u);
    EXPECT_EQ(count_after, 0u);
    EXPECT_EQ(m.log().count("DEBUG_LOCKS_WARN_ON(val > preempt_count())"), 1u);
    // The machine went on: both tasks ran to completion, the other one on
    // time: msleep(2) before the first tick (jiffies j0) has expires j0 + 2,
    // wheel bucket j0 + 3: the tick at 3 ms.
    EXPECT_EQ(other_ran, msecs(3));
    EXPECT_GE(other.exit_time, 0);
    EXPECT_EQ(m.log().count("note:"), 0u);  // nothing leaked at exit
}

TEST(SchedulingWhileAtomic, SleepingHoldingASpinlockStillSleepsItsTimeout) {
    sim m(one_cpu());
    long ret = -1;
    nsec_t woke = -1;
    task_struct& t = m.spawn({.name = "sleeper"}, [&] {
        burn(usecs(500));
        syscall_section sys;
        spinlock_t l;
        spin_lock(l);
        ret = schedule_timeout_uninterruptible(2);
        woke = m.now();
        preempt_count_add(PREEMPT_OFFSET);  // give back what schedule_debug took
        spin_unlock(l);
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("BUG: scheduling while atomic: sleeper/" + pid_str(t) + "/0x00000002"), 1u);
    EXPECT_EQ(ret, 0);
    EXPECT_EQ(woke, msecs(3));  // expires j0 + 2 at 0.5 ms, bucket j0 + 3
    EXPECT_EQ(m.log().count("WARNING"), 0u);
}

// ---- sleeping function called from invalid context ----------------------

// The three lines of __might_resched's report, exactly.
void expect_invalid_context_report(const kernel_log& log, unsigned line, int in_atomic, int irqs_disabled,
                                   const task_struct& t, unsigned preempt_count) {
    const auto lines = lines_from(log, "BUG: sleeping function called from invalid context", 3);
    ASSERT_EQ(lines.size(), 3u);
    EXPECT_EQ(lines[0], "BUG: sleeping function called from invalid context at tests/debug_test.cpp:" +
                            std::to_string(line));
    EXPECT_EQ(lines[1], "in_atomic(): " + std::to_string(in_atomic) + ", irqs_disabled(): " +
                            std::to_string(irqs_disabled) + ", non_block: 0, pid: " + pid_str(t) + ", name: " + t.comm);
    EXPECT_EQ(lines[2], "preempt_count: " + std::to_string(preempt_count) + ", expected: 0");
}

TEST(MightSleep, UnderPreemptDisableReportsWithCallerFileAndLine) {
    sim m(one_cpu());
    unsigned line = 0;
    task_struct& t = m.spawn({.name = "atomic-task"}, [&] {
        burn(usecs(700));
        syscall_section sys;
        preempt_disable();
        line = __LINE__; might_sleep();
        preempt_enable();
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    expect_invalid_context_report(m.log(), line, 1, 0, t, 1);
    const log_entry* bug = find_line(m.log(), "BUG: sleeping function");
    ASSERT_NE(bug, nullptr);
    EXPECT_EQ(bug->level, log_level::err);
    EXPECT_EQ(bug->time, usecs(700));
    EXPECT_EQ(bug->cpu, 0);
    EXPECT_EQ(m.log().count("BUG:"), 1u);
}

TEST(MightSleep, WithIrqsDisabledReportsIrqsDisabled) {
    sim m(one_cpu());
    unsigned line = 0;
    task_struct& t = m.spawn({.name = "irqoff"}, [&] {
        syscall_section sys;
        local_irq_disable();
        line = __LINE__; might_sleep();
        local_irq_enable();
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    expect_invalid_context_report(m.log(), line, 0, 1, t, 0);
}

TEST(MightSleep, UnderSpinLockIrqReportsBoth) {
    sim m(one_cpu());
    unsigned line = 0;
    task_struct& t = m.spawn({.name = "both"}, [&] {
        syscall_section sys;
        spinlock_t l;
        spin_lock_irq(l);
        line = __LINE__; might_sleep();
        spin_unlock_irq(l);
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    expect_invalid_context_report(m.log(), line, 1, 1, t, 1);
}

TEST(MightSleep, SilentInAPreemptibleContext) {
    sim m(one_cpu());
    m.spawn({.name = "fine"}, [] {
        might_sleep();
        syscall_section sys;
        might_sleep();
        cond_resched();
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_TRUE(m.log().entries().empty());
}

TEST(MightSleep, RateLimitedToOnceASecondMachineWide) {
    sim m({.nr_cpus = 2, .hz = 1000, .model = preempt_mode::full});
    auto offender = [] {
        preempt_disable();
        might_sleep();
        preempt_enable();
    };
    m.spawn({.name = "a", .cpus = {0}, .cpu = 0}, [&] {
        syscall_section sys;
        offender();                  // t = 0: reported
        burn(msecs(999) + usecs(500));
        offender();                  // 999.5 ms: 999 jiffies later, silent
        burn(msecs(1));
        offender();                  // 1000.5 ms: HZ jiffies later, reported
    });
    m.spawn({.name = "b", .cpus = {1}, .cpu = 1}, [&] {
        syscall_section sys;
        burn(msecs(10));
        offender();  // another CPU, 10 ms after the first report: silent
    });
    EXPECT_EQ(m.run(secs(2)), sim_machine::stop_reason::all_exited);
    std::vector<nsec_t> times;
    for (const auto& e : m.log().entries())
        if (e.text.starts_with("BUG: sleeping function called from invalid context")) times.push_back(e.time);
    EXPECT_EQ(times, (std::vector<nsec_t>{0, msecs(1000) + usecs(500)}));
}

TEST(MightSleep, BlockingOpsInASleepingStateWarnOncePerTask) {
    sim m(one_cpu());
    m.spawn({.name = "stateful"}, [] {
        syscall_section sys;
        for (int i = 0; i < 2; ++i) {
            set_current_state(TASK_UNINTERRUPTIBLE);
            might_sleep();
            __set_current_state(TASK_RUNNING);
        }
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("do not call blocking ops when !TASK_RUNNING; state=2 set at"), 1u);
    EXPECT_EQ(m.log().count("BUG:"), 0u);  // the context itself may sleep
}

// ---- leaks at exit and escaping exceptions ------------------------------

TEST(ExitChecks, PreemptCountLeakedAtExitIsNotedAndRepaired) {
    sim m(one_cpu());
    task_struct& leaker = m.spawn({.name = "leaker"}, [] {
        burn(usecs(200));
        preempt_disable();  // and return with it
    });
    unsigned count_seen = ~0u;
    nsec_t woke = -1;
    task_struct& other = m.spawn({.name = "other"}, [&] {
        msleep(1);
        woke = m.now();
        count_seen = preempt_count();
        burn(usecs(300));
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    const log_entry* note = find_line(m.log(), "note:");
    ASSERT_NE(note, nullptr);
    EXPECT_EQ(note->text, "note: leaker[" + pid_str(leaker) + "] exited with preempt_count 1");
    EXPECT_EQ(note->level, log_level::info);
    EXPECT_EQ(note->time, usecs(200));
    EXPECT_EQ(leaker.exit_time, usecs(200));
    EXPECT_EQ(woke, msecs(2));  // msleep(1) at 0.2 ms: expires j0 + 1, bucket j0 + 2
    EXPECT_EQ(count_seen, 0u);
    EXPECT_EQ(other.exit_time, usecs(2300));
    EXPECT_EQ(m.log().count("BUG:"), 0u);
    EXPECT_EQ(m.log().count("WARNING"), 0u);
}

TEST(ExitChecks, IrqsLeftDisabledAtExitAreNotedAndEnabled) {
    sim m(one_cpu());
    task_struct& t = m.spawn({.name = "irqleak"}, [] { local_irq_disable(); });
    nsec_t handled = -1;
    m.spawn({.name = "later"}, [&] {
        msleep(1);
        burn(msecs(2));
    });
    m.request_irq(1, "dev", [&] { handled = m.now(); });
    m.raise_irq(usecs(1500), 0, 1);  // inside later's burn: taken only if irqs are on
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("note: irqleak[" + pid_str(t) + "] exited with irqs disabled"), 1u);
    EXPECT_EQ(handled, usecs(1500));  // the CPU takes interrupts again
}

TEST(ExitChecks, ExceptionEscapingATaskIsReportedWithItsName) {
    sim m(one_cpu());
    task_struct& a = m.spawn({.name = "thrower"}, [] {
        burn(usecs(100));
        throw std::runtime_error("boom");
    });
    task_struct& b = m.spawn({.name = "odd-thrower"}, [] {
        burn(usecs(100));
        throw 42;
    });
    bool survivor_ran = false;
    m.spawn({.name = "survivor"}, [&] {
        msleep(1);
        survivor_ran = true;
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("kpreempt: task thrower[" + pid_str(a) + "] ended by an uncaught exception: boom"), 1u);
    EXPECT_EQ(m.log().count("kpreempt: task odd-thrower[" + pid_str(b) + "] ended by an uncaught exception"), 1u);
    EXPECT_GE(a.exit_time, usecs(100));
    EXPECT_GE(b.exit_time, usecs(100));
    EXPECT_EQ(a.exit_time + b.exit_time, usecs(300));  // one after the other on one CPU
    EXPECT_TRUE(survivor_ran);
}

}  // namespace
}  // namespace kp
