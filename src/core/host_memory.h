// What the machine lets this process hold (host side): for refusing an allocation Linux would
// grant (it overcommits) and then kill the process over, once its pages are touched.
#pragma once

#include <cstddef>
#include <functional>
#include <string>

namespace gqa {

// The machine's physical memory in bytes (0 if the system does not say).
size_t physical_memory_bytes();

// The memory this process may use: the machine's physical memory, or less where a control group
// caps it (a container's limit: cgroup v2 memory.max or v1 memory.limit_in_bytes of the process's
// own group or of any group above it; asked once), divided among this job's processes on the
// machine (set_processes_on_this_machine), which allocate alike. (Ranks that MPI counts as one
// node but that run in containers of their own, each with its own limit, get less than theirs.)
struct MemoryLimit {
  size_t bytes = 0;     // 0: the system says neither
  bool cgroup = false;  // the limit is a control group's, below the physical memory
  int sharers = 1;      // this job's processes on the machine, the limit divided among them
  // e.g. "the machine's physical memory, divided among the 4 ranks on this machine"
  std::string source() const;
};
MemoryLimit memory_limit();

// How many of this job's processes share this machine's memory (MpiSession sets its node's rank
// count; 1 until then). n >= 1.
void set_processes_on_this_machine(int n);

namespace host_memory_detail {
// The smallest memory limit of the control groups /proc/self/cgroup's text `self_cgroup` names
// (v2 "0::/path" under /sys/fs/cgroup, v1 the "memory" hierarchy under /sys/fs/cgroup/memory;
// each group's file and its ancestors' up to the hierarchy's root; a v1 ancestor only where its
// memory.use_hierarchy is not 0), read through `read` (a file's contents, "" when missing); 0 when
// none is set ("max", v1's unlimited value (>= 2^62), absent, unreadable).
size_t cgroup_limit_bytes(const std::string& self_cgroup, const std::function<std::string(const std::string&)>& read);
}  // namespace host_memory_detail

}  // namespace gqa
