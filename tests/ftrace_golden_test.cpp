// The ftrace text of whole runs: the seed diagram's trace against a
// committed file, byte for byte (tests/golden/seed-diagram.trace, read line
// by line against the kernel's formats when it was made), and every line of
// busy multi-CPU runs with every event on against the `trace` file's
// grammar and Perfetto's ftrace-text line regex.
//
// KP_UPDATE_GOLDEN=1 rewrites the golden file instead of comparing; read
// the diff before committing it.
// g++ 12 with -fsanitize=address warns of a false maybe-uninitialized
// std::function inside <regex>; it must be off before <regex> is read.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <gtest/gtest-spi.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "kernel/trace/trace.h"
#include "tracing/event_list.h"
#include "workload/runner.h"

namespace kp::workload {
namespace {

const std::string source_dir = KP_SOURCE_DIR;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

run_result traced_run(const std::string& example, std::uint64_t events, run_options opt = {}) {
    opt.trace_events = events;
    return run_workload(load_workload(source_dir + "/examples/" + example), opt);
}

// The golden file's events: everything but the preemptirq events, whose
// caller addresses depend on the build.
constexpr const char* golden_events = "sched_*,irq_handler_*,softirq_*,ipi_send_cpu,hrtimer_*,kpreempt_*";

TEST(FtraceGolden, SeedDiagramTraceIsTheCommittedOne) {
    const run_result r = traced_run("seed-diagram.json", parse_trace_events(golden_events));
    const std::string golden_path = source_dir + "/tests/golden/seed-diagram.trace";
    if (std::getenv("KP_UPDATE_GOLDEN")) {
        std::ofstream(golden_path, std::ios::binary) << r.trace;
        GTEST_SKIP() << "wrote " << golden_path;
    }
    const std::string golden = slurp(golden_path);
    ASSERT_FALSE(golden.empty()) << golden_path;
    if (r.trace == golden) return;
    // Name the first line that differs.
    const std::vector<std::string> got = lines_of(r.trace), want = lines_of(golden);
    for (std::size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
        const std::string g = i < got.size() ? got[i] : "<none>", w = i < want.size() ? want[i] : "<none>";
        ASSERT_EQ(g, w) << "line " << i + 1;
    }
    FAIL() << "the traces differ only in their line ends";
}

// The header block of the `trace` file with irq-info on.
const char* const header[] = {
    "# tracer: nop",
    "#",
    nullptr,  // entries-in-buffer/entries-written
    "#",
    "#                                _-----=> irqs-off/BH-disabled",
    "#                               / _----=> need-resched",
    "#                              | / _---=> hardirq/softirq",
    "#                              || / _--=> preempt-depth",
    "#                              ||| / _-=> migrate-disable",
    "#                              |||| /     delay",
    "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
    "#              | |         |   |||||     |         |",
};
constexpr std::size_t header_lines = std::size(header);

// "%16s-%-7d [%03d] " + five flags + " %5lu.%06lu: " + event + ": " + fields.
const std::regex line_re(R"(^( {0,15}\S.{0,15})-(\d{1,7}) {0,6} \[(\d{3})\] )"
                         R"([Ddb.][BNLbnpl.][ZzHhs.][0-9a-f.]\. {1,5}(\d{1,5})\.(\d{6}): ([a-z_]+): (.+)$)");
// Perfetto's systrace line tokenizer (systrace_line_tokenizer.cc).
const std::regex perfetto_re(
    R"(-(\d+)\s+\(?\s*(\d+|-+)?\)?\s?\[(\d+)\]\s*([a-zA-Z.]{3}[0-9a-f.]{1,2}\s*)?(\d+\.\d+):\s+(\S+):)");

// Each event's fields (include/trace/events/*.h, Linux 6.12, and ours).
const std::map<std::string, std::regex> fields_re = [] {
    const std::string comm = R"(\S(.{0,14}\S)?)", sym = R"((0x[0-9a-f]+|\S+\+0x[0-9a-f]+/0x[0-9a-f]+))";
    const std::string wake = "comm=" + comm + R"( pid=\d+ prio=\d+ target_cpu=\d{3})";
    const std::string vec = R"(vec=\d \[action=(HI|TIMER|NET_TX|NET_RX|BLOCK|IRQ_POLL|TASKLET|SCHED|HRTIMER|RCU)\])";
    const std::string caller = "caller=" + sym + " parent=0x0";
    const std::string timer = R"(hrtimer=[0-9a-f]{16})";
    const std::map<std::string, std::string> f = {
        {"sched_switch", "prev_comm=" + comm + R"( prev_pid=\d+ prev_prio=\d+ prev_state=(R\+?|[SDTtXZPI]))" +
                             " ==> next_comm=" + comm + R"( next_pid=\d+ next_prio=\d+)"},
        {"sched_waking", wake},
        {"sched_wakeup", wake},
        {"sched_wakeup_new", wake},
        {"sched_migrate_task", "comm=" + comm + R"( pid=\d+ prio=\d+ orig_cpu=\d+ dest_cpu=\d+)"},
        {"sched_process_exit", "comm=" + comm + R"( pid=\d+ prio=\d+)"},
        {"sched_stat_runtime", "comm=" + comm + R"( pid=\d+ runtime=\d+ \[ns\])"},
        {"irq_handler_entry", R"(irq=\d+ name=\S+)"},
        {"irq_handler_exit", R"(irq=\d+ ret=(handled|unhandled))"},
        {"softirq_raise", vec},
        {"softirq_entry", vec},
        {"softirq_exit", vec},
        {"ipi_send_cpu", R"(cpu=\d+ callsite=[a-z_]+ callback=0x0)"},
        {"preempt_disable", caller},
        {"preempt_enable", caller},
        {"irq_disable", caller},
        {"irq_enable", caller},
        {"hrtimer_start",
         timer + R"( function=[a-z_]+ expires=\d+ softexpires=\d+ mode=(ABS|REL)(\|PINNED)?(\|SOFT|\|HARD)?)"},
        {"hrtimer_expire_entry", timer + R"( function=[a-z_]+ now=\d+)"},
        {"hrtimer_expire_exit", timer},
        {"hrtimer_cancel", timer},
        {"kpreempt_preempt",
         R"(point=(schedule|return_to_user|irq_exit|preempt_enable|cond_resched|might_resched|idle|exit))"
         R"( model=(none|voluntary|full) prev_pid=\d+ next_pid=\d+)"},
        {"kpreempt_nr_running", R"(cpu=\d+ nr_running=\d+)"},
    };
    std::map<std::string, std::regex> out;
    for (const auto& [name, re] : f) out.emplace(name, std::regex("^" + re + "$"));
    return out;
}();

// Checks every line of `text`, made by a run of `cpus` CPUs; returns the
// events seen, by name.
std::map<std::string, int> check_grammar(const std::string& text, int cpus) {
    const std::vector<std::string> lines = lines_of(text);
    std::map<std::string, int> seen;
    EXPECT_GT(lines.size(), header_lines);
    if (lines.size() <= header_lines) return seen;
    for (std::size_t i = 0; i < header_lines; ++i)
        EXPECT_TRUE(!header[i] || lines[i] == header[i]) << "header line " << i + 1 << ": " << lines[i];
    const std::regex entries_re(R"(^# entries-in-buffer/entries-written: (\d+)/(\d+)   #P:(\d+)$)");
    std::smatch m;
    EXPECT_TRUE(std::regex_match(lines[2], m, entries_re)) << lines[2];
    if (!m.empty()) {
        EXPECT_EQ(std::stoul(m[1]), lines.size() - header_lines);
        EXPECT_EQ(std::stoi(m[3]), cpus);
    }
    std::uint64_t last_usecs = 0;
    int failures = 0;
    for (std::size_t i = header_lines; i < lines.size() && failures < 10; ++i) {
        const std::string& line = lines[i];
        // The fixed columns: '-' after the comm, '[' after the pid, the
        // timestamp's '.' and ": " (" %5lu.%06lu: ").
        bool ok = std::regex_match(line, m, line_re) && line.size() > 51 && line[16] == '-' && line[25] == '[' &&
                  line[42] == '.' && line.compare(49, 2, ": ") == 0;
        ok = ok && std::regex_search(line, perfetto_re);
        if (ok) {
            const int cpu = std::stoi(m[3]);
            const std::uint64_t usecs = std::stoull(m[4]) * 1000000 + std::stoull(m[5]);
            const auto fields = fields_re.find(m[6]);
            ok = cpu < cpus && usecs >= last_usecs && fields != fields_re.end() &&
                 std::regex_match(m[7].str(), fields->second) && (m[1].str() == "          <idle>") == (m[2] == "0");
            last_usecs = usecs;
            ++seen[m[6]];
        }
        if (!ok) {
            ADD_FAILURE() << "line " << i + 1 << " breaks the grammar:\n" << line;
            ++failures;
        }
    }
    return seen;
}

TEST(FtraceGrammar, EveryLineOfABusyFourCpuRunWithAllEvents) {
    const run_result r = traced_run("desktop-mix.json", TRACE_ALL_EVENTS);
    EXPECT_EQ(r.trace_overwritten, 0u);
    const std::map<std::string, int> seen = check_grammar(r.trace, 4);
    for (const char* e : {"sched_switch", "sched_waking", "sched_wakeup", "sched_wakeup_new", "sched_migrate_task",
                          "sched_stat_runtime", "irq_handler_entry", "ipi_send_cpu", "preempt_disable", "irq_enable",
                          "hrtimer_start", "hrtimer_expire_entry", "kpreempt_preempt", "kpreempt_nr_running"})
        EXPECT_GT(seen.count(e), 0u) << e;
}

TEST(FtraceGrammar, EveryLineOfASoftirqStormWithAllEvents) {
    const run_result r = traced_run("softirq-storm.json", TRACE_ALL_EVENTS);
    EXPECT_EQ(r.trace_overwritten, 0u);
    const std::map<std::string, int> seen = check_grammar(r.trace, 1);
    for (const char* e : {"softirq_raise", "softirq_entry", "softirq_exit", "irq_handler_exit"})
        EXPECT_GT(seen.count(e), 0u) << e;
}

// The checker itself: lines a sloppy printer would write fail it.
TEST(FtraceGrammar, RejectsMalformedLines) {
    const run_result r = traced_run("seed-diagram.json", default_trace_events());
    const std::string good = r.trace;
    ASSERT_EQ(check_grammar(good, 1).count("sched_switch"), 1u);
    const std::string first = lines_of(good).at(header_lines);
    const std::vector<std::string> bad = {
        first.substr(1),                                            // comm column 15 wide
        std::string(first).replace(31, 5, "d..h1"),                 // flag in the wrong column
        std::string(first).replace(31, 5, "d.h1.."),                // six flags
        std::string(first).replace(44, 1, "x"),                     // timestamp
        std::string(first).replace(first.find("nr_running="), 11, "nr_running "),  // fields
    };
    for (const std::string& line : bad) {
        std::string text = good.substr(0, good.find(first)) + line + "\n";
        testing::TestPartResultArray failures;
        {
            testing::ScopedFakeTestPartResultReporter reporter(
                testing::ScopedFakeTestPartResultReporter::INTERCEPT_ONLY_CURRENT_THREAD, &failures);
            check_grammar(text, 1);
        }
        EXPECT_GT(failures.size(), 0) << "accepted:\n" << line;
    }
}

}  // namespace
}  // namespace kp::workload
