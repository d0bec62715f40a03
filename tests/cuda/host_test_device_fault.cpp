// The host side of the device fault record (kernels/cuda/device_fault.h), no GPU needed: each code's
// sentence, an unknown code and object, the empty record; the kernel objects that trap registered
// under their source files. (A kernel writing the record and the host's error carrying it:
// tests/cuda/test_gemv_rope.cpp's death test, on a GPU.)
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/cuda/attention_decode_mma.h"
#include "kernels/cuda/device_fault.h"
#include "kernels/cuda/gemv_rope.h"

namespace gqa {
namespace {

using cuda::DeviceFaultCode;
using cuda::DeviceFaultRecord;

// The index of `source` among the registered objects (fails the test when it is not there).
uint32_t object_of(const std::string& source) {
  const std::vector<std::string> objects = cuda::device_fault_objects();
  const auto it = std::find(objects.begin(), objects.end(), source);
  std::string all;
  for (const std::string& o : objects) all += " " + o;
  EXPECT_NE(it, objects.end()) << source << " is not registered; the registered:" << all;
  return static_cast<uint32_t>(it - objects.begin());
}

DeviceFaultRecord record(DeviceFaultCode code, uint32_t object) {
  DeviceFaultRecord r{};
  r.code = static_cast<uint32_t>(code);
  r.object = object;
  r.line = 57;
  r.block[0] = 5;
  r.block[1] = 1;
  r.thread[0] = 256;
  return r;
}

void expect_says(const std::string& text, const std::vector<std::string>& parts) {
  for (const std::string& p : parts) EXPECT_NE(text.find(p), std::string::npos) << "'" << p << "' not in: " << text;
}

TEST(CudaDeviceFault, KernelObjectsThatTrapAreRegisteredBySourceFile) {
  // (referenced, so the linker keeps their objects and their registrations)
  static bool (*volatile keep_rope)(const MatmulArgs&, const RopeKvWriteArgs&) = &cuda::gemv_rope_kv_write_supported;
  static bool (*volatile keep_decode)(const AttentionArgs&) = &cuda::decode_mma_supported;
  (void)keep_rope;
  (void)keep_decode;
  const std::vector<std::string> objects = cuda::device_fault_objects();
  for (const std::string name : {"kernels/cuda/gemv_rope.cu", "kernels/cuda/attention_decode_mma.cu"}) {
    EXPECT_EQ(std::count(objects.begin(), objects.end(), name), 1) << name;
  }
}

TEST(CudaDeviceFault, EachCodeSaysWhatWhereAndWhich) {
  const uint32_t rope = object_of("kernels/cuda/gemv_rope.cu");
  DeviceFaultRecord r = record(DeviceFaultCode::kStepInputOutOfRange, rope);
  r.detail[0] = 10;
  r.detail[1] = 128;
  r.limit = 128;
  expect_says(cuda::describe_device_fault(r),
              {"a kernel trapped: a step input out of range (position 10, cache slot 128 of 128)",
               "in kernels/cuda/gemv_rope.cu, line 57", "block (5, 1, 0)", "thread (256, 0, 0)"});

  r = record(DeviceFaultCode::kMbarrierWatchdog, object_of("kernels/cuda/attention_decode_mma.cu"));
  r.detail[0] = 0x400;
  r.detail[1] = 1;
  expect_says(cuda::describe_device_fault(r), {"an mbarrier wait did not complete within 10 s",
                                               "barrier at shared 0x400, parity 1",
                                               "in kernels/cuda/attention_decode_mma.cu, line 57"});

  r = record(DeviceFaultCode::kGridBarrierWatchdog, rope);
  r.detail[0] = 3;
  r.detail[1] = 132;
  expect_says(cuda::describe_device_fault(r),
              {"a grid barrier did not release within 10 s (generation 3, 132 blocks)"});
}

TEST(CudaDeviceFault, NothingReportedSaysNothingAndUnknownsAreNamedAsNumbers) {
  EXPECT_EQ(cuda::describe_device_fault(DeviceFaultRecord{}), "");
  // no GPU here (or nothing trapped): the process's record has nothing to say
  EXPECT_EQ(cuda::describe_device_fault(), "");
  DeviceFaultRecord r = record(static_cast<DeviceFaultCode>(99), 100000);
  expect_says(cuda::describe_device_fault(r), {"fault code 99", "in kernel object 100000, line 57"});
}

// Every field in its place: a thread and block of three distinct coordinates, a slot apart from the
// cache's size, and the first object number past the registered ones named as a number.
TEST(CudaDeviceFault, EachFieldInItsPlace) {
  DeviceFaultRecord r = record(DeviceFaultCode::kStepInputOutOfRange, object_of("kernels/cuda/gemv_rope.cu"));
  r.block[0] = 5; r.block[1] = 6; r.block[2] = 7;
  r.thread[0] = 1; r.thread[1] = 2; r.thread[2] = 3;
  r.detail[0] = 4095;
  r.detail[1] = 130;
  r.limit = 128;
  expect_says(cuda::describe_device_fault(r), {"(position 4095, cache slot 130 of 128)", "block (5, 6, 7)",
                                               "thread (1, 2, 3)"});
  const uint32_t past = static_cast<uint32_t>(cuda::device_fault_objects().size());
  r.object = past;
  expect_says(cuda::describe_device_fault(r), {"in kernel object " + std::to_string(past) + ", line 57"});
}

// Registration keeps the path from the repository's kernels/, launch/ or tests/ on (the last such
// directory of the path), and a missing name as "?". (Adds three objects to this process's registry
// with no setter: this test binary never installs the record.)
TEST(CudaDeviceFault, RegistrationNamesTheSourceFromTheRepository) {
  EXPECT_TRUE(cuda::register_device_fault_object("/home/u/gqa/tests/cuda/fault_probe.cu", nullptr));
  EXPECT_TRUE(cuda::register_device_fault_object("/opt/x/launch/gqa_bench/probe.cu", nullptr));
  EXPECT_TRUE(cuda::register_device_fault_object(nullptr, nullptr));
  const std::vector<std::string> objects = cuda::device_fault_objects();
  ASSERT_GE(objects.size(), 3u);
  EXPECT_EQ(objects[objects.size() - 3], "tests/cuda/fault_probe.cu");
  EXPECT_EQ(objects[objects.size() - 2], "launch/gqa_bench/probe.cu");
  EXPECT_EQ(objects.back(), "?");
}

}  // namespace
}  // namespace gqa
