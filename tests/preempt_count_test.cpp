// preempt_count: Linux's bit layout with x86's inverted, folded
// NEED_RESCHED bit (spec section 1), its arithmetic as pure functions on the
// word, then the same operations from inside a task on a simulated CPU:
// nesting, interrupt masking, the RAII guards, hardirq context and
// CONFIG_DEBUG_PREEMPT's underflow report.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "kernel/trace/trace.h"
#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

// ---------------------------------------------------------------------------
// The layout (spec 1.1), checked against the literal values of the table.

TEST(PreemptCountLayout, FieldMasksAndOffsets) {
    EXPECT_EQ(PREEMPT_MASK, 0x000000ffu);
    EXPECT_EQ(SOFTIRQ_MASK, 0x0000ff00u);
    EXPECT_EQ(HARDIRQ_MASK, 0x000f0000u);
    EXPECT_EQ(NMI_MASK, 0x00f00000u);
    EXPECT_EQ(PREEMPT_OFFSET, 0x1u);
    EXPECT_EQ(SOFTIRQ_OFFSET, 0x100u);
    EXPECT_EQ(HARDIRQ_OFFSET, 0x10000u);
    EXPECT_EQ(NMI_OFFSET, 0x100000u);
    EXPECT_EQ(PREEMPT_SHIFT, 0u);
    EXPECT_EQ(SOFTIRQ_SHIFT, 8u);
    EXPECT_EQ(HARDIRQ_SHIFT, 16u);
    EXPECT_EQ(NMI_SHIFT, 20u);
    // The fields do not overlap, and bits 24-30 are unused.
    EXPECT_EQ(PREEMPT_MASK & SOFTIRQ_MASK, 0u);
    EXPECT_EQ(SOFTIRQ_MASK & HARDIRQ_MASK, 0u);
    EXPECT_EQ(HARDIRQ_MASK & NMI_MASK, 0u);
    EXPECT_EQ(PREEMPT_MASK | SOFTIRQ_MASK | HARDIRQ_MASK | NMI_MASK, 0x00ffffffu);
}

TEST(PreemptCountLayout, DerivedConstants) {
    // Bottom-half disabling adds twice the serving unit, so bit 8 alone
    // means "serving a softirq" (spec 1.2).
    EXPECT_EQ(SOFTIRQ_DISABLE_OFFSET, 2 * SOFTIRQ_OFFSET);
    EXPECT_EQ(SOFTIRQ_DISABLE_OFFSET, 0x200u);
    EXPECT_EQ(PREEMPT_DISABLE_OFFSET, 1u);  // CONFIG_PREEMPT_COUNT=y
    EXPECT_EQ(PREEMPT_LOCK_OFFSET, 1u);     // what spin_lock adds (non-RT)
    EXPECT_EQ(SOFTIRQ_LOCK_OFFSET, 0x201u);
    // NEED_RESCHED is bit 31 and inverted: set means "nothing pending".
    EXPECT_EQ(PREEMPT_NEED_RESCHED, 0x80000000u);
    EXPECT_EQ(PREEMPT_ENABLED, 0x80000000u);
    EXPECT_EQ(PREEMPT_DISABLED, 0x80000001u);
    EXPECT_EQ(INIT_PREEMPT_COUNT, 1u);
    EXPECT_EQ(FORK_PREEMPT_COUNT, 0x80000002u);
}

// ---------------------------------------------------------------------------
// preempt_word arithmetic (spec 1.4).

TEST(PreemptWord, StartsDisabledWithNothingPending) {
    preempt_word w;
    EXPECT_EQ(w.raw(), PREEMPT_DISABLED);
    EXPECT_EQ(w.count(), 1u);
    EXPECT_FALSE(w.test_need_resched());
}

TEST(PreemptWord, RawEnabledIsCountZeroNothingPending) {
    preempt_word w;
    w.set_raw(PREEMPT_ENABLED);
    EXPECT_EQ(w.count(), 0u);
    EXPECT_FALSE(w.test_need_resched());
    // Folding a reschedule clears bit 31: the raw word becomes exactly 0.
    w.set_need_resched();
    EXPECT_TRUE(w.test_need_resched());
    EXPECT_EQ(w.raw(), 0u);
    EXPECT_EQ(w.count(), 0u);
    w.clear_need_resched();
    EXPECT_EQ(w.raw(), PREEMPT_ENABLED);
}

TEST(PreemptWord, AddAndSubTouchOnlyTheCount) {
    preempt_word w;
    w.set_raw(PREEMPT_ENABLED);
    w.add(PREEMPT_OFFSET);
    w.add(HARDIRQ_OFFSET);
    w.add(SOFTIRQ_DISABLE_OFFSET);
    EXPECT_EQ(w.count(), 0x10201u);
    EXPECT_EQ(w.raw(), 0x80010201u);
    w.sub(HARDIRQ_OFFSET);
    EXPECT_EQ(w.count(), 0x201u);
    w.set_need_resched();
    w.sub(SOFTIRQ_DISABLE_OFFSET);
    EXPECT_EQ(w.raw(), 0x1u);  // count 1, reschedule folded in
    EXPECT_TRUE(w.test_need_resched());
}

TEST(PreemptWord, SubAndTestIsTrueOnlyAtZeroWithReschedFolded) {
    // Count reaches 0 and a reschedule is pending: the one-decrement test.
    preempt_word w;
    w.set_raw(PREEMPT_ENABLED);
    w.add(PREEMPT_OFFSET);
    w.set_need_resched();
    EXPECT_TRUE(w.sub_and_test(PREEMPT_OFFSET));
    EXPECT_EQ(w.raw(), 0u);
}

TEST(PreemptWord, SubAndTestIsFalseAtZeroWithoutResched) {
    preempt_word w;
    w.set_raw(PREEMPT_ENABLED);
    w.add(PREEMPT_OFFSET);
    EXPECT_FALSE(w.sub_and_test(PREEMPT_OFFSET));
    EXPECT_EQ(w.raw(), PREEMPT_ENABLED);
}

TEST(PreemptWord, SubAndTestIsFalseWhileNestedEvenWithResched) {
    preempt_word w;
    w.set_raw(PREEMPT_ENABLED);
    w.add(PREEMPT_OFFSET);
    w.add(PREEMPT_OFFSET);
    w.set_need_resched();
    EXPECT_FALSE(w.sub_and_test(PREEMPT_OFFSET));  // inner enable: count 1 left
    EXPECT_EQ(w.raw(), 1u);
    EXPECT_TRUE(w.sub_and_test(PREEMPT_OFFSET));   // outermost
}

TEST(PreemptWord, ShouldReschedComparesCountAndFold) {
    preempt_word w;
    w.set_raw(PREEMPT_ENABLED);
    EXPECT_FALSE(w.should_resched(0));  // nothing pending
    w.set_need_resched();
    EXPECT_TRUE(w.should_resched(0));
    EXPECT_FALSE(w.should_resched(PREEMPT_LOCK_OFFSET));
    w.add(PREEMPT_LOCK_OFFSET);  // as if holding a spinlock
    EXPECT_FALSE(w.should_resched(0));
    EXPECT_TRUE(w.should_resched(PREEMPT_LOCK_OFFSET));  // cond_resched_lock's test
    w.clear_need_resched();
    EXPECT_FALSE(w.should_resched(PREEMPT_LOCK_OFFSET));
}

TEST(PreemptWord, SetCountPreservesTheFold) {
    preempt_word w;
    w.set_raw(PREEMPT_ENABLED);
    w.set_count(5);
    EXPECT_EQ(w.raw(), 0x80000005u);  // still nothing pending
    w.set_need_resched();
    w.set_count(2);
    EXPECT_EQ(w.raw(), 2u);  // still pending
    EXPECT_TRUE(w.test_need_resched());
    // A count value carrying bit 31 cannot overwrite the fold.
    w.set_count(0x80000000u | 7u);
    EXPECT_EQ(w.raw(), 7u);
}

// ---------------------------------------------------------------------------
// The context predicates as pure functions on counts (spec 1.3).

struct context_row {
    const char* what;
    std::uint32_t pc;
    bool task, interrupt, hardirq, softirq, serving_softirq, nmi, atomic;
    int level;
};

TEST(PreemptCountContext, PredicatesOnCounts) {
    const context_row rows[] = {
        // what                          pc                               task   intr   hard   soft   serv   nmi    atomic lvl
        {"task, preemptible", 0, true, false, false, false, false, false, false, 0},
        {"task, preempt disabled x3", 3, true, false, false, false, false, false, true, 0},
        {"task, bh disabled", SOFTIRQ_DISABLE_OFFSET, true, true, false, true, false, false, true, 0},
        {"task, spin_lock_bh", SOFTIRQ_LOCK_OFFSET, true, true, false, true, false, false, true, 0},
        {"serving a softirq", SOFTIRQ_OFFSET, false, true, false, true, true, false, true, 1},
        {"softirq with bh disabled inside", SOFTIRQ_OFFSET + SOFTIRQ_DISABLE_OFFSET, false, true, false, true, true,
         false, true, 1},
        {"hardirq", HARDIRQ_OFFSET, false, true, true, false, false, false, true, 2},
        {"hardirq over a softirq", HARDIRQ_OFFSET + SOFTIRQ_OFFSET, false, true, true, true, true, false, true, 2},
        {"nested hardirq", 2 * HARDIRQ_OFFSET, false, true, true, false, false, false, true, 2},
        // NMI entry adds NMI_OFFSET + HARDIRQ_OFFSET: in_hardirq() is true too.
        {"nmi", NMI_OFFSET + HARDIRQ_OFFSET, false, true, true, false, false, true, true, 3},
        {"nmi field alone", NMI_OFFSET, false, true, false, false, false, true, true, 3},
    };
    for (const auto& r : rows) {
        SCOPED_TRACE(r.what);
        EXPECT_EQ(pc_in_task(r.pc), r.task);
        EXPECT_EQ(pc_in_interrupt(r.pc), r.interrupt);
        EXPECT_EQ(pc_in_hardirq(r.pc), r.hardirq);
        EXPECT_EQ(pc_in_softirq(r.pc), r.softirq);
        EXPECT_EQ(pc_in_serving_softirq(r.pc), r.serving_softirq);
        EXPECT_EQ(pc_in_nmi(r.pc), r.nmi);
        EXPECT_EQ(pc_in_atomic(r.pc), r.atomic);
        EXPECT_EQ(interrupt_context_level(r.pc), r.level);
    }
}

TEST(PreemptCountContext, CountAccessorsMaskTheirField) {
    const std::uint32_t pc = NMI_OFFSET + 2 * HARDIRQ_OFFSET + SOFTIRQ_OFFSET + SOFTIRQ_DISABLE_OFFSET + 3;
    EXPECT_EQ(nmi_count(pc), 0x100000u);
    EXPECT_EQ(hardirq_count(pc), 0x20000u);
    EXPECT_EQ(softirq_count(pc), 0x300u);
    EXPECT_EQ(irq_count(pc), 0x120300u);  // everything but the PREEMPT field
}

// ---------------------------------------------------------------------------
// Inside a task on a simulated CPU.

// Runs `body` as the only task on a one-CPU machine, to completion.
void run_in_task(const std::function<void()>& body) {
    sim m({.nr_cpus = 1});
    m.spawn({.name = "t"}, body);
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
}

TEST(PreemptCountInTask, TaskBodyStartsPreemptible) {
    bool ran = false;
    run_in_task([&] {
        ran = true;
        EXPECT_EQ(preempt_count(), 0u);
        EXPECT_EQ(preempt_word_here().raw(), PREEMPT_ENABLED);
        EXPECT_FALSE(irqs_disabled());
        EXPECT_TRUE(preemptible());
        EXPECT_TRUE(in_task());
        EXPECT_FALSE(in_atomic());
    });
    EXPECT_TRUE(ran);
}

TEST(PreemptCountInTask, PreemptDisableNests) {
    std::vector<std::uint32_t> seen;
    run_in_task([&] {
        for (int i = 0; i < 3; ++i) {
            preempt_disable();
            seen.push_back(preempt_count());
        }
        EXPECT_TRUE(in_atomic());
        EXPECT_FALSE(preemptible());
        EXPECT_TRUE(in_task());
        for (int i = 0; i < 3; ++i) {
            preempt_enable();
            seen.push_back(preempt_count());
        }
        EXPECT_TRUE(preemptible());
    });
    EXPECT_EQ(seen, (std::vector<std::uint32_t>{1, 2, 3, 2, 1, 0}));
}

TEST(PreemptCountInTask, EnableNoReschedAndCheckResched) {
    std::vector<std::uint32_t> seen;
    run_in_task([&] {
        preempt_disable();
        preempt_disable();
        preempt_enable_no_resched();
        seen.push_back(preempt_count());
        sched_preempt_enable_no_resched();
        seen.push_back(preempt_count());
        preempt_check_resched();  // nothing pending: no effect
        seen.push_back(preempt_count());
    });
    EXPECT_EQ(seen, (std::vector<std::uint32_t>{1, 0, 0}));
}

TEST(PreemptCountInTask, NotPreemptibleWithIrqsOff) {
    run_in_task([] {
        local_irq_disable();
        EXPECT_TRUE(irqs_disabled());
        EXPECT_EQ(preempt_count(), 0u);  // irqs off is not in the count...
        EXPECT_FALSE(preemptible());     // ...but still forbids preemption
        EXPECT_FALSE(in_atomic());
        local_irq_enable();
        EXPECT_TRUE(preemptible());
    });
}

TEST(PreemptCountInTask, IrqSaveRestoreNests) {
    run_in_task([] {
        const irqflags_t outer = local_irq_save();
        EXPECT_TRUE(irqs_disabled());
        const irqflags_t inner = local_irq_save();
        EXPECT_TRUE(irqs_disabled());
        local_irq_restore(inner);  // inner restore: were already off
        EXPECT_TRUE(irqs_disabled());
        local_irq_restore(outer);
        EXPECT_FALSE(irqs_disabled());
    });
}

TEST(PreemptCountInTask, PreemptGuardEarlyRelease) {
    std::vector<std::uint32_t> seen;
    run_in_task([&] {
        {
            preempt_guard outer;
            {
                preempt_guard inner;
                seen.push_back(preempt_count());
            }
            seen.push_back(preempt_count());
            outer.release();
            seen.push_back(preempt_count());
            outer.release();  // a second release does nothing
            seen.push_back(preempt_count());
        }  // the destructor does nothing either
        seen.push_back(preempt_count());
    });
    EXPECT_EQ(seen, (std::vector<std::uint32_t>{2, 1, 0, 0, 0}));
}

TEST(PreemptCountInTask, IrqGuardNestsAndReleasesEarly) {
    run_in_task([] {
        {
            irq_guard outer;
            EXPECT_TRUE(irqs_disabled());
            {
                irq_guard inner;
                EXPECT_TRUE(irqs_disabled());
            }
            EXPECT_TRUE(irqs_disabled());  // the inner guard restored "off"
            outer.release();
            EXPECT_FALSE(irqs_disabled());
            local_irq_disable();
        }  // released already: the destructor must not re-enable
        EXPECT_TRUE(irqs_disabled());
        local_irq_enable();
        EXPECT_EQ(preempt_count(), 0u);
    });
}

TEST(PreemptCountInTask, SpinGuardDisablesPreemption) {
    std::vector<std::uint32_t> seen;
    run_in_task([&] {
        spinlock_t a;
        spinlock_t b;
        {
            spin_guard ga{a};
            seen.push_back(preempt_count());
            {
                spin_guard gb{b};
                seen.push_back(preempt_count());
                gb.release();
                seen.push_back(preempt_count());
            }  // gb's destructor: already released
            seen.push_back(preempt_count());
            EXPECT_FALSE(irqs_disabled());  // a plain spin_lock leaves irqs on
        }
        seen.push_back(preempt_count());
        {
            spin_irqsave_guard g{a};
            EXPECT_TRUE(irqs_disabled());
            seen.push_back(preempt_count());
        }
        EXPECT_FALSE(irqs_disabled());
        seen.push_back(preempt_count());
    });
    EXPECT_EQ(seen, (std::vector<std::uint32_t>{1, 2, 1, 1, 0, 1, 0}));
}

// The word is per CPU and holds the fold: a wakeup of a higher-priority task
// inside a preempt-disabled section clears bit 31, so the raw word reads as
// the bare count; the outermost enable then hits 0 and preempts (FULL).
TEST(PreemptCountInTask, WakeupFoldsNeedReschedIntoTheWord) {
    sim m({.nr_cpus = 1, .model = preempt_mode::full});
    switch_recorder rec;
    m.set_observer(&rec);
    task_struct& rt = m.spawn({.name = "rt", .policy = sched_policy::fifo, .priority = 10, .start_stopped = true},
                              [] {});
    std::uint32_t raw_before = 0, raw_after_wake = 0, raw_after_enable = 0;
    nsec_t rt_ran_before_enable = -2;
    m.spawn({.name = "t"}, [&] {
        burn(usecs(10));
        preempt_disable();
        raw_before = preempt_word_here().raw();
        wake_up_process(rt);
        raw_after_wake = preempt_word_here().raw();
        rt_ran_before_enable = rt.first_run;
        preempt_enable();  // switches to rt right here
        raw_after_enable = preempt_word_here().raw();
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(raw_before, 0x80000001u);
    EXPECT_EQ(raw_after_wake, 0x00000001u);  // count 1, reschedule pending
    EXPECT_EQ(rt_ran_before_enable, -1);
    EXPECT_EQ(raw_after_enable, PREEMPT_ENABLED);  // cleared by __schedule
    EXPECT_EQ(rt.first_run, usecs(10));
    const switch_record* s = rec.first_switch_to(rt.pid);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->point, preempt_point::preempt_enable);
    EXPECT_TRUE(s->preempt);
}

struct irq_observation {
    nsec_t time = -1;
    std::uint32_t count = 0;
    bool hardirq = false, interrupt = false, task = true, irqs_off = false, softirq = true;
    int level = -1;
};

irq_observation observe_irq(bool task_holds_preempt_disable) {
    sim m({.nr_cpus = 1});
    irq_observation o;
    m.request_irq(3, "dev", [&] {
        o.time = m.now();
        o.count = preempt_count();
        o.hardirq = in_hardirq();
        o.interrupt = in_interrupt();
        o.task = in_task();
        o.softirq = in_softirq();
        o.irqs_off = irqs_disabled();
        o.level = interrupt_context_level(preempt_count());
    });
    m.raise_irq(usecs(500), 0, 3);
    std::uint32_t after = 0xdead;
    m.spawn({.name = "t"}, [&] {
        syscall_section sys;
        if (task_holds_preempt_disable) preempt_disable();
        burn(msecs(1));
        after = preempt_count();
        if (task_holds_preempt_disable) preempt_enable();
    });
    EXPECT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(after, task_holds_preempt_disable ? 1u : 0u);  // irq_exit took its offset back
    return o;
}

TEST(PreemptCountInTask, DeviceIrqHandlerRunsInHardirqContext) {
    const irq_observation o = observe_irq(false);
    EXPECT_EQ(o.time, usecs(500));
    EXPECT_EQ(o.count, 0x10000u);  // HARDIRQ_OFFSET over the task's 0
    EXPECT_TRUE(o.hardirq);
    EXPECT_TRUE(o.interrupt);
    EXPECT_FALSE(o.task);
    EXPECT_FALSE(o.softirq);
    EXPECT_TRUE(o.irqs_off);  // handlers run with local irqs off
    EXPECT_EQ(o.level, 2);
}

TEST(PreemptCountInTask, IrqOffsetStacksOnTheInterruptedCount) {
    const irq_observation o = observe_irq(true);
    EXPECT_EQ(o.count, 0x10001u);
    EXPECT_TRUE(o.hardirq);
}

// CONFIG_DEBUG_PREEMPT: an unbalanced preempt_enable is reported with the
// kernel's text and not applied, so the count does not wrap to 0xff...
TEST(PreemptCountInTask, UnderflowIsReportedAndNotApplied) {
    sim m({.nr_cpus = 1});
    std::uint32_t after_bad_enable = 0xdead, after_balanced = 0xdead;
    std::uint32_t raw_after = 0;
    m.spawn({.name = "t"}, [&] {
        preempt_enable();  // no matching disable
        after_bad_enable = preempt_count();
        raw_after = preempt_word_here().raw();
        preempt_disable();
        preempt_enable();
        after_balanced = preempt_count();
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("DEBUG_LOCKS_WARN_ON(val > preempt_count())"), 1u);
    EXPECT_EQ(m.log().count("WARNING: CPU: 0 PID:"), 1u);
    EXPECT_EQ(after_bad_enable, 0u);
    EXPECT_EQ(raw_after, PREEMPT_ENABLED);  // neither count nor fold disturbed
    EXPECT_EQ(after_balanced, 0u);
}

// The second underflow check: decrementing the PREEMPT field when it is 0,
// although the whole count is not (bottom halves disabled here).
TEST(PreemptCountInTask, EnableWithOnlyBhDisabledIsReported) {
    sim m({.nr_cpus = 1});
    std::uint32_t after = 0;
    m.spawn({.name = "t"}, [&] {
        preempt_count_add(SOFTIRQ_DISABLE_OFFSET);
        preempt_enable();
        after = preempt_count();
        preempt_count_sub(SOFTIRQ_DISABLE_OFFSET);
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("DEBUG_LOCKS_WARN_ON(val > preempt_count())"), 0u);
    EXPECT_EQ(m.log().count("DEBUG_LOCKS_WARN_ON((val < PREEMPT_MASK) && !(preempt_count() & PREEMPT_MASK))"), 1u);
    EXPECT_EQ(after, SOFTIRQ_DISABLE_OFFSET);
}

// Near-overflow: the PREEMPT field reaching 0xff - 10 is reported.
TEST(PreemptCountInTask, NearOverflowIsReported) {
    sim m({.nr_cpus = 1});
    m.spawn({.name = "t"}, [&] {
        for (int i = 0; i < 0xff - 10; ++i) preempt_disable();
        for (int i = 0; i < 0xff - 10; ++i) preempt_enable_no_resched();
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("DEBUG_LOCKS_WARN_ON((preempt_count() & PREEMPT_MASK) >= PREEMPT_MASK - 10)"), 1u);
}

// The preempt tracer hooks itself into these checks (preempt_check_limits):
// while it is live every add and sub takes the out-of-line path. The checks
// still report what they report, and the softirq-sized offsets, which have
// no PREEMPT-field check to hook, are traced too.
TEST(PreemptCountInTask, ChecksHoldWhileThePreemptTracerHooksThem) {
    sim m({.nr_cpus = 1});
    m.kern().trace.enable(m.kern(), PREEMPT_TRACE_BITS);
    std::uint32_t after_bad_enable = 0xdead;
    m.spawn({.name = "t", .kthread = true}, [&] {
        preempt_enable();  // no matching disable
        after_bad_enable = preempt_count();
        burn(usecs(1));
        preempt_count_add(SOFTIRQ_DISABLE_OFFSET);  // count == val: an outermost disable
        burn(usecs(2));
        preempt_count_sub(SOFTIRQ_DISABLE_OFFSET);
        burn(usecs(3));
        for (int i = 0; i < 0xff - 10; ++i) preempt_disable();
        for (int i = 0; i < 0xff - 10; ++i) preempt_enable_no_resched();
    });
    ASSERT_EQ(m.run(secs(1)), sim_machine::stop_reason::all_exited);
    EXPECT_EQ(m.log().count("DEBUG_LOCKS_WARN_ON(val > preempt_count())"), 1u);
    EXPECT_EQ(m.log().count("DEBUG_LOCKS_WARN_ON((preempt_count() & PREEMPT_MASK) >= PREEMPT_MASK - 10)"), 1u);
    EXPECT_EQ(after_bad_enable, 0u);
    std::vector<std::pair<trace_event, nsec_t>> toggles;
    for (const trace_entry& e : m.kern().trace.ring(0)->entries())
        if (e.pid != 0 && e.time >= usecs(1)) toggles.emplace_back(e.type, e.time);
    const std::vector<std::pair<trace_event, nsec_t>> expected = {
        {trace_event::preempt_disable, usecs(1)}, {trace_event::preempt_enable, usecs(3)},
        {trace_event::preempt_disable, usecs(6)}, {trace_event::preempt_enable, usecs(6)}};
    ASSERT_GE(toggles.size(), expected.size());  // then the exit's own
    toggles.resize(expected.size());
    EXPECT_EQ(toggles, expected);
}

}  // namespace
}  // namespace kp
