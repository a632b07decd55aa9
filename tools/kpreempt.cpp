// kpreempt: run rt-app workloads (with kernel extensions) on the simulated
// machine and report what the scheduler did.
//
// Exit codes: 0 ok, 2 bad input or usage, 1 internal error.
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "kernel/preempt/model.h"
#include "workload/report.h"
#include "workload/runner.h"

namespace {

using namespace kp::workload;

constexpr const char* main_help =
    "usage: kpreempt <command> [options]\n"
    "\n"
    "commands:\n"
    "  run FILE       run an rt-app workload on the simulated machine\n"
    "  compare FILE   run it under several preemption models, one table\n"
    "\n"
    "'kpreempt <command> --help' describes a command's options.\n";

constexpr const char* run_help =
    "usage: kpreempt run FILE [FILE...] [options]\n"
    "\n"
    "Runs the rt-app workload FILE (JSON, with kpreempt's kernel extensions) on\n"
    "the simulated machine and prints a summary. Options override the file.\n"
    "Several files are merged first, as rt-app's merge.py does.\n"
    "\n"
    "  --model none|voluntary|full   preemption model (default: file, else full)\n"
    "  --cpus N                      number of CPUs, 1 to 256\n"
    "  --hz N                        scheduler tick rate, 1 to 10000\n"
    "  --seed S                      seed of the random interrupt sources\n"
    "  --threadirqs                  force-threaded interrupts (the threadirqs boot option)\n"
    "  --ksoftirqd-defer             irq exit leaves softirqs to a runnable ksoftirqd (Linux 4.9-6.4)\n"
    "  --duration SECONDS            virtual time to run (default: file's)\n"
    "  --report FILE.json            write the report as JSON\n"
    "  --timeline                    draw an ASCII timeline per CPU\n";

constexpr const char* compare_help =
    "usage: kpreempt compare FILE [FILE...] --models none,voluntary,full [options]\n"
    "\n"
    "Runs FILE once per model and prints one table, a column per model.\n"
    "Takes --cpus, --hz, --seed, --duration, --threadirqs and --ksoftirqd-defer as 'run' does.\n";

struct usage_error {
    std::string what;
};

struct cli {
    std::string command;
    std::vector<std::string> files;
    run_options opt;
    std::string report;
    bool timeline = false;
    bool help = false;
    std::vector<kp::preempt_mode> models;
};

long long number(const std::string& flag, const std::string& v, long long lo, long long hi) {
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < lo || n > hi)
        throw usage_error{flag + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                          ", got '" + v + "'"};
    return n;
}

kp::preempt_mode model(const std::string& flag, const std::string& v) {
    auto m = kp::parse_preempt_mode(v);
    if (!m) throw usage_error{flag + ": unknown model '" + v + "' (none, voluntary, full)"};
    return *m;
}

cli parse_args(int argc, char** argv) {
    cli c;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty()) throw usage_error{"missing command"};
    c.command = args[0];
    if (c.command == "--help" || c.command == "-h") {
        c.help = true;
        return c;
    }
    if (c.command != "run" && c.command != "compare") throw usage_error{"unknown command '" + c.command + "'"};
    for (std::size_t i = 1; i < args.size(); ++i) {
        const std::string& a = args[i];
        auto value = [&]() -> const std::string& {
            if (i + 1 >= args.size()) throw usage_error{a + ": needs a value"};
            return args[++i];
        };
        if (a == "--help" || a == "-h") c.help = true;
        else if (a == "--model" && c.command == "run") c.opt.model = model(a, value());
        else if (a == "--models" && c.command == "compare") {
            std::string list = value();
            for (std::size_t p = 0; p <= list.size();) {
                const std::size_t q = std::min(list.find(',', p), list.size());
                c.models.push_back(model(a, list.substr(p, q - p)));
                p = q + 1;
            }
        } else if (a == "--cpus") c.opt.cpus = static_cast<int>(number(a, value(), 1, 256));
        else if (a == "--hz") c.opt.hz = static_cast<int>(number(a, value(), 1, 10000));
        else if (a == "--seed") c.opt.seed = static_cast<std::uint64_t>(number(a, value(), 0, INT64_MAX));
        else if (a == "--threadirqs") c.opt.threadirqs = true;
        else if (a == "--ksoftirqd-defer") c.opt.ksoftirqd_defer = true;
        else if (a == "--duration") c.opt.duration = kp::secs(number(a, value(), 1, 86400));
        else if (a == "--report" && c.command == "run") c.report = value();
        else if (a == "--timeline" && c.command == "run") c.timeline = true;
        else if (!a.empty() && a[0] == '-') throw usage_error{"unknown option '" + a + "' for '" + c.command + "'"};
        else c.files.push_back(a);
    }
    if (c.help) return c;
    if (c.files.empty()) throw usage_error{"missing workload FILE"};
    if (c.command == "compare" && c.models.empty())
        c.models = {kp::preempt_mode::none, kp::preempt_mode::voluntary, kp::preempt_mode::full};
    return c;
}

int terminal_width() {
    winsize ws{};
    if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* c = std::getenv("COLUMNS")) {
        const int n = std::atoi(c);
        if (n > 0) return n;
    }
    return 100;
}

int run(const cli& c) {
    const workload w = load_workload(c.files);
    const run_result r = run_workload(w, c.opt);
    std::fputs(format_summary(r).c_str(), stdout);
    if (c.timeline) {
        // Two fputs, not "\n" + string: g++ 12 -O3 reports a false -Werror=restrict in that operator+.
        std::fputc('\n', stdout);
        std::fputs(format_timeline(r, terminal_width()).c_str(), stdout);
    }
    if (!c.report.empty()) {
        std::ofstream out(c.report, std::ios::binary);
        out << format_json(r);
        if (!out) throw usage_error{"--report: cannot write '" + c.report + "'"};
    }
    return 0;
}

int compare(const cli& c) {
    const workload w = load_workload(c.files);
    std::vector<run_result> runs;
    for (kp::preempt_mode m : c.models) {
        run_options o = c.opt;
        o.model = m;
        runs.push_back(run_workload(w, o));
    }
    std::fputs(format_compare(runs).c_str(), stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const cli c = parse_args(argc, argv);
        if (c.help) {
            std::fputs(c.command == "run" ? run_help : c.command == "compare" ? compare_help : main_help, stdout);
            return 0;
        }
        return c.command == "run" ? run(c) : compare(c);
    } catch (const usage_error& e) {
        std::fprintf(stderr, "kpreempt: %s\nTry 'kpreempt --help'.\n", e.what.c_str());
        return 2;
    } catch (const workload_error& e) {
        std::fprintf(stderr, "kpreempt: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "kpreempt: internal error: %s\n", e.what());
        return 1;
    }
}
