// With separate compilation: half of the policy sets load_dynamic (dump.hpp) reaches, compiled
// here once for the tests and the CLI (the other half: implementation_dynamic_b.cpp). Nothing
// without it: every file then compiles what it uses.
#include <ptload/all.hpp>

#if defined(PTLOAD_SEPARATE_COMPILATION)
PTLOAD_INSTANTIATE_LOADERS(ptload::decoding<ptload::encoding::utf8, ptload::on_error::replace>)
PTLOAD_INSTANTIATE_LOADERS(ptload::decoding<ptload::encoding::latin1, ptload::on_error::strict>)
PTLOAD_INSTANTIATE_LOADERS(ptload::decoding<ptload::encoding::ascii, ptload::on_error::strict>)
#endif
