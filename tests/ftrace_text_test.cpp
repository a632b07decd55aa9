// The pieces of an ftrace text line: the latency flag columns, the
// context prefix, each event's fields (Linux 6.12's TP_printk formats), the
// symbolic and numbered pointers, the event lists the CLI takes, and the
// merge of the CPUs' buffers.
#include <gtest/gtest.h>

#include <exception>
#include <string>

#include "kernel/kernel.h"
#include "kernel/sched/task.h"
#include "kpreempt/kpreempt.h"
#include "tracing/event_list.h"
#include "tracing/ftrace_text.h"

namespace kp {
namespace {

trace_entry entry_with(std::uint8_t flags, std::uint8_t preempt = 0) {
    trace_entry e;
    e.flags = flags;
    e.preempt = preempt;
    return e;
}

TEST(FtraceFlags, IrqsOffAndBottomHalvesColumn) {
    EXPECT_EQ(format_trace_flags(entry_with(0)), ".....");
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_IRQS_OFF))[0], 'd');
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_BH_OFF))[0], 'b');
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_IRQS_OFF | TRACE_FLAG_BH_OFF))[0], 'D');
}

TEST(FtraceFlags, NeedReschedColumnHasTheLazyLetters) {
    constexpr std::uint8_t N = TRACE_FLAG_NEED_RESCHED, L = TRACE_FLAG_NEED_RESCHED_LAZY,
                           P = TRACE_FLAG_PREEMPT_RESCHED;
    const std::pair<std::uint8_t, char> table[] = {{N | L | P, 'B'}, {N | P, 'N'}, {L | P, 'L'}, {N | L, 'b'},
                                                   {N, 'n'},         {P, 'p'},     {L, 'l'},     {0, '.'}};
    for (const auto& [flags, c] : table) EXPECT_EQ(format_trace_flags(entry_with(flags))[1], c) << int(flags);
}

TEST(FtraceFlags, ContextColumn) {
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_NMI | TRACE_FLAG_HARDIRQ))[2], 'Z');
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_NMI))[2], 'z');
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_HARDIRQ | TRACE_FLAG_SOFTIRQ))[2], 'H');
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_HARDIRQ))[2], 'h');
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_SOFTIRQ))[2], 's');
}

TEST(FtraceFlags, PreemptDepthInHexAndNoMigrateDisable) {
    EXPECT_EQ(format_trace_flags(entry_with(0, 1)), "...1.");
    EXPECT_EQ(format_trace_flags(entry_with(0, 10)), "...a.");
    EXPECT_EQ(format_trace_flags(entry_with(0, 15)), "...f.");
    EXPECT_EQ(format_trace_flags(entry_with(TRACE_FLAG_IRQS_OFF | TRACE_FLAG_NEED_RESCHED | TRACE_FLAG_HARDIRQ, 2)),
              "dnh2.");
}

// A one-CPU machine with two named tasks, for the fields' comms.
struct named_machine {
    named_machine() {
        a = &m.spawn({.name = "TaskA"}, [] {});
        b = &m.spawn({.name = "TaskB", .policy = sched_policy::fifo, .priority = 50}, [] {});
        m.run();  // the tasks exit; the kernel keeps them for their names
    }
    kernel& k() { return m.kern(); }
    sim m;
    task_struct* a = nullptr;
    task_struct* b = nullptr;
};

trace_entry event(trace_event type, std::initializer_list<std::int64_t> args, int pid = 0, nsec_t time = 0) {
    trace_entry e;
    e.type = type;
    e.pid = pid;
    e.time = time;
    std::copy(args.begin(), args.end(), e.arg);
    return e;
}

TEST(FtraceFields, SchedSwitchPrintsStateLettersAndRPlusForAPreemption) {
    named_machine n;
    const int a = n.a->pid, b = n.b->pid;
    auto prev_state = [&](std::int64_t state) {
        const std::string f = format_event_fields(n.k(), event(trace_event::sched_switch, {a, 120, state, b, 49}));
        const auto at = f.find("prev_state=");
        return f.substr(at + 11, f.find(' ', at) - at - 11);
    };
    EXPECT_EQ(prev_state(TRACE_STATE_PREEMPTED), "R+");
    EXPECT_EQ(prev_state(TASK_RUNNING), "R");
    EXPECT_EQ(prev_state(TASK_INTERRUPTIBLE), "S");
    EXPECT_EQ(prev_state(TASK_UNINTERRUPTIBLE), "D");
    EXPECT_EQ(prev_state(TASK_KILLABLE), "D");
    EXPECT_EQ(prev_state(TASK_IDLE), "I");
    EXPECT_EQ(prev_state(TASK_DEAD), "X");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::sched_switch, {a, 120, TRACE_STATE_PREEMPTED, b, 49})),
              "prev_comm=TaskA prev_pid=" + std::to_string(a) +
                  " prev_prio=120 prev_state=R+ ==> next_comm=TaskB next_pid=" + std::to_string(b) + " next_prio=49");
}

TEST(FtraceFields, IdleTaskIsSwapperInFieldsAndIdleInThePrefix) {
    named_machine n;
    trace_entry e = event(trace_event::sched_switch, {0, 120, TASK_RUNNING, n.a->pid, 120}, 0, 1500);
    const std::string line = format_trace_line(n.k(), e);
    EXPECT_EQ(line.substr(0, 51), "          <idle>-0       [000] ..... " "    0.000002: ") << line;
    EXPECT_NE(line.find("sched_switch: prev_comm=swapper/0 prev_pid=0"), std::string::npos) << line;
    EXPECT_EQ(task_comm(n.k(), 0), "<idle>");
    EXPECT_EQ(task_comm(n.k(), 9999), "<...>");
}

TEST(FtraceFields, TimestampRoundsToTheMicrosecond) {
    named_machine n;
    auto stamp = [&](nsec_t t) {
        return format_trace_line(n.k(), event(trace_event::kpreempt_nr_running, {0, 1}, 0, t)).substr(37, 12);
    };
    EXPECT_EQ(stamp(2'600'000), "    0.002600");
    EXPECT_EQ(stamp(2'600'499), "    0.002600");
    EXPECT_EQ(stamp(2'600'500), "    0.002601");
    EXPECT_EQ(stamp(12'345'678'901'234), "12345.678901");
}

TEST(FtraceFields, WakeupsMigrateExitAndRuntime) {
    named_machine n;
    const std::string b = std::to_string(n.b->pid);
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::sched_waking, {n.b->pid, 49, 0})),
              "comm=TaskB pid=" + b + " prio=49 target_cpu=000");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::sched_wakeup_new, {n.b->pid, 49, 3})),
              "comm=TaskB pid=" + b + " prio=49 target_cpu=003");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::sched_migrate_task, {n.b->pid, 49, 0, 2})),
              "comm=TaskB pid=" + b + " prio=49 orig_cpu=0 dest_cpu=2");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::sched_process_exit, {n.b->pid, 49})),
              "comm=TaskB pid=" + b + " prio=49");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::sched_stat_runtime, {n.b->pid, 1000000})),
              "comm=TaskB pid=" + b + " runtime=1000000 [ns]");
}

TEST(FtraceFields, IrqSoftirqIpi) {
    named_machine n;
    ASSERT_EQ(request_irq(n.k(), 5, "eth0", [](int) { return irqreturn::handled; }), 0);
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::irq_handler_entry, {5})), "irq=5 name=eth0");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::irq_handler_exit, {5, 1})), "irq=5 ret=handled");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::irq_handler_exit, {5, 2})), "irq=5 ret=handled");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::irq_handler_exit, {5, 0})), "irq=5 ret=unhandled");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::softirq_raise, {1})), "vec=1 [action=TIMER]");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::softirq_entry, {9})), "vec=9 [action=RCU]");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::ipi_send_cpu, {2, int(irq_vector::reschedule)})),
              "cpu=2 callsite=resched_curr callback=0x0");
}

TEST(FtraceFields, KpreemptEvents) {
    named_machine n;
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::kpreempt_preempt,
                                               {int(preempt_point::irq_exit), int(preempt_mode::full), 3, 2})),
              "point=irq_exit model=full prev_pid=3 next_pid=2");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::kpreempt_nr_running, {0, 2})), "cpu=0 nr_running=2");
}

TEST(FtraceFields, HrtimersAreNumberedByFirstAppearance) {
    named_machine n;
    int t1 = 0, t2 = 0;
    const auto p1 = reinterpret_cast<std::intptr_t>(&t1), p2 = reinterpret_cast<std::intptr_t>(&t2);
    const auto fn = reinterpret_cast<std::intptr_t>("tick_nohz_handler");
    trace_pointer_ids ids;
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::hrtimer_start, {p2, fn, 1000, 1000, 0}), &ids),
              "hrtimer=0000000000000001 function=tick_nohz_handler expires=1000 softexpires=1000 mode=ABS");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::hrtimer_start, {p1, fn, 5, 5, 2}), &ids),
              "hrtimer=0000000000000002 function=tick_nohz_handler expires=5 softexpires=5 mode=ABS|PINNED");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::hrtimer_expire_entry, {p2, fn, 1000}), &ids),
              "hrtimer=0000000000000001 function=tick_nohz_handler now=1000");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::hrtimer_expire_exit, {p1}), &ids),
              "hrtimer=0000000000000002");
    EXPECT_EQ(format_event_fields(n.k(), event(trace_event::hrtimer_cancel, {p2}), &ids), "hrtimer=0000000000000001");
}

void not_exported() {}

TEST(FtraceSymbols, CodeAddressesPrintAsSymbolOffsetSizeOrAsAnOffset) {
    EXPECT_EQ(format_code_address(0), "0x0");
    // An exported C++ function of libstdc++: demangled, one token.
    const std::string terminate = format_code_address(reinterpret_cast<std::uintptr_t>(&std::terminate));
    EXPECT_TRUE(terminate.starts_with("std::terminate+0x0/0x")) << terminate;
    // This test is not linked with -rdynamic: its own functions are not in
    // the dynamic symbol table, so they print as offsets in the executable,
    // the same in every run.
    const std::string local = format_code_address(reinterpret_cast<std::uintptr_t>(&not_exported));
    EXPECT_TRUE(local.starts_with("0x")) << local;
    EXPECT_LT(std::stoull(local, nullptr, 16), reinterpret_cast<std::uintptr_t>(&not_exported));
}

TEST(TraceEventList, NamesPrefixesAllAndTheDefault) {
    EXPECT_EQ(parse_trace_events("sched_switch"), trace_bit(trace_event::sched_switch));
    EXPECT_EQ(parse_trace_events("sched_switch,irq_handler_entry"),
              trace_bit(trace_event::sched_switch) | trace_bit(trace_event::irq_handler_entry));
    EXPECT_EQ(parse_trace_events("all"), TRACE_ALL_EVENTS);
    EXPECT_EQ(parse_trace_events("hrtimer_*"),
              trace_bit(trace_event::hrtimer_start) | trace_bit(trace_event::hrtimer_expire_entry) |
                  trace_bit(trace_event::hrtimer_expire_exit) | trace_bit(trace_event::hrtimer_cancel));
    const std::uint64_t def = default_trace_events();
    EXPECT_TRUE(def & trace_bit(trace_event::sched_switch));
    EXPECT_TRUE(def & trace_bit(trace_event::sched_stat_runtime));
    EXPECT_TRUE(def & trace_bit(trace_event::softirq_raise));
    EXPECT_TRUE(def & trace_bit(trace_event::ipi_send_cpu));
    EXPECT_TRUE(def & trace_bit(trace_event::kpreempt_nr_running));
    EXPECT_FALSE(def & trace_bit(trace_event::preempt_disable));
    EXPECT_FALSE(def & trace_bit(trace_event::irq_enable));
    EXPECT_FALSE(def & trace_bit(trace_event::hrtimer_start));
}

TEST(TraceEventList, AnUnknownNameIsNamedWithTheValidOnes) {
    for (const char* bad : {"sched_swtich", "sched_switch,nope", "", "sched_switch,", "foo_*"}) {
        try {
            parse_trace_events(bad);
            ADD_FAILURE() << "accepted '" << bad << "'";
        } catch (const trace_event_list_error& e) {
            const std::string what = e.what();
            EXPECT_NE(what.find("unknown event '"), std::string::npos) << what;
            EXPECT_NE(what.find("sched_switch, sched_waking"), std::string::npos) << what;
        }
    }
}

// Two CPUs' buffers merge by time; equal times go in CPU order.
TEST(FtraceText, MergesCpusByTimeThenCpu) {
    sim m({.nr_cpus = 2});
    m.kern().trace.enable(m.kern(), trace_bit(trace_event::sched_switch), 64);
    for (int c = 0; c < 2; ++c)
        m.spawn({.name = "t" + std::to_string(c), .cpus = {c}, .cpu = c}, [] {
            burn(usecs(100));
            hrtimer_sleep(usecs(100));
            burn(usecs(50));
        });
    m.run();
    const std::vector<trace_entry> all = merged_trace_entries(m.kern());
    ASSERT_GE(all.size(), 8u);
    for (std::size_t i = 1; i < all.size(); ++i) {
        EXPECT_LE(all[i - 1].time, all[i].time);
        if (all[i - 1].time == all[i].time) {
            EXPECT_LE(all[i - 1].cpu, all[i].cpu);
        }
    }
    const std::string text = format_ftrace_text(m.kern());
    EXPECT_TRUE(text.starts_with("# tracer: nop\n#\n# entries-in-buffer/entries-written: " +
                                 std::to_string(all.size()) + "/" + std::to_string(all.size()) + "   #P:2\n#\n"))
        << text;
}

}  // namespace
}  // namespace kp
