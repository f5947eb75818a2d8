// ptload: read PyTorch torch.save files (.pt/.pth/.bin/.ckpt) without Python or LibTorch.
// The umbrella header: it only includes. https://ptload (see README.md)
#ifndef PTLOAD_PTLOAD_HPP
#define PTLOAD_PTLOAD_HPP

#include "config.hpp"
#include "error.hpp"
#include "span.hpp"
#include "value.hpp"
#include "policies/allocator.hpp"
#include "policies/decode.hpp"
#include "policies/limits.hpp"
#include "policies/select.hpp"
#include "policies/source.hpp"
#include "torch/dtype.hpp"
#include "torch/storage.hpp"
#include "torch/tensor.hpp"
#include "torch/location.hpp"
#include "load.hpp"
#include "json.hpp"
#include "print.hpp"
#include "dump.hpp"
#include "scan.hpp"
#include "ex.hpp"

#endif
