// ptload/all.hpp: every public header: the core (ptload.hpp) and the opt-in ones.
#ifndef PTLOAD_ALL_HPP
#define PTLOAD_ALL_HPP

#include "ptload.hpp"
#include "json.hpp"
#include "print.hpp"
#include "dump.hpp"
#include "scan.hpp"
#include "ex.hpp"
#include "convert.hpp"

#endif
