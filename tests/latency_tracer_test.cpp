// The latency tracers (irqsoff, preemptoff, preemptirqsoff, wakeup,
// wakeup_rt): which window each measures, at exact virtual times; the
// max and threshold rules; the snapshot of the window; the report's
// latency-format header and lines; the command line.
// (No std::regex: g++ 12 warns inside it under the sanitizers.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "cli_util.h"
#include "kernel/trace/latency_tracer.h"
#include "kernel/trace/trace_irqsoff.h"
#include "kernel/trace/trace_sched_wakeup.h"
#include "kpreempt/kpreempt.h"
#include "test_util.h"
#include "tracing/latency_format.h"
#include "workload/runner.h"

namespace kp {
namespace {

std::unique_ptr<latency_tracer> attached(sim& m, std::string_view name, nsec_t thresh = 0) {
    std::unique_ptr<latency_tracer> t = make_latency_tracer(name);
    EXPECT_NE(t, nullptr) << name;
    t->set_tracing_thresh(thresh);
    t->attach(m.kern());
    return t;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) out.push_back(l);
    return out;
}

// The lines after the column legend (whose last line starts "#     \").
std::vector<std::string> trace_lines(const std::string& report) {
    std::vector<std::string> out;
    bool in_body = false;
    for (const std::string& l : lines_of(report)) {
        if (in_body) out.push_back(l);
        if (l.starts_with("#     \\")) in_body = true;
    }
    return out;
}

// The one snapshot of max mode (an empty one, and a failure, if none).
const latency_snapshot& only_snapshot(const latency_tracer& t) {
    static const latency_snapshot none{.entries = std::vector<latency_entry>(2)};
    EXPECT_EQ(t.snapshots().size(), 1u) << t.name();
    return t.snapshots().empty() ? none : t.snapshots().front();
}

// Three irqs-off sections of 100, 300 and 200 us, 50 us apart, after 10 us.
void irq_sections(sim& m) {
    m.spawn({.name = "irqs", .kthread = true}, [] {
        burn(usecs(10));
        for (nsec_t len : {usecs(100), usecs(300), usecs(200)}) {
            local_irq_disable();
            burn(len);
            local_irq_enable();
            burn(usecs(50));
        }
    });
}

TEST(LatencyTracer, IrqsoffCatchesTheLongestSection) {
    sim m;
    auto t = attached(m, "irqsoff");
    irq_sections(m);
    m.run();
    EXPECT_EQ(t->tracing_max_latency(), usecs(300));
    const latency_snapshot& s = only_snapshot(*t);
    EXPECT_EQ(s.latency, usecs(300));
    EXPECT_EQ(s.time_start, usecs(160));  // 10 + 100 + 50
    EXPECT_EQ(s.cpu, 0);
    EXPECT_EQ(s.comm, "irqs");
    // The window: from its irq_disable to its irq_enable, nothing between.
    ASSERT_EQ(s.entries.size(), 2u);
    EXPECT_EQ(s.written, 2u);
    EXPECT_EQ(s.entries.front().e.type, trace_event::irq_disable);
    EXPECT_EQ(s.entries.front().e.time, usecs(160));
    EXPECT_EQ(s.entries.back().e.type, trace_event::irq_enable);
    EXPECT_EQ(s.entries.back().e.time, usecs(460));
    EXPECT_EQ(s.critical_start, s.entries.front().e.arg[0]);
    EXPECT_EQ(s.critical_end, s.entries.back().e.arg[0]);
    EXPECT_NE(s.critical_start, 0);
}

// A preempt-disabled section with irqs masked inside it: preemptoff alone
// ignores the masking (trace_type has no TRACER_IRQS_OFF), irqsoff sees
// only the masking.
TEST(LatencyTracer, PreemptoffCatchesTheLongestPreemptDisabledSection) {
    for (std::string_view name : {"preemptoff", "irqsoff"}) {
        sim m;
        auto t = attached(m, name);
        m.spawn({.name = "p", .kthread = true}, [] {
            burn(usecs(10));
            preempt_disable();
            burn(usecs(100));
            preempt_enable();  // 10..110: 100 us
            burn(usecs(50));
            preempt_disable();  // 160
            burn(usecs(250));
            local_irq_disable();  // 410
            burn(usecs(120));
            local_irq_enable();  // 530
            burn(usecs(30));
            preempt_enable();  // 560: 400 us
        });
        m.run();
        const latency_snapshot& s = only_snapshot(*t);
        if (name == "preemptoff") {
            EXPECT_EQ(t->tracing_max_latency(), usecs(400));
            EXPECT_EQ(s.time_start, usecs(160));
            EXPECT_EQ(s.entries.front().e.type, trace_event::preempt_disable);
            EXPECT_EQ(s.entries.back().e.type, trace_event::preempt_enable);
            EXPECT_EQ(s.entries.back().e.time, usecs(560));
            // The masking inside is part of the window's trace.
            EXPECT_EQ(s.entries.size(), 4u);
        } else {
            EXPECT_EQ(t->tracing_max_latency(), usecs(120));
            EXPECT_EQ(s.time_start, usecs(410));
        }
    }
}

// Overlapping sections: irqs masked at 10, preemption disabled at 60, irqs
// unmasked at 160, preemption enabled at 360.
TEST(LatencyTracer, PreemptirqsoffTimesTheUnion) {
    const std::pair<std::string_view, std::pair<nsec_t, nsec_t>> expected[] = {
        {"irqsoff", {usecs(10), usecs(150)}},
        {"preemptoff", {usecs(60), usecs(300)}},
        {"preemptirqsoff", {usecs(10), usecs(350)}},
    };
    for (const auto& [name, window] : expected) {
        sim m;
        auto t = attached(m, name);
        m.spawn({.name = "u", .kthread = true}, [] {
            burn(usecs(10));
            local_irq_disable();
            burn(usecs(50));
            preempt_disable();
            burn(usecs(100));
            local_irq_enable();
            burn(usecs(200));
            preempt_enable();
        });
        m.run();
        const latency_snapshot& s = only_snapshot(*t);
        EXPECT_EQ(s.time_start, window.first) << name;
        EXPECT_EQ(t->tracing_max_latency(), window.second) << name;
    }
}

// The other way round: preemption disabled first and enabled while irqs are
// still masked. preemptirqsoff's window ends at the irq_enable.
TEST(LatencyTracer, PreemptirqsoffEndsWhenBothAreEnabled) {
    const std::pair<std::string_view, std::pair<nsec_t, trace_event>> expected[] = {
        {"irqsoff", {usecs(200), trace_event::irq_enable}},
        {"preemptoff", {usecs(200), trace_event::preempt_enable}},
        {"preemptirqsoff", {usecs(300), trace_event::irq_enable}},
    };
    for (const auto& [name, want] : expected) {
        sim m;
        auto t = attached(m, name);
        m.spawn({.name = "u", .kthread = true}, [] {
            burn(usecs(10));
            preempt_disable();  // 10
            burn(usecs(100));
            local_irq_disable();  // 110
            burn(usecs(100));
            preempt_enable();  // 210, irqs still off
            burn(usecs(100));
            local_irq_enable();  // 310
        });
        m.run();
        const latency_snapshot& s = only_snapshot(*t);
        EXPECT_EQ(t->tracing_max_latency(), want.first) << name;
        EXPECT_EQ(s.entries.back().e.type, want.second) << name;
    }
}

// With tracing_thresh set, every window of at least the threshold is
// recorded, and tracing_max_latency is the latest (as Linux's).
TEST(LatencyTracer, ThresholdRecordsEachSectionAboveIt) {
    sim m;
    auto t = attached(m, "irqsoff", usecs(200));
    irq_sections(m);
    m.run();
    ASSERT_EQ(t->snapshots().size(), 2u);
    EXPECT_EQ(t->snapshots()[0].latency, usecs(300));
    EXPECT_EQ(t->snapshots()[0].time_start, usecs(160));
    EXPECT_EQ(t->snapshots()[1].latency, usecs(200));  // >= thresh: counts
    EXPECT_EQ(t->snapshots()[1].time_start, usecs(510));
    EXPECT_EQ(t->tracing_max_latency(), usecs(200));
    // Both print, one block each.
    const std::string r = t->report(m.kern());
    EXPECT_NE(r.find("# latency: 300 us"), std::string::npos) << r;
    EXPECT_NE(r.find("# latency: 200 us"), std::string::npos) << r;
}

// The idle loop's wait (with interrupts enabled behind the tracer's back,
// as hlt does) is not a latency: stop/start_critical_timings.
TEST(LatencyTracer, IdleWaitIsNotALatency) {
    for (std::string_view name : {"irqsoff", "preemptoff", "preemptirqsoff"}) {
        sim m;
        auto t = attached(m, name);
        m.spawn({.name = "sleeper"}, [] {
            burn(usecs(10));
            for (int i = 0; i < 3; ++i) {
                syscall_section sys;
                hrtimer_sleep(msecs(5));
            }
        });
        m.run();
        EXPECT_LT(t->tracing_max_latency(), usecs(1)) << name << "\n" << t->report(m.kern());
    }
}

// An interrupt is an irqs-off window of its own: masked on delivery until
// the return from handle_arch_irq.
TEST(LatencyTracer, IrqsoffSeesAnInterruptHandler) {
    sim m;
    auto t = attached(m, "irqsoff");
    m.spawn({.name = "busy", .kthread = true}, [] { burn(usecs(500)); });
    m.request_irq(3, "dev", [] { burn(usecs(70)); });
    m.raise_irq(usecs(200), 0, 3);
    m.run();
    EXPECT_EQ(t->tracing_max_latency(), usecs(70));
    const latency_snapshot& s = only_snapshot(*t);
    EXPECT_EQ(s.time_start, usecs(200));
    bool saw_handler = false;
    for (const latency_entry& x : s.entries) saw_handler |= x.e.type == trace_event::irq_handler_entry;
    EXPECT_TRUE(saw_handler);
}

// The seed diagram: TaskB (FIFO 50) is woken at 2.6 ms by an interrupt that
// hit TaskA's syscall. It runs at the syscall's end under NONE (11.1 ms),
// at the next might_sleep() under VOLUNTARY (3.1 ms), at the irq's exit
// under FULL (at once, or after the irq exit's cost).
nsec_t seed_wakeup_latency(preempt_mode mode, std::string_view tracer, nsec_t irq_exit_cost = 0) {
    kernel_config cfg{.model = mode};
    cfg.costs.irq_exit = irq_exit_cost;
    sim m(cfg);
    auto t = attached(m, tracer);
    const seed_diagram s = spawn_seed_diagram(m);
    m.run();
    if (t->snapshots().empty()) return 0;
    const latency_snapshot& snap = t->snapshots().front();
    EXPECT_EQ(snap.pid, s.b.pid);
    EXPECT_EQ(snap.comm, "TaskB");
    EXPECT_EQ(snap.policy, 1);  // SCHED_FIFO
    EXPECT_EQ(snap.rt_priority, 50);
    return t->tracing_max_latency();
}

TEST(LatencyTracer, WakeupRtIsTheRestOfTheSyscallUnderNone) {
    EXPECT_EQ(seed_wakeup_latency(preempt_mode::none, "wakeup_rt"), usecs(11100) - usecs(2600));
    EXPECT_EQ(seed_wakeup_latency(preempt_mode::voluntary, "wakeup_rt"), usecs(3100) - usecs(2600));
    EXPECT_EQ(seed_wakeup_latency(preempt_mode::full, "wakeup_rt"), 0);
    EXPECT_EQ(seed_wakeup_latency(preempt_mode::full, "wakeup_rt", usecs(4)), usecs(4));
    // TaskB is the highest-priority wakee of the run: wakeup agrees.
    EXPECT_EQ(seed_wakeup_latency(preempt_mode::none, "wakeup"), usecs(11100) - usecs(2600));
}

TEST(LatencyTracer, WakeupWindowIsFramedByTheTracersOwnEntries) {
    sim m({.model = preempt_mode::none});
    auto t = attached(m, "wakeup_rt");
    const seed_diagram sd = spawn_seed_diagram(m);
    m.run();
    const latency_snapshot& s = only_snapshot(*t);
    ASSERT_GE(s.entries.size(), 2u);
    const latency_entry& w = s.entries.front();
    EXPECT_EQ(w.kind, latency_entry_kind::wakeup);
    EXPECT_EQ(w.e.time, usecs(2600));
    EXPECT_EQ(w.cw.prev_pid, sd.a.pid);  // the interrupted task is the waker
    EXPECT_EQ(w.cw.prev_prio, 120);
    EXPECT_EQ(w.cw.next_pid, sd.b.pid);
    EXPECT_EQ(w.cw.next_prio, 49);
    const latency_entry& c = s.entries.back();
    EXPECT_EQ(c.kind, latency_entry_kind::context_switch);
    EXPECT_EQ(c.e.time, usecs(11100));
    EXPECT_EQ(c.cw.prev_pid, sd.a.pid);
    EXPECT_EQ(c.cw.next_pid, sd.b.pid);
    // Between them, what CPU 0 did: the ticks, at least.
    int ticks = 0;
    for (const latency_entry& x : s.entries) ticks += x.e.type == trace_event::hrtimer_expire_entry;
    EXPECT_GE(ticks, 8);
}

// The replacement rule: a wakee replaces the tracked one only with a
// higher priority (lower prio) than it and than the waker; wakeup_rt
// ignores fair tasks. A kthread (prio 120, never preempted under NONE)
// wakes one or two of rt10, rt50, a nice -10 and a nice 0 task 100 us
// apart, then sleeps at 300 us; the woken run in priority order, 10 us each.
nsec_t wake_two(std::string_view tracer, const char* first, const char* second) {
    sim m({.model = preempt_mode::none});
    auto t = attached(m, tracer);
    std::map<std::string, task_struct*> wakee;
    wakee["rt10"] = &m.spawn({.name = "rt10", .policy = sched_policy::fifo, .priority = 10, .start_stopped = true},
                             [] { burn(usecs(10)); });
    wakee["rt50"] = &m.spawn({.name = "rt50", .policy = sched_policy::fifo, .priority = 50, .start_stopped = true},
                             [] { burn(usecs(10)); });
    wakee["fair"] = &m.spawn({.name = "fair", .nice = -10, .start_stopped = true}, [] { burn(usecs(10)); });
    wakee["fair0"] = &m.spawn({.name = "fair0", .start_stopped = true}, [] { burn(usecs(10)); });
    task_struct& a = *wakee.at(first);
    task_struct* b = second ? wakee.at(second) : nullptr;
    m.spawn({.name = "waker", .kthread = true}, [&] {
        burn(usecs(100));
        wake_up_process(a);  // 100
        burn(usecs(100));
        if (b) wake_up_process(*b);  // 200
        burn(usecs(100));
        hrtimer_sleep(msecs(1));  // 300: the woken run
    });
    m.run(msecs(2));  // the tasks never woken never end
    return t->tracing_max_latency();
}

TEST(LatencyTracer, WakeupTracksTheHighestPriorityWakee) {
    // rt50 replaces rt10: rt50 runs at 300, 100 us after its wakeup (rt10,
    // had it stayed tracked, would count 210 us).
    EXPECT_EQ(wake_two("wakeup_rt", "rt10", "rt50"), usecs(100));
    // rt10 does not replace rt50: 200 us (not rt10's 110).
    EXPECT_EQ(wake_two("wakeup_rt", "rt50", "rt10"), usecs(200));
    // wakeup tracks a fair wakee of higher priority than the waker, and
    // an RT one replaces it.
    EXPECT_EQ(wake_two("wakeup", "fair", "rt10"), usecs(100));
    EXPECT_EQ(wake_two("wakeup", "rt10", "fair"), usecs(200));
    // wakeup_rt never tracks the fair one: only rt10's 100 us.
    EXPECT_EQ(wake_two("wakeup_rt", "rt10", "fair"), usecs(200));
    EXPECT_EQ(wake_two("wakeup_rt", "fair", "rt10"), usecs(100));
    EXPECT_EQ(wake_two("wakeup", "fair", nullptr), usecs(200));
    EXPECT_EQ(wake_two("wakeup_rt", "fair", nullptr), 0);
    // A wakee no higher than its waker (both prio 120) is not tracked.
    EXPECT_EQ(wake_two("wakeup", "fair0", nullptr), 0);
}

// The report: header lines in the kernel's format, with this window's
// numbers, then one latency-format line per entry.
TEST(LatencyTracer, IrqsoffReportHeaderAndLines) {
    sim m;
    auto t = attached(m, "irqsoff");
    irq_sections(m);
    m.run();
    const std::string r = t->report(m.kern());
    const std::vector<std::string> l = lines_of(r);
    ASSERT_GE(l.size(), 12u) << r;
    EXPECT_EQ(l[0], "# tracer: irqsoff");
    EXPECT_EQ(l[1], "#");
    EXPECT_EQ(l[2], "# irqsoff latency trace v1.1.5 on 6.12.0-kpreempt");
    EXPECT_EQ(l[3], "# " + std::string(68, '-'));
    // Each line is parsed with its format, then printed back with it: the
    // same text means the same format.
    unsigned long latency = 0, kept = 0, written = 0;
    int cpu = -1, nr_cpus = 0;
    char model[16] = {};
    constexpr const char* latency_fmt = "# latency: %lu us, #%lu/%lu, CPU#%d | (M:%s VP:0, KP:0, SP:0 HP:0 #P:%d)";
    ASSERT_EQ(std::sscanf(l[4].c_str(), "# latency: %lu us, #%lu/%lu, CPU#%d | (M:%15[a-z_] VP:0, KP:0, SP:0 HP:0 #P:%d)",
                          &latency, &kept, &written, &cpu, model, &nr_cpus),
              6)
        << l[4];
    char back[256];
    std::snprintf(back, sizeof back, latency_fmt, latency, kept, written, cpu, model, nr_cpus);
    EXPECT_EQ(l[4], back);
    EXPECT_EQ(latency, 300u);
    EXPECT_EQ(kept, 2u);
    EXPECT_EQ(written, 2u);
    EXPECT_EQ(cpu, 0);
    EXPECT_STREQ(model, "preempt");
    EXPECT_EQ(nr_cpus, 1);
    EXPECT_EQ(l[5], "#    -----------------");
    char comm[17] = {};
    int pid = 0, uid = -1;
    long nice = -99, policy = -1, rt_prio = -1;
    ASSERT_EQ(std::sscanf(l[6].c_str(), "#    | task: %16[^-]-%d (uid:%d nice:%ld policy:%ld rt_prio:%ld)", comm, &pid,
                          &uid, &nice, &policy, &rt_prio),
              6)
        << l[6];
    std::snprintf(back, sizeof back, "#    | task: %.16s-%d (uid:%d nice:%ld policy:%ld rt_prio:%ld)", comm, pid, uid,
                  nice, policy, rt_prio);
    EXPECT_EQ(l[6], back);
    EXPECT_STREQ(comm, "irqs");
    EXPECT_EQ(nice, 0);
    EXPECT_EQ(policy, 0);
    EXPECT_EQ(l[7], "#    -----------------");
    auto one_word_after = [](const std::string& line, const std::string& prefix) {
        return line.starts_with(prefix) && line.size() > prefix.size() &&
               line.find(' ', prefix.size()) == std::string::npos;
    };
    EXPECT_TRUE(one_word_after(l[8], "#  => started at: ")) << l[8];
    EXPECT_TRUE(one_word_after(l[9], "#  => ended at:   ")) << l[9];
    EXPECT_EQ(l[10], "#");
    EXPECT_EQ(l[11], "#");
    const std::vector<std::string> body = trace_lines(r);
    ASSERT_EQ(body.size(), 2u) << r;
    // "%8.8s-%-7d %3d" + 5 flags + " %4lldus%c: " + event: 35 columns
    // before the event while the time has at most four digits.
    struct lat_line {
        std::string comm, flags, event;
        int pid = -1, cpu = -1;
        long long us = -1;
        char mark = '?';
    };
    auto parse = [](const std::string& line) {
        lat_line x;
        if (line.size() < 36 || line[8] != '-') return x;
        x.comm = line.substr(0, 8);
        x.pid = std::atoi(line.substr(9, 7).c_str());
        x.cpu = std::atoi(line.substr(17, 3).c_str());
        x.flags = line.substr(20, 5);
        x.us = std::atoll(line.substr(25, 5).c_str());
        x.mark = line[32];
        x.event = line.substr(35, line.find(':', 35) - 35);
        char head[96];
        std::snprintf(head, sizeof head, "%8.8s-%-7d %3d%s %4lldus%c: ", x.comm.c_str(), x.pid, x.cpu, x.flags.c_str(),
                      x.us, x.mark);
        if (line.compare(0, 35, head) != 0) x.event = "<format mismatch>";
        return x;
    };
    const lat_line first = parse(body[0]), last = parse(body[1]);
    EXPECT_EQ(first.comm, "    irqs") << body[0];
    EXPECT_EQ(first.pid, pid);
    EXPECT_EQ(first.cpu, 0);
    EXPECT_EQ(first.flags, "d....");
    EXPECT_EQ(first.us, 0);
    EXPECT_EQ(first.mark, '!');  // 300 us to the next entry
    EXPECT_EQ(first.event, "irq_disable") << body[0];
    EXPECT_EQ(last.us, 300);
    EXPECT_EQ(last.mark, ' ');
    EXPECT_EQ(last.event, "irq_enable") << body[1];
}

TEST(LatencyTracer, WakeupReportHasNoStartedAtAndPrintsCtxwakeLines) {
    sim m({.model = preempt_mode::none});
    auto t = attached(m, "wakeup_rt");
    const seed_diagram sd = spawn_seed_diagram(m);
    m.run();
    const std::string r = t->report(m.kern());
    const std::vector<std::string> l = lines_of(r);
    ASSERT_GE(l.size(), 10u);
    EXPECT_EQ(l[2], "# wakeup_rt latency trace v1.1.5 on 6.12.0-kpreempt");
    EXPECT_TRUE(l[4].starts_with("# latency: 8500 us, #")) << l[4];
    EXPECT_NE(l[4].find("(M:server VP:0"), std::string::npos) << l[4];
    EXPECT_EQ(l[6], "#    | task: TaskB-" + std::to_string(sd.b.pid) + " (uid:0 nice:0 policy:1 rt_prio:50)");
    EXPECT_EQ(r.find("started at"), std::string::npos);
    const std::vector<std::string> body = trace_lines(r);
    ASSERT_GE(body.size(), 2u);
    char want[128];
    std::snprintf(want, sizeof want, "    0us :  %7d:%3d:R   + [000] %7d:%3d:R TaskB", sd.a.pid, 120, sd.b.pid, 49);
    EXPECT_NE(body.front().find(want), std::string::npos) << body.front();
    EXPECT_TRUE(body.front().starts_with("   TaskA-")) << body.front();
    std::snprintf(want, sizeof want, " 8500us :  %7d:%3d:R ==> [000] %7d:%3d:R TaskB", sd.a.pid, 120, sd.b.pid, 49);
    EXPECT_NE(body.back().find(want), std::string::npos) << body.back();
}

TEST(LatencyTracer, WindowKeepsTheLatestEntriesAndCountsAll) {
    sim m;
    irqsoff_tracer t(irqsoff_tracer::irqs_off, TRACE_ALL_EVENTS, 2);
    t.attach(m.kern());
    m.spawn({.name = "w", .kthread = true}, [] {
        burn(usecs(10));
        local_irq_disable();
        preempt_disable();  // traced: 0 -> 1
        burn(usecs(10));
        preempt_enable();
        burn(usecs(10));
        local_irq_enable();
    });
    m.run();
    const latency_snapshot& s = only_snapshot(t);
    EXPECT_EQ(s.written, 4u);
    ASSERT_EQ(s.entries.size(), 2u);
    EXPECT_EQ(s.entries[0].e.type, trace_event::preempt_enable);
    EXPECT_EQ(s.entries[1].e.type, trace_event::irq_enable);
    EXPECT_NE(t.report(m.kern()).find("# latency: 20 us, #2/4, CPU#0"), std::string::npos);
}

TEST(LatencyTracer, NothingMeasuredPrintsTheTracerLineOnly) {
    sim m;
    auto t = attached(m, "wakeup_rt");
    m.spawn({.name = "fair"}, [] { burn(usecs(10)); });
    m.run();
    EXPECT_EQ(t->report(m.kern()), "# tracer: wakeup_rt\n#\n");
    EXPECT_EQ(t->tracing_max_latency(), 0);
}

TEST(LatencyTracer, NamesAndMarks) {
    for (std::string_view n : latency_tracer_names()) {
        auto t = make_latency_tracer(n);
        ASSERT_NE(t, nullptr);
        EXPECT_EQ(t->name(), n);
    }
    EXPECT_EQ(make_latency_tracer("function"), nullptr);
    EXPECT_EQ(trace_find_mark(usecs(10)), ' ');
    EXPECT_EQ(trace_find_mark(usecs(11)), '+');
    EXPECT_EQ(trace_find_mark(usecs(101)), '!');
    EXPECT_EQ(trace_find_mark(msecs(2)), '#');
    EXPECT_EQ(trace_find_mark(msecs(11)), '*');
    EXPECT_EQ(trace_find_mark(msecs(101)), '@');
    EXPECT_EQ(trace_find_mark(secs(2)), '$');
    EXPECT_EQ(latency_model_name(preempt_mode::none), "server");
    EXPECT_EQ(latency_model_name(preempt_mode::voluntary), "desktop");
    EXPECT_EQ(latency_model_name(preempt_mode::full), "preempt");
}

// Detached, the tracer sees nothing more.
TEST(LatencyTracer, DetachStopsMeasuring) {
    sim m;
    auto t = attached(m, "irqsoff");
    t->detach();
    irq_sections(m);
    m.run();
    EXPECT_EQ(t->tracing_max_latency(), 0);
    EXPECT_TRUE(t->snapshots().empty());
}

// Through run_workload: the tracer's maximum is the workload statistics'
// longest wakeup latency of the RT task (both from its wakeup to its
// switch-in), and the report comes back in the result.
TEST(LatencyTracer, RunWorkloadAgreesWithTheWakeupStatistics) {
    const workload::workload w = workload::load_workload(std::string(KP_SOURCE_DIR) + "/examples/rt-vs-kernel-hog.json");
    workload::run_options opt;
    opt.model = preempt_mode::none;
    opt.latency_tracer = "wakeup_rt";
    const workload::run_result r = workload::run_workload(w, opt);
    nsec_t rt_max = 0;
    for (const workload::task_result& t : r.tasks)
        if (t.policy == "SCHED_FIFO") rt_max = std::max(rt_max, t.wakeup_latency.max);
    EXPECT_GT(rt_max, msecs(1));
    EXPECT_EQ(r.tracing_max_latency, rt_max);
    EXPECT_NE(r.latency_report.find("# latency: " + std::to_string(rt_max / 1000) + " us"), std::string::npos)
        << r.latency_report;
    opt.latency_tracer = "nonsense";
    EXPECT_THROW(workload::run_workload(w, opt), workload::workload_error);
}

using kp_test::cli_result;
cli_result kpreempt_cli(const std::string& args) { return kp_test::run_kpreempt(args); }

const std::string seed_file = std::string(KP_SOURCE_DIR) + "/examples/seed-diagram.json";

TEST(LatencyTracerCli, RunPrintsTheReportAfterTheSummary) {
    const cli_result r = kpreempt_cli("run " + seed_file + " --model none --latency-tracer wakeup_rt");
    ASSERT_EQ(r.status, 0) << r.out;
    const std::size_t summary = r.out.find("TaskB");
    const std::size_t report = r.out.find("# tracer: wakeup_rt\n#\n# wakeup_rt latency trace v1.1.5 on 6.12.0-kpreempt\n");
    ASSERT_NE(report, std::string::npos) << r.out;
    EXPECT_LT(summary, report);
    EXPECT_NE(r.out.find("# latency: 8500 us, #"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("(M:server VP:0, KP:0, SP:0 HP:0 #P:1)"), std::string::npos) << r.out;
}

TEST(LatencyTracerCli, CompareWritesOneReportPerModel) {
    const std::string file = testing::TempDir() + "/latency-compare.txt";
    const cli_result r =
        kpreempt_cli("compare " + seed_file + " --latency-tracer wakeup_rt --latency-report " + file);
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(r.out.find("# tracer:"), std::string::npos);  // in the file, not on stdout
    FILE* f = std::fopen(file.c_str(), "rb");
    ASSERT_NE(f, nullptr);
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
    std::vector<std::string> tracers, latencies;
    for (const std::string& l : lines_of(text)) {
        if (l.starts_with("# tracer: ")) tracers.push_back(l);
        if (l.starts_with("# latency: ")) latencies.push_back(l.substr(0, l.find(',')));
    }
    EXPECT_EQ(tracers.size(), 3u) << text;  // none, voluntary, full (nothing to report)
    EXPECT_EQ(latencies, (std::vector<std::string>{"# latency: 8500 us", "# latency: 500 us"})) << text;
}

TEST(LatencyTracerCli, ThresholdAndErrors) {
    const cli_result thresh = kpreempt_cli("run " + seed_file + " --latency-tracer irqsoff --tracing-thresh 50");
    ASSERT_EQ(thresh.status, 0) << thresh.out;
    EXPECT_NE(thresh.out.find("# latency: 100 us"), std::string::npos) << thresh.out;  // the device's handler
    const cli_result unknown = kpreempt_cli("run " + seed_file + " --latency-tracer function");
    EXPECT_EQ(unknown.status, 2);
    EXPECT_NE(unknown.out.find("unknown tracer 'function' (irqsoff, preemptoff, preemptirqsoff, wakeup, wakeup_rt)"),
              std::string::npos)
        << unknown.out;
    EXPECT_EQ(kpreempt_cli("run " + seed_file + " --tracing-thresh 10").status, 2);
    EXPECT_EQ(kpreempt_cli("run " + seed_file + " --latency-report x.txt").status, 2);
}

}  // namespace
}  // namespace kp
