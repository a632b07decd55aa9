#include "tracing/event_list.h"

#include <algorithm>

#include "kernel/trace/trace.h"

namespace kp {

namespace {

// The events whose names start with `prefix` (all of them for "").
std::uint64_t events_with_prefix(std::string_view prefix) {
    std::uint64_t mask = 0;
    for (int i = 0; i < NR_TRACE_EVENTS; ++i) {
        const auto e = static_cast<trace_event>(i);
        if (trace_event_name(e).starts_with(prefix)) mask |= trace_bit(e);
    }
    return mask;
}

std::uint64_t one_item(std::string_view item) {
    if (item == "all") return TRACE_ALL_EVENTS;
    if (item.ends_with('*')) {
        const std::uint64_t mask = events_with_prefix(item.substr(0, item.size() - 1));
        if (mask) return mask;
    } else if (const trace_event e = trace_event_by_name(item); e != trace_event::nr_events) {
        return trace_bit(e);
    }
    throw trace_event_list_error("unknown event '" + std::string(item) + "' (valid: " + trace_event_names() +
                                 ", or a prefix with '*', e.g. sched_*)");
}

}  // namespace

std::uint64_t default_trace_events() {
    return events_with_prefix("sched_") | events_with_prefix("irq_handler_") | events_with_prefix("softirq_") |
           trace_bit(trace_event::ipi_send_cpu) | events_with_prefix("kpreempt_");
}

std::uint64_t parse_trace_events(std::string_view list) {
    std::uint64_t mask = 0;
    for (std::size_t p = 0; p <= list.size();) {
        const std::size_t q = std::min(list.find(',', p), list.size());
        mask |= one_item(list.substr(p, q - p));
        p = q + 1;
    }
    return mask;
}

std::string trace_event_names() {
    std::string out = "all";
    for (int i = 0; i < NR_TRACE_EVENTS; ++i) {
        out += ", ";
        out += trace_event_name(static_cast<trace_event>(i));
    }
    return out;
}

}  // namespace kp
