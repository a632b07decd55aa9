// What the kpreempt commands share in reading their arguments: the usage
// error (exit 2, its text names the option) and the common value parsers.
#pragma once

#include <cstdlib>
#include <string>

#include "kernel/preempt/model.h"
#include "workload/runner.h"

namespace kpcli {

struct usage_error {
    std::string what;
};

inline long long number(const std::string& flag, const std::string& v, long long lo, long long hi) {
    char* end = nullptr;
    const long long n = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end != '\0' || n < lo || n > hi)
        throw usage_error{flag + ": expected an integer from " + std::to_string(lo) + " to " + std::to_string(hi) +
                          ", got '" + v + "'"};
    return n;
}

inline kp::preempt_mode model(const std::string& flag, const std::string& v) {
    auto m = kp::parse_preempt_mode(v);
    if (!m) throw usage_error{flag + ": unknown model '" + v + "' (none, voluntary, full)"};
    return *m;
}

// --backend: the machine the kernel runs on.
inline kp::workload::backend_kind backend(const std::string& flag, const std::string& v) {
    if (v == "sim") return kp::workload::backend_kind::sim;
    if (v == "host") return kp::workload::backend_kind::host;
    throw usage_error{flag + ": unknown backend '" + v + "' (sim: the simulated machine, host: the host's CPUs)"};
}

}  // namespace kpcli
