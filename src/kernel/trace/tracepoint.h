// trace_<event>(...): fire a tracepoint on the calling CPU (or, while a
// machine is being set up and no CPU runs, as CPU 0's idle task). Off, it is
// a no-op instruction (a site of the static key trace_key); everything
// else is in a cold function out of line, so that a tracepoint takes no
// registers or stack from the function it sits in.
#pragma once

#include "kernel/kernel.h"

namespace kp {

template <class... A>
[[gnu::cold, gnu::noinline]] void trace_point_slow(kernel& k, trace_event e, A... args) {
    percpu* pc = this_cpu_ptr;
    const std::uint64_t live = pc ? pc->trace_mask : k.trace.live_mask;
    if (live & trace_bit(e)) k.trace.record(pc, e, {static_cast<std::int64_t>(args)...}, k.arch().now());
}

template <class... A>
[[gnu::cold, gnu::noinline]] void trace_point_slow(trace_event e, A... args) {
    percpu* pc = this_cpu_ptr;
    if (pc->trace_mask & trace_bit(e))
        pc->k->trace.record(pc, e, {static_cast<std::int64_t>(args)...}, pc->k->arch().now());
}

template <class... A>
inline void trace_point(kernel& k, trace_event e, A... args) {
    if constexpr (!tracepoints_compiled) return;
    if (trace_gate_open()) [[unlikely]]
        trace_point_slow(k, e, args...);
}

// On the calling CPU, which must exist.
template <class... A>
inline void trace_point(trace_event e, A... args) {
    if constexpr (!tracepoints_compiled) return;
    if (trace_gate_open()) [[unlikely]]
        trace_point_slow(e, args...);
}

}  // namespace kp
