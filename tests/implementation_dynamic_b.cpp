// With separate compilation: the other half of load_dynamic's policy sets (see
// implementation_dynamic_a.cpp).
#include <ptload/all.hpp>

#if defined(PTLOAD_SEPARATE_COMPILATION)
PTLOAD_INSTANTIATE_LOADERS(ptload::decoding<ptload::encoding::ascii, ptload::on_error::replace>)
PTLOAD_INSTANTIATE_LOADERS(ptload::decoding<ptload::encoding::bytes, ptload::on_error::strict>)
#endif
