#include "kernels/cuda/device_fault.h"

#include <atomic>
#include <cstring>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "kernels/cuda/cuda_check.h"
#include "kernels/cuda/mbarrier_wait_limit.h"
#include "kernels/cuda/per_device.h"

namespace gqa::cuda {
namespace {

// The registered kernel objects (`mu`; describe_device_fault takes it to name one) and the record.
// Installation is once per device through a PerDevice, whose lock is not `mu`: its CUDA errors throw
// through throw_cuda_error, which calls describe_device_fault (with one lock, that deadlocked: a
// review's finding).
struct Registry {
  struct Object {
    std::string source;
    DeviceFaultSetter setter;
  };
  std::mutex mu;
  std::vector<Object> objects;
  // host-mapped, portable; never freed (a kernel may still write it at exit); read without a lock
  std::atomic<DeviceFaultRecord*> record{nullptr};
};

Registry& registry() {
  static Registry* r = new Registry;  // (never destroyed: static initialisers in other objects register)
  return *r;
}

}  // namespace

bool register_device_fault_object(const char* source, DeviceFaultSetter setter) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::string name = source != nullptr ? source : "?";
  // (the compiler's path, absolute under CMake: from the repository's kernels/ or launch/ on)
  for (const char* top : {"/kernels/", "/launch/", "/tests/"}) {
    if (const size_t at = name.rfind(top); at != std::string::npos) {
      name = name.substr(at + 1);
      break;
    }
  }
  r.objects.push_back({name, setter});
  return true;
}

std::vector<std::string> device_fault_objects() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  std::vector<std::string> sources;
  for (const Registry::Object& o : r.objects) sources.push_back(o.source);
  return sources;
}

void install_device_fault_record() {
  static PerDevice<bool> installed;
  installed.get([](int) {
    Registry& r = registry();
    if (r.record.load() == nullptr) {  // (under the PerDevice's lock: allocated once)
      void* p = nullptr;
      GQA_CUDA_CHECK(cudaHostAlloc(&p, sizeof(DeviceFaultRecord), cudaHostAllocMapped | cudaHostAllocPortable));
      std::memset(p, 0, sizeof(DeviceFaultRecord));
      r.record.store(static_cast<DeviceFaultRecord*>(p));
    }
    void* on_device = nullptr;
    GQA_CUDA_CHECK(cudaHostGetDevicePointer(&on_device, r.record.load(), 0));
    std::vector<Registry::Object> objects;
    {
      std::lock_guard<std::mutex> lock(r.mu);
      objects = r.objects;
    }
    for (size_t i = 0; i < objects.size(); ++i) {
      const cudaError_t err = objects[i].setter(static_cast<DeviceFaultRecord*>(on_device), static_cast<uint32_t>(i));
      if (err == cudaErrorInvalidSymbol || err == cudaErrorNoKernelImageForDevice ||
          err == cudaErrorInvalidDeviceFunction || err == cudaErrorUnsupportedPtxVersion) {
        // an object with no code for this device (the sm_90a one elsewhere): its kernels never run
        // here (this clears that error, not a sticky one: those are returned again by every call)
        (void)cudaGetLastError();
        continue;
      }
      if (err != cudaSuccess) {
        throw_cuda_error(err, ("pointing " + objects[i].source + "'s kernels at the device fault record").c_str(),
                         __FILE__, __LINE__);
      }
    }
    return true;
  });
}

std::string describe_device_fault(const DeviceFaultRecord& rec) {
  if (rec.code == 0) return "";
  const uint64_t limit_s = kMbarrierWatchdogNs / 1000000000ull;
  std::ostringstream os;
  os << "a kernel trapped: ";
  switch (static_cast<DeviceFaultCode>(rec.code)) {
    case DeviceFaultCode::kMbarrierWatchdog:
      os << "an mbarrier wait did not complete within " << limit_s << " s (barrier at shared 0x" << std::hex
         << rec.detail[0] << std::dec << ", parity " << rec.detail[1] << ")";
      break;
    case DeviceFaultCode::kGridBarrierWatchdog:
      os << "a grid barrier did not release within " << limit_s << " s (generation " << rec.detail[0] << ", "
         << rec.detail[1] << " blocks)";
      break;
    case DeviceFaultCode::kStepInputOutOfRange:
      os << "a step input out of range (position " << rec.detail[0] << ", cache slot " << rec.detail[1] << " of "
         << rec.limit << ")";
      break;
    default:
      os << "fault code " << rec.code;
  }
  const std::vector<std::string> objects = device_fault_objects();
  // (the line is the check's, or for a watchdog its wait's caller's: in the .cu or a header it includes)
  os << " in " << (rec.object < objects.size() ? objects[rec.object] : "kernel object " + std::to_string(rec.object))
     << ", line " << rec.line << " (of it or a header it includes), block (" << rec.block[0] << ", " << rec.block[1]
     << ", " << rec.block[2]
     << "), thread (" << rec.thread[0] << ", " << rec.thread[1] << ", " << rec.thread[2] << ")";
  return os.str();
}

std::string describe_device_fault() {
  // (no lock: install_device_fault_record's errors come here through throw_cuda_error)
  const DeviceFaultRecord* rec = registry().record.load();
  if (rec == nullptr) return "";
  // (the device writes it: read each word once, as it is now; code first, written last there)
  const volatile DeviceFaultRecord* v = rec;
  DeviceFaultRecord copy{};
  copy.code = v->code;
  if (copy.code == 0) return "";
  copy.object = v->object;
  copy.line = v->line;
  for (int i = 0; i < 3; ++i) {
    copy.block[i] = v->block[i];
    copy.thread[i] = v->thread[i];
  }
  copy.detail[0] = v->detail[0];
  copy.detail[1] = v->detail[1];
  copy.limit = v->limit;
  return describe_device_fault(copy);
}

}  // namespace gqa::cuda
