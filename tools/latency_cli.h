// `kpreempt latency`: cyclictest of kpreempt's kernel on either machine
// (src/workload/cyclictest.h), with kpreempt's machine and load options.
#pragma once

#include <string>
#include <vector>

// Runs the command on its arguments (those after "latency") and returns the
// exit code. Usage errors and bad load files are reported here (exit 2);
// anything else propagates.
int latency_command(const std::vector<std::string>& args);
