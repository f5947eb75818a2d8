// ptload: read PyTorch torch.save files (.pt/.pth/.bin/.ckpt) without Python or LibTorch.
// The core header: loading, values, tensors, policies and sources. The views of a document
// that tools print (json.hpp, print.hpp), the run-time option parsing of the command line
// (dump.hpp), the scanner (scan.hpp) and the exception wrappers (ex.hpp) are opt-in headers;
// all.hpp includes everything.
#ifndef PTLOAD_PTLOAD_HPP
#define PTLOAD_PTLOAD_HPP

#include "config.hpp"
#include "error.hpp"
#include "memory.hpp"
#include "span.hpp"
#include "value.hpp"
#include "policies/allocator.hpp"
#include "policies/decode.hpp"
#include "policies/limits.hpp"
#include "policies/mmap_source.hpp"
#include "policies/select.hpp"
#include "policies/source.hpp"
#include "torch/dtype.hpp"
#include "torch/storage.hpp"
#include "torch/tensor.hpp"
#include "torch/location.hpp"
#include "load.hpp"
#include "listing.hpp"
#include "walk.hpp"

#endif
