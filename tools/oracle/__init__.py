"""The Python side of ptload's differential tests.

Loads torch checkpoints and plain pickles with real CPython / torch / numpy and prints them in
the canonical JSON of docs/CANONICAL-JSON.md, so the C++ `ptload dump --json` output can be
compared byte for byte after normalisation.

Modules:
  records    -- inert stand-ins for everything ptload does not model natively
  unpickler  -- the recording Unpickler, the global tables, and the torch-specific rebuilds
  canonical  -- to_canonical() and normalize()
  load       -- file-kind detection, torch loaders, error codes, dump()
  manifest   -- helpers the fixture generators use to write expected files and manifests

Only the standard library, torch and numpy are used; run with Debian's /usr/bin/python3.
"""

import sys as _sys

# The first python3 on PATH may lack torch and numpy; Debian's /usr/bin/python3 has them. Every
# script that imports this package stops here with a clear word instead of an ImportError later.
try:
    import numpy as _numpy  # noqa: F401
    import torch as _torch  # noqa: F401
except ImportError as _e:
    _sys.exit("%s needs torch and numpy; run it with /usr/bin/python3 (%s)" % (_sys.argv[0], _e))
