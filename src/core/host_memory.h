// What the machine holds (host side): for refusing an allocation Linux would grant (it overcommits)
// and then kill the process over, once its pages are touched.
#pragma once

#include <cstddef>

namespace gqa {

// The machine's physical memory in bytes (0 if the system does not say).
size_t physical_memory_bytes();

}  // namespace gqa
