// How many cores this process may use: the CPUs its affinity mask allows
// (taskset, a container's cpuset), further bounded by a cgroup v2 CPU quota
// (`cpu.max`, what Docker's --cpus and a Kubernetes CPU limit set), rounded
// up. std::thread::hardware_concurrency() counts every CPU of the machine,
// so a server pinned to one core or limited to two would start threads for
// all of them and have them preempt each other. Defaults that say "one per
// core" use this.
#pragma once

#include <string_view>

namespace slipway::core {

int UsableCores();

// The quota in a cgroup v2 `cpu.max` text ("200000 100000": two cores;
// "max 100000": none), rounded up to whole cores; 0 when there is none or
// the text is not one.
int CoresOfCpuMax(std::string_view text);

}  // namespace slipway::core
