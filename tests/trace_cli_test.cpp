// kpreempt run/compare --trace, --events, --trace-buffer, run as a user
// runs them: the file written, the events chosen, one file per model, the
// overwrite warning, and the errors for bad options (exit 2, naming them).
// g++ 12 with -fsanitize=address warns of a false maybe-uninitialized
// std::function inside <regex>; it must be off before <regex> is read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "cli_util.h"

namespace {

namespace fs = std::filesystem;

using result = kp_test::cli_result;
using kp_test::slurp;
result kpreempt(const std::string& args) { return kp_test::run_kpreempt(args); }

// Names of their own: every test executable shares the temporary folder.
fs::path temp(const std::string& name) {
    const fs::path p = fs::path(testing::TempDir()) / ("trace-cli-" + name);
    fs::remove(p);
    return p;
}

const std::string seed_file = std::string(KP_SOURCE_DIR) + "/examples/seed-diagram.json";

int count(const std::string& text, const std::string& what) {
    int n = 0;
    for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

TEST(TraceCli, TraceWritesFtraceTextWithTheDefaultEvents) {
    const fs::path out = temp("seed.txt");
    const result r = kpreempt("run " + seed_file + " --trace " + out.string());
    ASSERT_EQ(r.status, 0) << r.out;
    const std::string text = slurp(out);
    EXPECT_TRUE(text.starts_with("# tracer: nop\n#\n# entries-in-buffer/entries-written: ")) << text;
    EXPECT_NE(text.find("prev_comm=TaskA prev_pid=3 prev_prio=120 prev_state=R+ ==> next_comm=TaskB"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("irq_handler_entry: irq=0 name=dev"), std::string::npos);
    EXPECT_NE(text.find("kpreempt_preempt: point=irq_exit model=full"), std::string::npos);
    // Not in the default set: the preemptirq and hrtimer events.
    EXPECT_EQ(text.find("preempt_disable:"), std::string::npos);
    EXPECT_EQ(text.find("irq_enable:"), std::string::npos);
    EXPECT_EQ(text.find("hrtimer_"), std::string::npos);
    // The summary still goes to stdout; nothing is said about the trace.
    EXPECT_NE(r.out.find("TaskB"), std::string::npos);
    EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
}

TEST(TraceCli, TheGoldenTraceComesOutOfTheCommandToo) {
    const fs::path out = temp("golden.txt");
    const result r = kpreempt("run " + seed_file + " --events sched_*,irq_handler_*,softirq_*,ipi_send_cpu,hrtimer_*,"
                                                   "kpreempt_* --trace " + out.string());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_EQ(slurp(out), slurp(std::string(KP_SOURCE_DIR) + "/tests/golden/seed-diagram.trace"));
}

// FILE.json: Perfetto's JSON instead of ftrace text.
TEST(TraceCli, AJsonFileGetsPerfettoJson) {
    const fs::path out = temp("seed.json");
    const result r = kpreempt("run " + seed_file + " --trace " + out.string());
    ASSERT_EQ(r.status, 0) << r.out;
    const std::string text = slurp(out);
    EXPECT_TRUE(text.starts_with("{")) << text.substr(0, 200);
    EXPECT_NE(text.find("\"traceEvents\""), std::string::npos);
    EXPECT_EQ(text.find("# tracer: nop"), std::string::npos);
}

TEST(TraceCli, EventsChoosesTheEvents) {
    const fs::path out = temp("switch.txt");
    const result r = kpreempt("run " + seed_file + " --trace " + out.string() + " --events sched_switch");
    ASSERT_EQ(r.status, 0) << r.out;
    const std::string text = slurp(out);
    EXPECT_EQ(count(text, ": sched_switch: "), 4) << text;  // idle -> A, A -> B, B -> A, A -> idle
    EXPECT_EQ(count(text, "\n"), 12 + 4);
}

// The CLI is linked with -rdynamic: its own functions print as symbols.
TEST(TraceCli, PreemptirqCallersPrintAsSymbols) {
    const fs::path out = temp("preemptirq.txt");
    const result r = kpreempt("run " + seed_file + " --trace " + out.string() + " --events preempt_*,irq_disable");
    ASSERT_EQ(r.status, 0) << r.out;
    const std::string text = slurp(out);
    EXPECT_GT(count(text, ": preempt_disable: caller="), 0);
    EXPECT_NE(text.find("irq_disable: caller=kp::handle_arch_irq+0x0/0x"), std::string::npos) << text;
    EXPECT_TRUE(std::regex_search(text, std::regex(R"(preempt_disable: caller=kp::\w+\+0x[0-9a-f]+/0x[0-9a-f]+ )")))
        << text;
}

TEST(TraceCli, CompareWritesOneTracePerModel) {
    const fs::path base = temp("cmp.txt");
    for (const char* m : {"none", "voluntary", "full"}) temp("cmp." + std::string(m) + ".txt");
    const result r = kpreempt("compare " + seed_file + " --models none,full --trace " + base.string());
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_FALSE(fs::exists(base));
    EXPECT_FALSE(fs::exists(fs::path(testing::TempDir()) / "trace-cli-cmp.voluntary.txt"));
    const std::string none = slurp(fs::path(testing::TempDir()) / "trace-cli-cmp.none.txt");
    const std::string full = slurp(fs::path(testing::TempDir()) / "trace-cli-cmp.full.txt");
    EXPECT_NE(none.find("model=none"), std::string::npos);
    EXPECT_EQ(none.find("model=full"), std::string::npos);
    EXPECT_NE(full.find("kpreempt_preempt: point=irq_exit model=full"), std::string::npos);
    // TaskB first runs at 11.1 ms without preemption, 2.6 ms with.
    EXPECT_NE(none.find("0.011100: sched_switch: prev_comm=TaskA"), std::string::npos) << none;
}

TEST(TraceCli, AFullRingWarnsWithTheCounts) {
    const fs::path out = temp("small.txt");
    const result r = kpreempt("run " + seed_file + " --trace " + out.string() + " --trace-buffer 8");
    ASSERT_EQ(r.status, 0) << r.out;
    const std::regex warning(
        R"(warning: .*trace-cli-small\.txt: the trace buffers overwrote the oldest \d+ of \d+ entries)");
    EXPECT_TRUE(std::regex_search(r.out, warning)) << r.out;
    EXPECT_NE(slurp(out).find("# entries-in-buffer/entries-written: 8/"), std::string::npos);
}

TEST(TraceCli, BadEventsExitTwoNamingTheEventAndTheValidOnes) {
    const std::string out = temp("bad.txt").string();
    const result r = kpreempt("run " + seed_file + " --trace " + out + " --events sched_switch,sched_wakeup_neww");
    EXPECT_EQ(r.status, 2) << r.out;
    EXPECT_NE(r.out.find("--events: unknown event 'sched_wakeup_neww'"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("sched_wakeup_new, sched_migrate_task"), std::string::npos) << r.out;
    EXPECT_FALSE(fs::exists(fs::path(testing::TempDir()) / "trace-cli-bad.txt"));
}

TEST(TraceCli, TraceOptionsNeedTraceAndAWritableFile) {
    result r = kpreempt("run " + seed_file + " --events sched_switch");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("--events: needs --trace FILE"), std::string::npos) << r.out;
    r = kpreempt("compare " + seed_file + " --trace-buffer 100");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("--trace-buffer: needs --trace FILE"), std::string::npos) << r.out;
    r = kpreempt("run " + seed_file + " --trace " + temp("x.txt").string() + " --trace-buffer 0");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("--trace-buffer: expected an integer"), std::string::npos) << r.out;
    r = kpreempt("run " + seed_file + " --trace /nonexistent-dir/t.txt");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("--trace: cannot write '/nonexistent-dir/t.txt'"), std::string::npos) << r.out;
    r = kpreempt("run " + seed_file + " --trace");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("--trace: needs a value"), std::string::npos) << r.out;
    r = kpreempt("run " + seed_file + " --trace ''");
    EXPECT_EQ(r.status, 2);
    EXPECT_NE(r.out.find("--trace: needs a file name"), std::string::npos) << r.out;
}

}  // namespace
