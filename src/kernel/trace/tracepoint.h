// trace_<event>(...): fire a tracepoint on the calling CPU (or, while a
// machine is being set up and no CPU runs, as CPU 0's idle task). Off, it is
// one load and a branch not taken.
#pragma once

#include "kernel/kernel.h"

namespace kp {

template <class... A>
inline void trace_point(kernel& k, trace_event e, A... args) {
    if constexpr (!tracepoints_compiled) return;
    if (!trace_gate_open()) [[likely]]
        return;
    percpu* pc = this_cpu_ptr;
    const std::uint64_t live = pc ? pc->trace_mask : k.trace.live_mask;
    if (live & trace_bit(e)) [[unlikely]]
        k.trace.record(pc, e, {static_cast<std::int64_t>(args)...}, k.arch().now());
}

// On the calling CPU, which must exist.
template <class... A>
inline void trace_point(trace_event e, A... args) {
    if constexpr (!tracepoints_compiled) return;
    if (!trace_gate_open()) [[likely]]
        return;
    percpu* pc = this_cpu_ptr;
    if (pc->trace_mask & trace_bit(e)) [[unlikely]]
        pc->k->trace.record(pc, e, {static_cast<std::int64_t>(args)...}, pc->k->arch().now());
}

}  // namespace kp
