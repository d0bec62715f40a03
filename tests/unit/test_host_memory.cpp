// The memory limit host allocations are checked against (src/core/host_memory.h): control-group
// limits read from /proc/self/cgroup's groups and their ancestors, v1 and v2, with "max",
// unlimited and missing files ignored; and the process's own limit never above the machine's.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "core/host_memory.h"

namespace gqa {
namespace {

using host_memory_detail::cgroup_limit_bytes;

// A file system of limit files: path -> contents ("" for anything else).
struct Files {
  std::map<std::string, std::string> files;
  std::string operator()(const std::string& path) const {
    const auto it = files.find(path);
    return it == files.end() ? "" : it->second;
  }
};

TEST(HostMemory, CgroupV2LimitOfTheGroupOrAnAncestor) {
  const std::string self = "0::/kubepods/pod1/ctr\n";
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "4294967296\n"}}}),
            4294967296u);
  // the pod's limit above an unlimited container
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "max\n"},
                                            {"/sys/fs/cgroup/kubepods/pod1/memory.max", "2147483648\n"}}}),
            2147483648u);
  // the smallest along the path
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "3000\n"},
                                            {"/sys/fs/cgroup/kubepods/memory.max", "2000\n"},
                                            {"/sys/fs/cgroup/memory.max", "5000\n"}}}),
            2000u);
  // a namespaced view: the group is the mount's root
  EXPECT_EQ(cgroup_limit_bytes("0::/\n", Files{{{"/sys/fs/cgroup/memory.max", "1234\n"}}}), 1234u);
  EXPECT_EQ(cgroup_limit_bytes(self, Files{}), 0u);
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/kubepods/pod1/ctr/memory.max", "max\n"}}}), 0u);
}

TEST(HostMemory, CgroupV1MemoryHierarchyOnly) {
  const std::string self = "12:pids:/docker/abc\n4:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc\n1:name=systemd:/\n";
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "8589934592\n"}}}),
            8589934592u);
  // unlimited (the kernel's page-rounded LONG_MAX) at the leaf; the container's own mount root
  // (a path the process cannot see below) holds the limit
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                                             "9223372036854771712\n"},
                                            {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "1073741824\n"}}}),
            1073741824u);
  // a limit file of another controller's hierarchy does not count
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/cpu,cpuacct/docker/abc/memory.limit_in_bytes", "10\n"}}}),
            0u);
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes",
                                             "9223372036854771712\n"}}}),
            0u);  // unlimited only: no limit
  // an ancestor without hierarchical accounting does not limit the group below it
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/memory/docker/memory.limit_in_bytes", "1000\n"},
                                            {"/sys/fs/cgroup/memory/docker/memory.use_hierarchy", "0\n"}}}),
            0u);
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/memory/docker/memory.limit_in_bytes", "1000\n"},
                                            {"/sys/fs/cgroup/memory/docker/memory.use_hierarchy", "1\n"}}}),
            1000u);
  // "memory" among several controllers of one hierarchy
  EXPECT_EQ(cgroup_limit_bytes("5:cpu,memory:/g\n", Files{{{"/sys/fs/cgroup/memory/g/memory.limit_in_bytes", "77\n"}}}),
            77u);
}

TEST(HostMemory, MalformedFilesAndLinesAreIgnored) {
  const Files files{{{"/sys/fs/cgroup/a/memory.max", "12x\n"},
                     {"/sys/fs/cgroup/memory.max", "-5\n"},
                     {"/sys/fs/cgroup/b/memory.max", "99999999999999999999999999\n"}}};
  EXPECT_EQ(cgroup_limit_bytes("0::/a\n", files), 0u);
  EXPECT_EQ(cgroup_limit_bytes("0::/b\n", files), 0u);  // past size_t: no limit
  EXPECT_EQ(cgroup_limit_bytes("garbage\n\n:\n", files), 0u);
  EXPECT_EQ(cgroup_limit_bytes("", files), 0u);
}

TEST(HostMemory, TheProcessLimitIsAtMostTheMachine) {
  const MemoryLimit m = memory_limit();
  const size_t machine = physical_memory_bytes();
  EXPECT_EQ(m.sharers, 1);
  if (machine > 0) {
    EXPECT_GT(m.bytes, 0u);
    EXPECT_LE(m.bytes, machine);
    EXPECT_EQ(m.cgroup, m.bytes < machine);
  }
  EXPECT_NE(m.source().find(m.cgroup ? "control group" : "physical"), std::string::npos);
  EXPECT_EQ(m.source().find("ranks"), std::string::npos);
}

TEST(HostMemory, RanksOnOneMachineEachGetTheirShare) {
  const MemoryLimit whole = memory_limit();
  set_processes_on_this_machine(4);
  const MemoryLimit share = memory_limit();
  set_processes_on_this_machine(1);
  EXPECT_EQ(share.sharers, 4);
  EXPECT_EQ(share.bytes, whole.bytes / 4);
  EXPECT_NE(share.source().find("divided among the 4 ranks on this machine"), std::string::npos) << share.source();
  EXPECT_EQ(memory_limit().bytes, whole.bytes);
  set_processes_on_this_machine(0);  // (refused: taken as 1)
  EXPECT_EQ(memory_limit().sharers, 1);
}

// v1: a group's own limit counts whatever its memory.use_hierarchy says (that file only decides
// whether an ancestor's limit reaches the groups below it). Found by mutation testing (reading the
// leaf's use_hierarchy too passed every test).
TEST(HostMemory, CgroupV1LeafLimitCountsWithoutHierarchy) {
  const std::string self = "4:memory:/docker/abc\n";
  EXPECT_EQ(cgroup_limit_bytes(self, Files{{{"/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes", "500\n"},
                                            {"/sys/fs/cgroup/memory/docker/abc/memory.use_hierarchy", "0\n"}}}),
            500u);
}

// Hybrid hierarchies (v1 memory plus the v2 unified line): the smallest limit of all the lines,
// whichever line comes first. Found by mutation testing (keeping the last line's limit passed
// every test).
TEST(HostMemory, TheSmallestLimitOfEveryLine) {
  const Files files{{{"/sys/fs/cgroup/g/memory.max", "300\n"},
                     {"/sys/fs/cgroup/memory/g/memory.limit_in_bytes", "700\n"}}};
  EXPECT_EQ(cgroup_limit_bytes("0::/g\n4:memory:/g\n", files), 300u);
  EXPECT_EQ(cgroup_limit_bytes("4:memory:/g\n0::/g\n", files), 300u);
}

}  // namespace
}  // namespace gqa
