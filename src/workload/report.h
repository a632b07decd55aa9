// The reports of a run: a terminal summary, the JSON report (schema in
// docs/report-schema.md), an ASCII timeline, and the comparison table.
#pragma once

#include <string>
#include <vector>

#include "workload/runner.h"

namespace kp::workload {

std::string format_summary(const run_result& r);
std::string format_json(const run_result& r);
std::string format_timeline(const run_result& r, int width);
std::string format_compare(const std::vector<run_result>& runs);

}  // namespace kp::workload
