"""Double of cuda-python's `cuda.cudart` (the module name before cuda-python 12.6)."""

from cuda.bindings.runtime import *  # noqa: F403
