// A Backend that forwards every call to another one and times it, for finding
// where a forward pass spends its time (SCOUT_PROFILE=1 on any command). On
// destruction it logs one table to stderr: per op (matmuls per tensor role
// and type), calls, wall time, share, and for matmuls the weight bytes/s.
#pragma once

#include <memory>

#include "backend/backend.h"

namespace scout::backend {

std::shared_ptr<Backend> make_profiling_backend(std::shared_ptr<Backend> inner);

// True when the environment asks for it (SCOUT_PROFILE set and not "0").
bool profiling_requested();

}  // namespace scout::backend
