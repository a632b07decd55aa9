// The `trace` file: header, context columns, the merge of the CPUs' buffers
// (kernel/trace/trace.c: s_show, print_event_info,
// print_func_help_header_irq, trace_print_context; trace_output.c:
// trace_print_lat_fmt). The event fields are in ftrace_fields.cpp.
#include "tracing/ftrace_text.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>

#include "kernel/kernel.h"

namespace kp {

std::string task_comm(kernel& k, int pid) {
    if (pid == 0) return "<idle>";
    const task_struct* t = k.find_task(pid);
    return t ? t->comm : "<...>";
}

std::string format_trace_flags(const trace_entry& e) {
    const std::uint8_t f = e.flags;
    const bool irqs_off = f & TRACE_FLAG_IRQS_OFF, bh_off = f & TRACE_FLAG_BH_OFF;
    const bool nmi = f & TRACE_FLAG_NMI, hardirq = f & TRACE_FLAG_HARDIRQ, softirq = f & TRACE_FLAG_SOFTIRQ;
    // need-resched: TIF_NEED_RESCHED (N), TIF_NEED_RESCHED_LAZY (L) and the
    // folded PREEMPT_NEED_RESCHED (P), indexed N<<2 | L<<1 | P.
    const int resched = (f & TRACE_FLAG_NEED_RESCHED ? 4 : 0) | (f & TRACE_FLAG_NEED_RESCHED_LAZY ? 2 : 0) |
                        (f & TRACE_FLAG_PREEMPT_RESCHED ? 1 : 0);
    const unsigned depth = e.preempt & 0xfu;
    std::string out(5, '.');
    out[0] = irqs_off && bh_off ? 'D' : irqs_off ? 'd' : bh_off ? 'b' : '.';
    out[1] = ".plLnNbB"[resched];
    out[2] = nmi && hardirq ? 'Z' : nmi ? 'z' : hardirq && softirq ? 'H' : hardirq ? 'h' : softirq ? 's' : '.';
    if (depth) out[3] = "0123456789abcdef"[depth];
    // out[4], migrate-disable: nothing here disables migration.
    return out;
}

std::string format_trace_line(kernel& k, const trace_entry& e, trace_pointer_ids* ids) {
    // The timestamp is rounded to the microsecond (ns2usecs adds 500 ns).
    const std::uint64_t usecs = (static_cast<std::uint64_t>(e.time) + 500) / 1000;
    char head[96];
    std::snprintf(head, sizeof head, "%16s-%-7d [%03d] %s %5" PRIu64 ".%06" PRIu64 ": ", task_comm(k, e.pid).c_str(),
                  e.pid, e.cpu, format_trace_flags(e).c_str(), usecs / 1000000, usecs % 1000000);
    std::string line = head;
    line += trace_event_name(e.type);
    line += ": ";
    line += format_event_fields(k, e, ids);
    return line;
}

std::vector<trace_entry> merged_trace_entries(const kernel& k) {
    std::vector<trace_entry> all;
    for (int c = 0; c < k.nr_cpus(); ++c) {
        const trace_ring* r = k.trace.ring(c);
        if (!r) continue;
        const std::vector<trace_entry> mine = r->entries();
        all.insert(all.end(), mine.begin(), mine.end());
    }
    // Stable: equal times keep CPU order, then buffer order.
    std::stable_sort(all.begin(), all.end(),
                     [](const trace_entry& a, const trace_entry& b) { return a.time < b.time; });
    return all;
}

trace_totals trace_buffer_totals(const kernel& k) {
    trace_totals t;
    for (int c = 0; c < k.nr_cpus(); ++c) {
        if (const trace_ring* r = k.trace.ring(c)) {
            t.entries += r->in_buffer();
            t.written += r->written();
        }
    }
    return t;
}

namespace {

// print_func_help_header_irq, without record-tgid.
constexpr const char* irq_info_header =
    "#                                _-----=> irqs-off/BH-disabled\n"
    "#                               / _----=> need-resched\n"
    "#                              | / _---=> hardirq/softirq\n"
    "#                              || / _--=> preempt-depth\n"
    "#                              ||| / _-=> migrate-disable\n"
    "#                              |||| /     delay\n"
    "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n"
    "#              | |         |   |||||     |         |\n";

}  // namespace

std::string format_ftrace_text(kernel& k) {
    const trace_totals totals = trace_buffer_totals(k);
    char info[128];
    std::snprintf(info, sizeof info, "# entries-in-buffer/entries-written: %" PRIu64 "/%" PRIu64 "   #P:%d\n",
                  totals.entries, totals.written, k.nr_cpus());
    std::string out = "# tracer: nop\n#\n";
    out += info;
    out += "#\n";
    out += irq_info_header;
    trace_pointer_ids ids;
    for (const trace_entry& e : merged_trace_entries(k)) {
        out += format_trace_line(k, e, &ids);
        out += '\n';
    }
    return out;
}

}  // namespace kp
