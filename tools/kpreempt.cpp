// kpreempt: run rt-app workloads (with kernel extensions) on the simulated
// machine, or on the host's CPUs (--backend host), and report what the
// scheduler did.
//
// Exit codes: 0 ok, 2 bad input or usage, 1 internal error.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "cli_args.h"
#include "kernel/preempt/model.h"
#include "kernel/trace/callpath.h"
#include "kernel/trace/latency_tracer.h"
#include "latency_cli.h"
#include "tracing/event_list.h"
#include "tracing/ftrace_text.h"
#include "tracing/perfetto_json.h"
#include "workload/report.h"
#include "workload/runner.h"

namespace {

using namespace kp::workload;

constexpr const char* main_help =
    "usage: kpreempt <command> [options]\n"
    "\n"
    "commands:\n"
    "  run FILE       run an rt-app workload on the simulated machine (or the host's CPUs)\n"
    "  compare FILE   run it under several preemption models, one table\n"
    "  latency        cyclictest of kpreempt's kernel, under a load\n"
    "\n"
    "'kpreempt <command> --help' describes a command's options.\n";

constexpr const char* run_help =
    "usage: kpreempt run FILE [FILE...] [options]\n"
    "\n"
    "Runs the rt-app workload FILE (JSON, with kpreempt's kernel extensions) on\n"
    "the simulated machine and prints a summary. Options override the file.\n"
    "Several files are merged first, as rt-app's merge.py does.\n"
    "\n"
    "  --backend sim|host            the machine: sim, the simulated one (virtual time, deterministic;\n"
    "                                the default), or host: vCPU threads on the host's CPUs, in real\n"
    "                                time (results vary run to run; no NMI sources; docs/host.md)\n"
    "  --model none|voluntary|full   preemption model (default: file, else full)\n"
    "  --cpus N                      number of CPUs, 1 to 256\n"
    "  --hz N                        scheduler tick rate, 1 to 10000\n"
    "  --seed S                      seed of the random interrupt sources\n"
    "  --threadirqs                  force-threaded interrupts (the threadirqs boot option)\n"
    "  --ksoftirqd-defer             irq exit leaves softirqs to a runnable ksoftirqd (Linux 4.9-6.4)\n"
    "  --duration SECONDS            time to run, virtual or real (default: file's)\n"
    "  --report FILE.json            write the report as JSON\n"
    "  --timeline                    draw an ASCII timeline per CPU\n"
    "  --trace FILE                  write the trace: ftrace text, or Perfetto JSON for FILE.json\n"
    "  --events LIST                 events to trace, comma-separated: names, prefix* or all\n"
    "                                (default: sched_*, irq_handler_*, softirq_*, ipi_send_cpu, kpreempt_*)\n"
    "  --trace-buffer N              trace ring entries per CPU (default 262144; the oldest are overwritten)\n"
    "  --latency-tracer NAME         irqsoff, preemptoff, preemptirqsoff, wakeup or wakeup_rt: print the\n"
    "                                longest window in the kernel's latency format after the summary\n"
    "  --tracing-thresh US           with --latency-tracer: every window of at least US microseconds\n"
    "  --latency-report FILE         with --latency-tracer: write the report to FILE instead\n"
    "  --callpaths FUNC[,FUNC...]    count the call paths into these kernel functions and print them\n"
    "                                as bpftrace prints @[kstack] = count() (docs/tracing.md)\n";

constexpr const char* compare_help =
    "usage: kpreempt compare FILE [FILE...] --models none,voluntary,full [options]\n"
    "\n"
    "Runs FILE once per model and prints one table, a column per model.\n"
    "Takes --backend, --cpus, --hz, --seed, --duration, --threadirqs and --ksoftirqd-defer as 'run' does.\n"
    "Takes --trace FILE, --events and --trace-buffer too, and writes one trace per model:\n"
    "FILE with the model before its extension (out.txt: out.none.txt, out.voluntary.txt, ...).\n"
    "Takes --latency-tracer, --tracing-thresh and --latency-report: one report per model, in order.\n";

using kpcli::model;
using kpcli::number;
using kpcli::usage_error;

struct cli {
    std::string command;
    std::vector<std::string> files;
    run_options opt;
    std::string report;
    bool timeline = false;
    bool help = false;
    std::vector<kp::preempt_mode> models;
    std::string trace;                        // --trace FILE
    std::optional<std::string> events;        // --events LIST
    std::optional<std::size_t> trace_buffer;  // --trace-buffer N
    std::string latency_report;  // --latency-report FILE
    bool tracing_thresh = false;  // --tracing-thresh given
};

std::string latency_tracer_arg(const std::string& flag, const std::string& v) {
    if (kp::make_latency_tracer(v)) return v;
    std::string names;
    for (std::string_view n : kp::latency_tracer_names()) names += (names.empty() ? "" : ", ") + std::string(n);
    throw usage_error{flag + ": unknown tracer '" + v + "' (" + names + ")"};
}

// --tracing-thresh and --latency-report only mean something with a tracer.
void check_latency_tracing(const cli& c) {
    if (!c.opt.latency_tracer.empty()) return;
    if (c.tracing_thresh) throw usage_error{"--tracing-thresh: needs --latency-tracer NAME"};
    if (!c.latency_report.empty()) throw usage_error{"--latency-report: needs --latency-tracer NAME"};
}

// --callpaths: functions that mark themselves on the shadow call stack.
std::vector<std::string> callpaths_arg(const std::string& flag, const std::string& list) {
    if (!kp::callpaths_compiled)
        throw usage_error{flag + ": this build has no call-path marks (configure with -DKP_CALLPATHS=ON)"};
    std::vector<std::string> out;
    for (std::size_t p = 0; p <= list.size();) {
        const std::size_t q = std::min(list.find(',', p), list.size());
        const std::string fn = list.substr(p, q - p);
        const auto& known = kp::callpath_functions();
        if (std::find(known.begin(), known.end(), fn) == known.end()) {
            std::string names;
            for (std::string_view n : known) names += (names.empty() ? "" : ", ") + std::string(n);
            throw usage_error{flag + ": no call paths for '" + fn + "' (" + names + ")"};
        }
        out.push_back(fn);
        p = q + 1;
    }
    return out;
}

const std::string& file_name(const std::string& flag, const std::string& v) {
    if (v.empty()) throw usage_error{flag + ": needs a file name"};
    return v;
}

// --trace, --events, --trace-buffer: what run_workload records and prints.
void set_tracing(cli& c) {
    if (c.trace.empty()) {
        if (c.events) throw usage_error{"--events: needs --trace FILE"};
        if (c.trace_buffer) throw usage_error{"--trace-buffer: needs --trace FILE"};
        return;
    }
    if (c.trace_buffer) c.opt.trace_buffer = *c.trace_buffer;
    try {
        c.opt.trace_events = c.events ? kp::parse_trace_events(*c.events) : kp::default_trace_events();
    } catch (const kp::trace_event_list_error& e) {
        throw usage_error{"--events: " + std::string(e.what())};
    }
    if (c.trace.ends_with(".json")) c.opt.trace_format = kp::format_perfetto_json;
    else c.opt.trace_format = kp::format_ftrace_text;
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
        else if (a == "--backend") c.opt.backend = kpcli::backend(a, value());
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
        else if (a == "--trace") c.trace = file_name(a, value());
        else if (a == "--events") c.events = value();
        else if (a == "--trace-buffer") c.trace_buffer = static_cast<std::size_t>(number(a, value(), 1, 1 << 24));
        else if (a == "--callpaths" && c.command == "run") c.opt.callpaths = callpaths_arg(a, value());
        else if (a == "--latency-tracer") c.opt.latency_tracer = latency_tracer_arg(a, value());
        else if (a == "--tracing-thresh") {
            c.opt.tracing_thresh = kp::usecs(number(a, value(), 0, 1000000000));
            c.tracing_thresh = true;
        } else if (a == "--latency-report") {
            c.latency_report = value();
            if (c.latency_report.empty()) throw usage_error{"--latency-report: needs a file name"};
        }
        else if (!a.empty() && a[0] == '-') throw usage_error{"unknown option '" + a + "' for '" + c.command + "'"};
        else c.files.push_back(a);
    }
    if (c.help) return c;
    if (c.files.empty()) throw usage_error{"missing workload FILE"};
    if (c.command == "compare" && c.models.empty())
        c.models = {kp::preempt_mode::none, kp::preempt_mode::voluntary, kp::preempt_mode::full};
    set_tracing(c);
    check_latency_tracing(c);
    return c;
}

// Opens FILE for writing before the run, so that a bad path fails at once.
std::ofstream open_trace(const std::string& file) {
    std::ofstream out(file, std::ios::binary);
    if (!out) throw usage_error{"--trace: cannot write '" + file + "'"};
    return out;
}

// Writes a run's trace; a ring that overwrote entries is reported, never
// silently dropped.
void write_trace(std::ofstream& out, const std::string& file, const run_result& r, std::size_t per_cpu) {
    out << r.trace;
    out.flush();
    if (!out) throw usage_error{"--trace: cannot write '" + file + "'"};
    if (r.trace_overwritten)
        std::fprintf(stderr,
                     "kpreempt: warning: %s: the trace buffers overwrote the oldest %llu of %llu entries; "
                     "raise --trace-buffer (now %zu per CPU) or trace fewer --events\n",
                     file.c_str(), static_cast<unsigned long long>(r.trace_overwritten),
                     static_cast<unsigned long long>(r.trace_written), per_cpu);
}

// compare's trace of one model: FILE with the model inserted before its
// extension (out.txt -> out.none.txt; out -> out.none).
std::string trace_file_for(const std::string& file, kp::preempt_mode m) {
    const std::string model(kp::preempt_mode_name(m));
    const std::size_t slash = file.find_last_of('/');
    const std::size_t dot = file.find_last_of('.');
    const std::size_t name = slash == std::string::npos ? 0 : slash + 1;
    if (dot == std::string::npos || dot <= name) return file + "." + model;
    return file.substr(0, dot) + "." + model + file.substr(dot);
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

// --latency-tracer's reports (one per run, in order) after the summary, or
// into --latency-report FILE.
void write_latency_reports(const cli& c, const std::vector<const run_result*>& runs) {
    if (c.opt.latency_tracer.empty()) return;
    std::string text;
    for (const run_result* r : runs) {
        if (!text.empty()) text += '\n';
        text += r->latency_report;
    }
    if (c.latency_report.empty()) {
        std::fputc('\n', stdout);
        std::fputs(text.c_str(), stdout);
        return;
    }
    std::ofstream out(c.latency_report, std::ios::binary);
    out << text;
    if (!out) throw usage_error{"--latency-report: cannot write '" + c.latency_report + "'"};
}

int run(const cli& c) {
    const workload w = load_workload(c.files);
    std::ofstream trace_out;
    if (!c.trace.empty()) trace_out = open_trace(c.trace);
    const run_result r = run_workload(w, c.opt);
    if (!c.trace.empty()) write_trace(trace_out, c.trace, r, c.opt.trace_buffer);
    std::fputs(format_summary(r).c_str(), stdout);
    if (c.timeline) {
        // Two fputs, not "\n" + string: g++ 12 -O3 reports a false -Werror=restrict in that operator+.
        std::fputc('\n', stdout);
        std::fputs(format_timeline(r, terminal_width()).c_str(), stdout);
    }
    write_latency_reports(c, {&r});
    if (!r.callpaths.empty()) {
        std::fputc('\n', stdout);
        std::fputs(r.callpaths.c_str(), stdout);
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
        const std::string trace = c.trace.empty() ? std::string() : trace_file_for(c.trace, m);
        std::ofstream trace_out;
        if (!trace.empty()) trace_out = open_trace(trace);
        runs.push_back(run_workload(w, o));
        if (!trace.empty()) write_trace(trace_out, trace, runs.back(), o.trace_buffer);
    }
    std::fputs(format_compare(runs).c_str(), stdout);
    std::vector<const run_result*> reports;
    for (const run_result& r : runs) reports.push_back(&r);
    write_latency_reports(c, reports);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc > 1 && std::string(argv[1]) == "latency") return latency_command({argv + 2, argv + argc});
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
