// The tracepoints and per-CPU trace buffers: which events the core records,
// with which fields and context flags, at which virtual instants; enabling
// by event; overwriting with the overrun counted.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "kernel/trace/trace.h"
#include "kpreempt/kpreempt.h"
#include "test_util.h"

namespace kp {
namespace {

std::vector<trace_entry> of_type(const std::vector<trace_entry>& all, trace_event e) {
    std::vector<trace_entry> out;
    std::copy_if(all.begin(), all.end(), std::back_inserter(out), [e](const trace_entry& x) { return x.type == e; });
    return out;
}

// The seed diagram under FULL: the irq at 2.5 ms wakes TaskB, which
// preempts TaskA at the irq's exit, 2.6 ms.
TEST(Trace, SeedDiagramEvents) {
    sim m;
    m.kern().trace.enable(m.kern(), TRACE_ALL_EVENTS);
    const seed_diagram s = spawn_seed_diagram(m);
    m.run();
    const std::vector<trace_entry> all = m.kern().trace.ring(0)->entries();
    EXPECT_EQ(m.kern().trace.ring(0)->overrun(), 0u);
    EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                               [](const trace_entry& a, const trace_entry& b) { return a.time < b.time; }));

    const auto entry = of_type(all, trace_event::irq_handler_entry);
    ASSERT_EQ(entry.size(), 1u);
    EXPECT_EQ(entry[0].time, usecs(2500));
    EXPECT_EQ(entry[0].arg[0], 1);  // irq
    EXPECT_EQ(entry[0].pid, s.a.pid);
    EXPECT_EQ(entry[0].flags, TRACE_FLAG_IRQS_OFF | TRACE_FLAG_HARDIRQ);

    const auto wakeups = of_type(all, trace_event::sched_wakeup);
    ASSERT_FALSE(wakeups.empty());
    const auto b_wakeup = std::find_if(wakeups.begin(), wakeups.end(), [&](const trace_entry& e) { return e.arg[0] == s.b.pid; });
    ASSERT_NE(b_wakeup, wakeups.end());
    EXPECT_EQ(b_wakeup->time, usecs(2600));
    EXPECT_EQ(b_wakeup->arg[1], 49);  // prio: MAX_RT_PRIO - 1 - 50
    // From the hardirq, with the waker's need-resched now set.
    EXPECT_TRUE(b_wakeup->flags & TRACE_FLAG_HARDIRQ);

    const auto switches = of_type(all, trace_event::sched_switch);
    const auto to_b = std::find_if(switches.begin(), switches.end(), [&](const trace_entry& e) { return e.arg[3] == s.b.pid; });
    ASSERT_NE(to_b, switches.end());
    EXPECT_EQ(to_b->time, usecs(2600));
    EXPECT_EQ(to_b->arg[0], s.a.pid);
    EXPECT_EQ(to_b->arg[2], TRACE_STATE_PREEMPTED);  // "R+"
    EXPECT_EQ(to_b->arg[4], 49);

    const auto taken = of_type(all, trace_event::kpreempt_preempt);
    const auto at_irq = std::find_if(taken.begin(), taken.end(), [&](const trace_entry& e) { return e.arg[3] == s.b.pid; });
    ASSERT_NE(at_irq, taken.end());
    EXPECT_EQ(at_irq->arg[0], static_cast<int>(preempt_point::irq_exit));
    EXPECT_EQ(at_irq->arg[1], static_cast<int>(preempt_mode::full));

    const auto exits = of_type(all, trace_event::sched_process_exit);
    EXPECT_EQ(exits.size(), 2u);
}

// Only the enabled events are recorded; the preemptirq events mark the
// outermost transitions only.
TEST(Trace, EnabledEventsOnlyAndOutermostPreemptToggles) {
    sim m;
    m.kern().trace.enable(m.kern(), trace_bit(trace_event::preempt_disable) | trace_bit(trace_event::preempt_enable));
    m.spawn({.name = "t", .kthread = true}, [] {
        preempt_disable();
        preempt_disable();  // nested: no event
        burn(usecs(10));
        preempt_enable();
        preempt_enable();
    });
    m.run();
    const std::vector<trace_entry> all = m.kern().trace.ring(0)->entries();
    std::vector<trace_event> types;
    for (const trace_entry& e : all) types.push_back(e.type);
    ASSERT_GE(all.size(), 2u);
    for (const trace_entry& e : all)
        EXPECT_TRUE(e.type == trace_event::preempt_disable || e.type == trace_event::preempt_enable);
    // The task's own pair: disable at 0 with depth 1, enable at 10 us.
    const auto first_off = std::find_if(all.begin(), all.end(), [](const trace_entry& e) {
        return e.type == trace_event::preempt_disable && e.time == 0 && e.pid != 0;
    });
    ASSERT_NE(first_off, all.end());
    EXPECT_EQ(first_off->preempt, 1);
    const auto on = std::find_if(all.begin(), all.end(), [](const trace_entry& e) {
        return e.type == trace_event::preempt_enable && e.time == usecs(10);
    });
    EXPECT_NE(on, all.end());
}

// A full ring overwrites its oldest entries and counts them: ten sleeps'
// timers and the tick's at 1 ms make 11 expiries for 4 slots.
TEST(Trace, OverwritesOldestAndCountsTheOverrun) {
    sim m;
    m.kern().trace.enable(m.kern(), trace_bit(trace_event::hrtimer_expire_entry), 4);
    m.spawn({.name = "t", .kthread = true}, [] {
        for (int i = 0; i < 10; ++i) hrtimer_sleep(usecs(100));
    });
    m.run();
    const trace_ring& r = *m.kern().trace.ring(0);
    EXPECT_EQ(r.written(), 11u);
    EXPECT_EQ(r.in_buffer(), 4u);
    EXPECT_EQ(r.overrun(), 7u);
    const std::vector<trace_entry> kept = r.entries();
    ASSERT_EQ(kept.size(), 4u);
    EXPECT_EQ(kept.front().time, usecs(800));
    EXPECT_EQ(kept.back().time, usecs(1000));
}

TEST(Trace, EventNames) {
    EXPECT_EQ(trace_event_name(trace_event::sched_switch), "sched_switch");
    EXPECT_EQ(trace_event_by_name("softirq_raise"), trace_event::softirq_raise);
    EXPECT_EQ(trace_event_by_name("kpreempt_nr_running"), trace_event::kpreempt_nr_running);
    EXPECT_EQ(trace_event_by_name("nonsense"), trace_event::nr_events);
}

}  // namespace
}  // namespace kp
