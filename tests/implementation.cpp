// The file of the test build that compiles ptload's loaders (PTLOAD_IMPLEMENTATION): with
// -DPTLOAD_SEPARATE_COMPILATION the other files only declare them, as a project that includes
// ptload in many files would do. The loaders are one piece of code for every policy set, so
// this one file serves the tests' and the CLI's loads with any decoding, limits or allocator.
// Without separate compilation, this file instantiates what every other file also
// instantiates, and the linker keeps one copy.
#define PTLOAD_IMPLEMENTATION
#include <ptload/ptload.hpp>
