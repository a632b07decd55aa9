// Reading rt-app workload files: the lenient grammar, and every kind of bad
// input ending in a message that names the file, the line and column (or
// the JSON path), and what is wrong.
#include <gtest/gtest.h>

#include "workload/workload.h"

namespace kp::workload {
namespace {

workload parse(const std::string& text) { return parse_workload(text, "w.json"); }

std::string error_of(const std::string& text) {
    try {
        parse(text);
    } catch (const workload_error& e) {
        return e.what();
    }
    return "no error";
}

TEST(WorkloadParse, AcceptsCommentsTrailingCommasAndRepeatedKeysInOrder) {
    const workload w = parse(R"({
        /* a comment */
        "tasks": {
            "t": { "loop": 2, "run": 100, "sleep": 50, "run": 200, // repeated key
                   "run0": 1.5, },
        },
    })");
    ASSERT_EQ(w.tasks.size(), 1u);
    const auto& evs = w.tasks[0].phases[0].events;
    ASSERT_EQ(evs.size(), 4u);
    EXPECT_EQ(evs[0].type, ev::run);
    EXPECT_EQ(evs[0].ns, usecs(100));
    EXPECT_EQ(evs[1].type, ev::sleep);
    EXPECT_EQ(evs[2].ns, usecs(200));
    EXPECT_EQ(evs[3].key, "run0");
    EXPECT_EQ(evs[3].ns, 1500);  // fractions of a microsecond are allowed
    EXPECT_EQ(w.tasks[0].loop, 2);
}

TEST(WorkloadParse, PrefixMatchedEventsAndRuntimeIsNotRun) {
    const workload w = parse(R"({"tasks": {"t": {"runtime3": 5, "run7": 6, "sleep_x": 1,
        "timer9": {"ref": "unique", "period": 1000, "mode": "absolute"}}}})");
    const auto& evs = w.tasks[0].phases[0].events;
    EXPECT_EQ(evs[0].type, ev::runtime);
    EXPECT_EQ(evs[1].type, ev::run);
    EXPECT_EQ(evs[2].type, ev::sleep);
    EXPECT_EQ(evs[3].type, ev::timer);
    EXPECT_TRUE(evs[3].absolute);
    EXPECT_EQ(evs[3].ns, msecs(1));
}

TEST(WorkloadParse, BareSuspendAsWorkgenFillsIt) {
    const workload w = parse("{\"tasks\": {\"a\": {\"suspend\", \"run\": 10}, \"b\": {\"resume\": \"a\"}}}");
    EXPECT_EQ(w.tasks[0].phases[0].events[0].type, ev::suspend);
    EXPECT_EQ(w.tasks[0].phases[0].events[0].ref, "");
}

TEST(WorkloadParse, PhasesGlobalAndKernelExtensions) {
    const workload w = parse(R"({
        "global": {"duration": 2, "default_policy": "SCHED_FIFO", "calibration": "CPU0",
                   "kpreempt": {"model": "voluntary", "cpus": 4, "hz": 250,
                                "costs": {"context_switch": 2, "irq_entry": 0.5},
                                "irqs": {"nic": {"cpu": 1, "rate": 20000, "handler": 3, "wakes": "t"}}}},
        "tasks": {"t": {"priority": 20, "phases": {
            "p0": {"loop": 3, "cpus": [1, 2], "run": 10},
            "p1": {"kp_syscall": {"loop": 5, "run": 100, "kp_might_sleep": ""},
                   "kp_spin": {"ref": "L", "run": 1}}}}}})");
    EXPECT_EQ(w.global.duration, secs(2));
    EXPECT_EQ(*w.global.model, preempt_mode::voluntary);
    EXPECT_EQ(*w.global.cpus, 4);
    EXPECT_EQ(*w.global.hz, 250);
    EXPECT_EQ(w.global.costs.context_switch, usecs(2));
    EXPECT_EQ(w.global.costs.irq_entry, 500);
    ASSERT_EQ(w.global.irqs.size(), 1u);
    EXPECT_EQ(w.global.irqs[0].arrivals.rate_hz, 20000);
    const task_def& t = w.tasks[0];
    EXPECT_EQ(*t.a.policy, sched_policy::fifo);  // default_policy
    EXPECT_EQ(*t.a.priority, 20);
    ASSERT_EQ(t.phases.size(), 2u);
    EXPECT_EQ(t.phases[0].loop, 3);
    EXPECT_EQ(*t.phases[0].a.cpus, (std::vector<int>{1, 2}));
    const event& sys = t.phases[1].events[0];
    EXPECT_EQ(sys.type, ev::kp_syscall);
    EXPECT_EQ(sys.loop, 5);
    ASSERT_EQ(sys.body.size(), 2u);
    EXPECT_EQ(sys.body[1].type, ev::kp_might_sleep);
    EXPECT_EQ(t.phases[1].events[1].ref, "L");
}

TEST(WorkloadParse, WarnsAboutWhatItDoesNotHonour) {
    const workload w = parse(R"({"global": {"frag": 1, "pi_enabled": true},
        "tasks": {"t": {"util_min": 100, "run": 10}}})");
    ASSERT_EQ(w.warnings.size(), 3u);
    EXPECT_EQ(w.warnings[0], "w.json:1:21: $.global.frag: warning: unknown key ignored");
    EXPECT_NE(w.warnings[1].find("priority inheritance is not modelled"), std::string::npos);
    EXPECT_NE(w.warnings[2].find("$.tasks.t.util_min: warning: not modelled"), std::string::npos);
}

TEST(WorkloadParse, SyntaxErrorNamesLineAndColumn) {
    EXPECT_EQ(error_of("{\n  \"tasks\": {\n    \"t\": { \"run\" 10 }\n  }\n}"),
              "w.json:3:18: syntax error: expected ':' after the key");
    EXPECT_EQ(error_of("{\"tasks\": {\"t\": {\"run\": 10}}"), "w.json:1:29: syntax error: expected ',' or '}'");
    EXPECT_EQ(error_of("{\"tasks\": /* never closed"), "w.json:1:11: syntax error: unterminated /* comment");
}

TEST(WorkloadParse, UnknownEventIsAnError) {
    // rt-app skips keys that match no event; a typo there is an error here.
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"rnu": 10}}})"),
              "w.json:1:25: $.tasks.t.rnu: unknown event or task property 'rnu'");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"phases": {"p": {"run": 1, "slep": 2}}}}})"),
              "w.json:1:53: $.tasks.t.phases.p.slep: unknown event or phase property 'slep'");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"run": 10, "kp_teleport": 1}}})"),
              "w.json:1:44: $.tasks.t.kp_teleport: unknown kpreempt extension 'kp_teleport'");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"fork": "t"}}})"),
              "w.json:1:26: $.tasks.t.fork: the 'fork' event is not supported");
}

TEST(WorkloadParse, NegativeAndAbsurdDurations) {
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"run": -5}}})"), "w.json:1:25: $.tasks.t.run: negative duration");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"sleep": 1e13}}})"),
              "w.json:1:27: $.tasks.t.sleep: absurd duration (more than an hour)");
    EXPECT_EQ(error_of(R"({"global": {"duration": 0}, "tasks": {"t": {"run": 1}}})"),
              "w.json:1:25: $.global.duration: duration must be -1 or at least 1 second");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"timer": {"ref": "x", "period": -1}}}})"),
              "w.json:1:50: $.tasks.t.timer.period: negative duration");
}

TEST(WorkloadParse, UnknownTaskOrResourceNames) {
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"run": 1, "resume": "ghost"}}})"),
              "w.json:1:38: $.tasks.t.resume: nobody suspends on 'ghost' and no task has that name");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"unlock": "m"}}})"), "w.json:1:28: $.tasks.t.unlock: mutex 'm' is never locked");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"signal": "c", "run": 1}}})"),
              "w.json:1:28: $.tasks.t.signal: nobody waits on 'c'");
    EXPECT_NE(error_of(R"({"global": {"kpreempt": {"irqs": {"n": {"period": 10, "wakes": "ghost"}}}},
        "tasks": {"t": {"run": 1}}})").find("$.global.kpreempt.irqs.n.wakes: no task named 'ghost' and nobody waits on it"),
              std::string::npos);
}

TEST(WorkloadParse, WrongTypesAndRanges) {
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"run": "long"}}})"),
              "w.json:1:25: $.tasks.t.run: expected a number, found a string");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"policy": "SCHED_FIFO", "priority": 0, "run": 1}}})"),
              "w.json:1:17: $.tasks.t.priority: RT priority must be 1 to 99");
    EXPECT_EQ(error_of(R"({"global": {"kpreempt": {"model": "eager"}}, "tasks": {"t": {"run": 1}}})"),
              "w.json:1:35: $.global.kpreempt.model: unknown model 'eager' (none, voluntary, full)");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"policy": "SCHED_DEADLINE", "run": 1}}})"),
              "w.json:1:28: $.tasks.t.policy: SCHED_DEADLINE is not supported (no deadline class yet)");
    EXPECT_EQ(error_of(R"({"global": {}})"), "w.json:1:1: $: no \"tasks\" object");
    EXPECT_EQ(error_of(R"({"tasks": {"t": {"exec": 5000, "period": 1000}}})"),
              "w.json:1:26: $.tasks.t.exec: exec is longer than the period");
}

// rt-app's first grammar (taskset.json, merge/) becomes ordinary events.
TEST(WorkloadParse, LegacyGrammarIsTranslatedIntoEvents) {
    const workload w = parse(R"({
        "resources": {"m": {"type": "mutex"}, "c": {"type": "wait"}, "s": {"type": "signal", "target": "c"}},
        "tasks": {
            "t": {"exec": 5000, "period": 10000, "lock_order": ["c", "r"],
                  "resources": {"c": {"duration": 0, "access": ["m"]}, "r": {"duration": 1000}}},
            "u": {"exec": 100, "period": 1000, "sleep": false, "priority": -3, "lock_order": ["s"],
                  "resources": {"s": {"access": ["m"]}}}}})");
    ASSERT_EQ(w.tasks.size(), 2u);
    std::string t_events, u_events;
    for (const event& e : w.tasks[0].phases[0].events)
        t_events += std::string(ev_name(e.type)) + "(" + e.ref + (e.mutex.empty() ? "" : "," + e.mutex) +
                    (e.ns ? "," + std::to_string(e.ns) : "") + ") ";
    for (const event& e : w.tasks[1].phases[0].events) u_events += std::string(ev_name(e.type)) + "(" + e.ref + ") ";
    // c waits with the mutex it accesses; r is an untyped resource, so a mutex.
    EXPECT_EQ(t_events,
              "lock(m) wait(c,m) unlock(m) lock(r) run(,1000000) unlock(r) run(,4000000) "
              "timer(unique_legacy_period,10000000) ");
    EXPECT_TRUE(w.tasks[0].phases[0].events.back().absolute);  // a fixed period grid
    EXPECT_EQ(u_events, "lock(m) signal(c) unlock(m) run() ");  // "sleep": false: no waiting for the period
    EXPECT_EQ(*w.tasks[1].a.priority, -3);
}

TEST(WorkloadParse, MissingFileIsAnError) {
    try {
        load_workload("/nonexistent/dir/w.json");
        FAIL() << "no error";
    } catch (const workload_error& e) {
        EXPECT_STREQ(e.what(), "/nonexistent/dir/w.json: cannot open the file");
    }
}

}  // namespace
}  // namespace kp::workload
