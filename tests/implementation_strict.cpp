// With separate compilation: strict mode with each encoding but the default, the sets
// test_strict.cpp compares with torch beyond load_dynamic's (declared there with
// PTLOAD_STRICT_ENCODING_SETS).
#include <ptload/all.hpp>

#include "test_support.hpp"

#if defined(PTLOAD_SEPARATE_COMPILATION)
PTLOAD_STRICT_ENCODING_SETS(PTLOAD_INSTANTIATE_LOADERS)
#endif
