// The Perfetto / Chrome trace-event JSON writer: the seed diagram's trace
// byte for byte against a committed file, what it says under each model,
// the format's rules on a busy four-CPU machine (and on one whose rings
// overran), and that the rule checker itself catches broken traces.
//
// To regenerate the golden file after an intended change:
//   KP_UPDATE_GOLDEN=1 ./build/kp-perfetto_json_test
// then read the diff before committing it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kpreempt/kpreempt.h"
#include "test_util.h"
#include "trace_event_rules.h"
#include "tracing/perfetto_json.h"

namespace kp {
namespace {

using trace_rules::jvalue;

// The events a reader of the seed diagram needs, and no more (the golden
// file stays small enough to read). Not the preemptirq events: how many
// the core fires follows every change to its lock paths, which is not what
// this file is about (their use is checked with every event on, below).
constexpr std::uint64_t GOLDEN_MASK =
    trace_bit(trace_event::sched_switch) | trace_bit(trace_event::sched_wakeup) |
    trace_bit(trace_event::sched_wakeup_new) | trace_bit(trace_event::sched_migrate_task) |
    trace_bit(trace_event::irq_handler_entry) | trace_bit(trace_event::irq_handler_exit) |
    trace_bit(trace_event::softirq_entry) | trace_bit(trace_event::softirq_exit) |
    trace_bit(trace_event::kpreempt_preempt) | trace_bit(trace_event::kpreempt_nr_running);

std::string seed_diagram_json(preempt_mode model, std::uint64_t mask) {
    sim m({.model = model});
    m.kern().trace.enable(m.kern(), mask);
    spawn_seed_diagram(m);
    m.run();
    return format_perfetto_json(m.kern());
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

jvalue parse(const std::string& json) { return trace_rules::strict_reader(json).document(); }

const std::vector<jvalue>& events(const jvalue& doc) { return doc.find("traceEvents")->items; }

std::vector<const jvalue*> where(const jvalue& doc, std::string_view ph, std::string_view name) {
    std::vector<const jvalue*> out;
    for (const jvalue& e : events(doc))
        if (trace_rules::str_of(e.find("ph")) == ph && trace_rules::str_of(e.find("name")) == name) out.push_back(&e);
    return out;
}

std::int64_t ns(const jvalue* e, std::string_view key) {
    std::int64_t v = -1;
    EXPECT_TRUE(trace_rules::ns_of(e->find(key), v)) << key;
    return v;
}

std::int64_t num(const jvalue* v) {
    std::int64_t n = -1;
    EXPECT_TRUE(trace_rules::int_of(v, n));
    return n;
}

std::string lines_around_first_difference(const std::string& a, const std::string& b) {
    std::istringstream sa(a), sb(b);
    std::string la, lb;
    for (int line = 1;; ++line) {
        const bool ga = static_cast<bool>(std::getline(sa, la)), gb = static_cast<bool>(std::getline(sb, lb));
        if (!ga && !gb) return "no difference";
        if (la != lb || ga != gb)
            return "line " + std::to_string(line) + "\n  golden: " + (ga ? la : "<end>") + "\n  actual: " + (gb ? lb : "<end>");
    }
}

// (a) The seed diagram under FULL, byte for byte: TaskA runs from 0, the
// irq at 2.5 ms (0.1 ms) wakes TaskB, which preempts TaskA at the irq's
// exit (2.6 ms) and runs 2 ms; TaskA then finishes at 13.1 ms.
TEST(PerfettoJson, SeedDiagramMatchesGolden) {
    const std::string path = std::string(KP_SOURCE_DIR) + "/tests/golden/seed-diagram.json";
    const std::string actual = seed_diagram_json(preempt_mode::full, GOLDEN_MASK);
    if (std::getenv("KP_UPDATE_GOLDEN")) {
        std::ofstream(path, std::ios::binary) << actual;
        GTEST_SKIP() << "wrote " << path;
    }
    const std::string golden = read_file(path);
    ASSERT_FALSE(golden.empty()) << "missing " << path;
    EXPECT_TRUE(actual == golden) << "differs from " << path << " at " << lines_around_first_difference(golden, actual)
                                  << "\n(regenerate with KP_UPDATE_GOLDEN=1, then read the diff)";
}

// What the golden file must say, checked by meaning (so that a golden file
// regenerated carelessly cannot hide a wrong timeline).
TEST(PerfettoJson, SeedDiagramSaysWhatHappened) {
    const jvalue doc = parse(seed_diagram_json(preempt_mode::full, GOLDEN_MASK));
    const auto b_runs = where(doc, "X", "TaskB");
    ASSERT_EQ(b_runs.size(), 1u);
    EXPECT_EQ(ns(b_runs[0], "ts"), usecs(2600));
    EXPECT_EQ(ns(b_runs[0], "dur"), msecs(2));
    EXPECT_EQ(num(b_runs[0]->find("args")->find("prio")), 49);
    EXPECT_EQ(trace_rules::str_of(b_runs[0]->find("args")->find("end")), "exit");

    const auto a_runs = where(doc, "X", "TaskA");
    ASSERT_EQ(a_runs.size(), 2u);
    EXPECT_EQ(ns(a_runs[0], "ts"), 0);
    EXPECT_EQ(ns(a_runs[0], "dur"), usecs(2600));
    EXPECT_EQ(trace_rules::str_of(a_runs[0]->find("args")->find("end")), "irq_exit");
    EXPECT_EQ(trace_rules::str_of(a_runs[0]->find("args")->find("prev_state")), "R+");
    EXPECT_EQ(ns(a_runs[1], "ts"), usecs(4600));
    EXPECT_EQ(ns(a_runs[1], "ts") + ns(a_runs[1], "dur"), usecs(13100));  // 11 ms of work, 0.1 of irq, 2 of TaskB

    const auto irqs = where(doc, "X", "irq 1: dev");
    ASSERT_EQ(irqs.size(), 1u);
    EXPECT_EQ(ns(irqs[0], "ts"), usecs(2500));
    EXPECT_EQ(ns(irqs[0], "dur"), usecs(100));

    const auto preempts = where(doc, "i", "preempt at irq_exit");
    ASSERT_EQ(preempts.size(), 1u);
    EXPECT_EQ(ns(preempts[0], "ts"), usecs(2600));
    EXPECT_EQ(trace_rules::str_of(preempts[0]->find("args")->find("model")), "full");

    // TaskA waits, preempted, while TaskB runs; TaskB, woken and run at the
    // same instant, has no wait to draw, but an arrow from its wakeup.
    const auto waits = where(doc, "X", "Runnable (preempted)");
    ASSERT_EQ(waits.size(), 1u);
    EXPECT_EQ(ns(waits[0], "ts"), usecs(2600));
    EXPECT_EQ(ns(waits[0], "dur"), msecs(2));
    EXPECT_TRUE(where(doc, "X", "Runnable (woken)").empty());
    const auto wakes = where(doc, "i", "sched_wakeup");
    ASSERT_EQ(wakes.size(), 1u);
    EXPECT_EQ(ns(wakes[0], "ts"), usecs(2600));
    const auto starts = where(doc, "s", "wakeup");
    const auto ends = where(doc, "f", "wakeup");
    ASSERT_EQ(starts.size(), 2u);  // TaskA's wakeup_new too
    ASSERT_EQ(ends.size(), 2u);
    EXPECT_EQ(ns(starts[1], "ts"), usecs(2600));
    EXPECT_EQ(num(ends[0]->find("id")), num(starts[1]->find("id")));  // TaskB's track comes first (pid 3)
    EXPECT_EQ(ns(ends[0], "ts"), usecs(2600));
    EXPECT_EQ(trace_rules::trace_rule_violations(seed_diagram_json(preempt_mode::full, GOLDEN_MASK)),
              std::vector<std::string>{});
}

// TaskB's first run and what let it run, under each model: the seed notes'
// 11.1 / 3.1 / 2.6 ms, with every event recorded.
TEST(PerfettoJson, SeedDiagramUnderEachModel) {
    struct expect_t {
        preempt_mode model;
        nsec_t b_runs;
        std::string preempt;  // the instant at that time ("" : none)
    };
    for (const expect_t& x : {expect_t{preempt_mode::none, usecs(11100), ""},
                              expect_t{preempt_mode::voluntary, usecs(3100), "preempt at might_resched"},
                              expect_t{preempt_mode::full, usecs(2600), "preempt at irq_exit"}}) {
        SCOPED_TRACE(std::string(preempt_mode_name(x.model)));
        const std::string json = seed_diagram_json(x.model, TRACE_ALL_EVENTS);
        EXPECT_EQ(trace_rules::trace_rule_violations(json), std::vector<std::string>{});
        const jvalue doc = parse(json);
        const auto b_runs = where(doc, "X", "TaskB");
        ASSERT_FALSE(b_runs.empty());
        EXPECT_EQ(ns(b_runs[0], "ts"), x.b_runs);
        // The flow from TaskB's wakeup (at 2.6 ms, in the irq) ends at its run.
        const auto starts = where(doc, "s", "wakeup");
        const auto ends = where(doc, "f", "wakeup");
        const auto b_end = std::find_if(ends.begin(), ends.end(), [&](const jvalue* f) { return ns(f, "ts") == x.b_runs; });
        ASSERT_NE(b_end, ends.end());
        const auto b_start = std::find_if(starts.begin(), starts.end(),
                                          [&](const jvalue* s) { return num(s->find("id")) == num((*b_end)->find("id")); });
        ASSERT_NE(b_start, starts.end());
        EXPECT_EQ(ns(*b_start, "ts"), usecs(2600));
        const auto waits = where(doc, "X", "Runnable (woken)");
        const bool waited = std::any_of(waits.begin(), waits.end(), [&](const jvalue* w) {
            return ns(w, "ts") == usecs(2600) && ns(w, "ts") + ns(w, "dur") == x.b_runs;
        });
        EXPECT_EQ(waited, x.b_runs > usecs(2600));
        if (!x.preempt.empty()) {
            const auto p = where(doc, "i", x.preempt);
            ASSERT_EQ(p.size(), 1u);
            EXPECT_EQ(ns(p[0], "ts"), x.b_runs);
            EXPECT_EQ(trace_rules::str_of(p[0]->find("args")->find("model")), preempt_mode_name(x.model));
        }
        EXPECT_EQ(trace_rules::str_of(doc.find("otherData")->find("model")), preempt_mode_name(x.model));
        // With preempt_enable recorded, the depth of the switch (2, inside
        // __schedule) lasts no time: at TaskB's first run it is back to 0.
        std::int64_t depth = -1;
        for (const jvalue& e : events(doc))
            if (const jvalue* a = e.find("args"); trace_rules::str_of(e.find("ph")) == "C" && a->find("preempt_depth") &&
                                                  ns(&e, "ts") <= x.b_runs)
                depth = num(a->find("preempt_depth"));
        EXPECT_EQ(depth, 0);
    }
}

// A busy machine: four CPUs, workers that burn, take preempt-off sections
// and sleep (wakeups place and migrate them), an RT task woken by a NIC's
// handler through a completion, NET_RX and BLOCK softirqs raised by two
// devices on two CPUs, and the tick.
struct busy_machine {
    completion rx_done;
    std::uint64_t rx_count = 0;
};

void spawn_busy_machine(sim& m, busy_machine& b) {
    init_completion(b.rx_done);
    for (int i = 0; i < 10; ++i)
        m.spawn({.name = "worker" + std::to_string(i), .cpu = i % 4}, [i] {
            for (int n = 0; n < 25; ++n) {
                burn(usecs(420 + 37 * i));
                {
                    syscall_section sys;
                    preempt_disable();
                    burn(usecs(15));
                    preempt_enable();
                }
                hrtimer_sleep(usecs(150 + 60 * i));
            }
        });
    m.spawn({.name = "rx-thread", .policy = sched_policy::fifo, .priority = 40, .kthread = true}, [&b] {
        for (int n = 0; n < 20; ++n) {
            wait_for_completion(b.rx_done);
            burn(usecs(40));
        }
    });
    m.request_irq(3, "eth0", [&b] {
        burn(usecs(5));
        raise_softirq_irqoff(NET_RX_SOFTIRQ);
        if (++b.rx_count % 2 == 0) complete(b.rx_done);
    });
    m.request_irq(5, "nvme0", [] {
        burn(usecs(3));
        raise_softirq_irqoff(BLOCK_SOFTIRQ);
    });
    open_softirq(m.kern(), NET_RX_SOFTIRQ, [] { burn(usecs(25)); });
    open_softirq(m.kern(), BLOCK_SOFTIRQ, [] { burn(usecs(10)); });
    cpumask on1, on2;
    on1.set(1);
    on2.set(2);
    irq_set_affinity(m.kern(), 3, on1);
    irq_set_affinity(m.kern(), 5, on2);
    m.machine().attach_device(3, {.start = usecs(90), .period = usecs(350), .stop = msecs(18)});
    m.machine().attach_device(5, {.rate_hz = 3000, .stop = msecs(18), .seed = 7});
}

std::string busy_json(std::size_t entries_per_cpu) {
    sim m({.nr_cpus = 4});
    m.kern().trace.enable(m.kern(), TRACE_ALL_EVENTS, entries_per_cpu);
    busy_machine b;
    spawn_busy_machine(m, b);
    m.run(msecs(40));
    return format_perfetto_json(m.kern());
}

std::size_t count(const jvalue& doc, std::string_view ph, std::string_view cat = {}) {
    std::size_t n = 0;
    for (const jvalue& e : events(doc))
        if (trace_rules::str_of(e.find("ph")) == ph && (cat.empty() || trace_rules::str_of(e.find("cat")) == cat)) ++n;
    return n;
}

// (b) The format's rules, on a run with everything in it.
TEST(PerfettoJson, BusyMachineFollowsTheRules) {
    const std::string json = busy_json(1u << 20);
    EXPECT_EQ(trace_rules::trace_rule_violations(json), std::vector<std::string>{});
    const jvalue doc = parse(json);
    // It has everything the rules are about, on every CPU.
    EXPECT_GT(count(doc, "X", "sched"), 200u);
    EXPECT_GT(count(doc, "X", "irq"), 40u);
    EXPECT_GT(count(doc, "X", "softirq"), 40u);
    EXPECT_GT(count(doc, "s"), 100u);
    EXPECT_EQ(count(doc, "s"), count(doc, "f"));
    EXPECT_GT(count(doc, "C"), 100u);
    EXPECT_GT(where(doc, "i", "sched_migrate_task").size(), 0u);
    EXPECT_GT(count(doc, "i", "preempt"), 10u);
    std::set<std::int64_t> cpu_tids;
    for (const jvalue* e : where(doc, "X", "worker0")) cpu_tids.insert(num(e->find("tid")));
    for (const jvalue& e : events(doc))
        if (trace_rules::str_of(e.find("ph")) == "X" && trace_rules::str_of(e.find("cat")) == "softirq")
            cpu_tids.insert(num(e.find("tid")));
    EXPECT_GE(cpu_tids.size(), 2u);
    EXPECT_EQ(num(doc.find("otherData")->find("entries_lost")), 0);
    EXPECT_EQ(doc.find("otherData")->find("warning"), nullptr);
}

// Rings too small for the run: the lost entries are said, in otherData and
// on each CPU's track, and what was open at the first kept entry still
// nests and never overlaps.
TEST(PerfettoJson, OverrunIsReportedAndStillFollowsTheRules) {
    const std::string json = busy_json(300);
    EXPECT_EQ(trace_rules::trace_rule_violations(json), std::vector<std::string>{});
    const jvalue doc = parse(json);
    const jvalue& other = *doc.find("otherData");
    std::int64_t lost = 0;
    for (const auto& [cpu, v] : other.find("ring_overrun")->members) lost += num(&v);
    EXPECT_GT(lost, 0);
    EXPECT_EQ(num(other.find("entries_lost")), lost);
    EXPECT_NE(trace_rules::str_of(other.find("warning")).find("overwritten"), std::string::npos);
    EXPECT_EQ(where(doc, "i", "trace ring overrun: oldest entries lost").size(), 4u);
    bool cut = false;
    for (const jvalue& e : events(doc))
        if (const jvalue* a = e.find("args"); a && trace_rules::str_of(a->find("start")) == "before the trace") cut = true;
    EXPECT_TRUE(cut);
}

// No trace recorded, or nothing in it: still a trace that opens (the
// tracks, no events), and a comm that needs escaping stays one string.
TEST(PerfettoJson, EmptyTracesAndOddNamesAreStillValid) {
    sim idle({.nr_cpus = 2});
    idle.run();
    std::string json = format_perfetto_json(idle.kern());
    EXPECT_EQ(trace_rules::trace_rule_violations(json), std::vector<std::string>{});
    EXPECT_EQ(where(parse(json), "M", "thread_name").size(), 2u);

    sim m;
    m.kern().trace.enable(m.kern(), TRACE_ALL_EVENTS);
    m.spawn({.name = "odd \"name\"\\\t"}, [] { burn(usecs(10)); });
    m.run();
    json = format_perfetto_json(m.kern());
    EXPECT_EQ(trace_rules::trace_rule_violations(json), std::vector<std::string>{});
    EXPECT_EQ(where(parse(json), "X", "odd \"name\"\\\t").size(), 1u);
}

// The checker can fail: each broken trace breaks at least the rule named.
TEST(PerfettoJson, RuleCheckerCatchesBrokenTraces) {
    const std::string head = R"({"traceEvents":[)";
    const std::string x0 = R"({"ph":"X","name":"a","ts":0.000,"dur":10.000,"pid":1,"tid":2})";
    struct broken {
        std::string what, json;
    };
    const std::vector<broken> cases = {
        {"trailing comma", head + x0 + ",]}"},
        {"comment", head + "/* c */" + x0 + "]}"},
        {"ts missing", head + R"({"ph":"X","name":"a","dur":1.000,"pid":1,"tid":2}]})"},
        {"ts not 3 decimals", head + R"({"ph":"i","name":"a","ts":1.5,"pid":1,"tid":2}]})"},
        {"tid missing", head + R"({"ph":"X","name":"a","ts":0.000,"dur":1.000,"pid":1}]})"},
        {"negative dur", head + R"({"ph":"X","name":"a","ts":5.000,"dur":-1.000,"pid":1,"tid":2}]})"},
        {"partial overlap", head + x0 + R"(,{"ph":"X","name":"b","ts":5.000,"dur":10.000,"pid":1,"tid":2}]})"},
        {"ts goes back", head + x0 + R"(,{"ph":"i","name":"b","ts":5.000,"pid":1,"tid":2})" +
                             R"(,{"ph":"i","name":"c","ts":4.000,"pid":1,"tid":2}]})"},
        {"E without B", head + R"({"ph":"E","ts":1.000,"pid":1,"tid":2}]})"},
        {"B without E", head + R"({"ph":"B","name":"a","ts":1.000,"pid":1,"tid":2}]})"},
        {"flow never ends", head + x0 + R"(,{"ph":"s","name":"w","cat":"c","id":1,"ts":0.000,"pid":1,"tid":2}]})"},
        {"flow end alone", head + x0 + R"(,{"ph":"f","bp":"e","name":"w","cat":"c","id":1,"ts":0.000,"pid":1,"tid":2}]})"},
        {"flow start unbound", head + R"({"ph":"s","name":"w","cat":"c","id":1,"ts":0.000,"pid":1,"tid":2},)" + x0 +
                                   R"(,{"ph":"f","bp":"e","name":"w","cat":"c","id":1,"ts":0.000,"pid":1,"tid":2}]})"},
        {"flow end before its slice (older Perfetto binds it to nothing there)",
         head + R"({"ph":"i","name":"w","ts":0.000,"pid":1,"tid":2},{"ph":"s","name":"w","cat":"c","id":1,"ts":0.000,"pid":1,"tid":2})" +
             R"(,{"ph":"f","bp":"e","name":"w","cat":"c","id":1,"ts":10.000,"pid":1,"tid":2})" +
             R"(,{"ph":"X","name":"r","ts":10.000,"dur":5.000,"pid":1,"tid":2}]})"},
        {"flow end binds to an instant",
         head + R"({"ph":"i","name":"w","ts":0.000,"pid":1,"tid":2},{"ph":"s","name":"w","cat":"c","id":1,"ts":0.000,"pid":1,"tid":2})" +
             R"(,{"ph":"X","name":"r","ts":10.000,"dur":5.000,"pid":1,"tid":2},{"ph":"i","name":"m","ts":10.000,"pid":1,"tid":2})" +
             R"(,{"ph":"f","bp":"e","name":"w","cat":"c","id":1,"ts":10.000,"pid":1,"tid":2}]})"},
        {"tid under two pids", head + x0 + R"(,{"ph":"X","name":"b","ts":0.000,"dur":1.000,"pid":3,"tid":2}]})"},
        {"counter not a number", head + R"({"ph":"C","name":"c","ts":0.000,"pid":1,"args":{"n":"x"}}]})"},
        {"traceEvents not first", R"({"otherData":{},"traceEvents":[]})"},
    };
    for (const broken& c : cases) EXPECT_FALSE(trace_rules::trace_rule_violations(c.json).empty()) << c.what;
    const std::string good = head + x0 + R"(,{"ph":"i","name":"w","ts":0.000,"pid":1,"tid":2,"s":"t"})" +
                             R"(,{"ph":"s","name":"w","cat":"c","id":1,"ts":0.000,"pid":1,"tid":2})" +
                             R"(,{"ph":"X","name":"b","ts":10.000,"dur":0.000,"pid":1,"tid":2})" +
                             R"(,{"ph":"f","bp":"e","name":"w","cat":"c","id":1,"ts":10.000,"pid":1,"tid":2}]})";
    EXPECT_EQ(trace_rules::trace_rule_violations(good), std::vector<std::string>{});
}

}  // namespace
}  // namespace kp
