// The kernel's trace buffers as text, in the format of tracefs's `trace`
// file (kernel/trace/trace.c, trace_output.c; event formats from
// include/trace/events/*.h, Linux 6.12): the header, then one line per entry
// of every CPU, merged by time. Perfetto's ftrace-text importer and
// trace-cmd's readers take this format (docs/tracing.md).
//
// The pieces a line is made of are here too, for other printers (the
// latency tracers' reports).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernel/trace/trace.h"

namespace kp {

class kernel;

// The comm a line starts with: "<idle>" for pid 0 (as trace_find_cmdline),
// "<...>" for a pid the kernel does not know.
std::string task_comm(kernel& k, int pid);

// The five latency columns (trace_print_lat_fmt): irqs-off/BH,
// need-resched, hardirq/softirq, preempt depth, migrate-disable.
std::string format_trace_flags(const trace_entry& e);

// "%pS" of a code address: "symbol+0xoff/0xsize" when the dynamic symbol
// table has it, else the address's offset in its executable or library as
// "0x%lx" (the same in every run of one binary, whatever ASLR did), "0x0"
// for a null address.
std::string format_code_address(std::uintptr_t addr);

// "%p" of an object address (an hrtimer). Raw addresses differ from run to
// run, so each object gets a number at its first appearance, printed as
// the kernel prints a hashed pointer (16 hex digits). One instance per
// printed trace keeps the numbers consistent within it.
class trace_pointer_ids {
public:
    std::string format(std::int64_t ptr);

private:
    std::unordered_map<std::int64_t, std::uint64_t> ids_;
};

// The text after "<event>: " (the event's TP_printk). Without `ids`,
// object pointers print as their raw value (not reproducible).
std::string format_event_fields(kernel& k, const trace_entry& e, trace_pointer_ids* ids = nullptr);

// One whole line, without the newline.
std::string format_trace_line(kernel& k, const trace_entry& e, trace_pointer_ids* ids = nullptr);

// Every CPU's buffered entries merged by time; ties in CPU order, then in
// buffer order (as the trace iterator takes the first lowest timestamp).
std::vector<trace_entry> merged_trace_entries(const kernel& k);

// What the buffers held and lost (the header's entries-in-buffer and
// entries-written).
struct trace_totals {
    std::uint64_t entries = 0;  // still in the buffers
    std::uint64_t written = 0;  // ever recorded (entries + overwritten)
    std::uint64_t overwritten() const { return written - entries; }
};
trace_totals trace_buffer_totals(const kernel& k);

// The whole `trace` file: "# tracer: nop", the header block, every line.
std::string format_ftrace_text(kernel& k);

}  // namespace kp
