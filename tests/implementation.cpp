// The file of the test build that compiles ptload's loaders for the default policies
// (PTLOAD_IMPLEMENTATION): with -DPTLOAD_SEPARATE_COMPILATION the other files only declare
// them, as a project that includes ptload in many files would do. Without it, this file
// instantiates what every other file also instantiates, and the linker keeps one copy.
// implementation_dynamic_*.cpp compile the other decodings the tests and the CLI load with
// (every policy set with one of these decodings shares its loaders), spread over files so that
// a parallel build compiles them side by side.
#define PTLOAD_IMPLEMENTATION
#include <ptload/ptload.hpp>
