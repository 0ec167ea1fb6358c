"""Double of `tflite_runtime` (Coral's and NXP's TFLite package) with an Edge TPU or an i.MX 8M Plus
NPU attached, for the edgetpu and vx backends. Everything but the accelerator is the real runtime:
the interpreter is ai-edge-litert's (the same code as tflite-runtime 2.14, renamed), and a delegate
the double does not provide is loaded by the real load_delegate, with its real errors.

- Edge TPU: load_delegate() opens the library with ctypes, as the real one does (OSError when it
  is missing), and asks libedgetpu's C API (edgetpu_list_devices) for TPUs; the real libedgetpu
  lists none here, so the real ValueError follows; the libedgetpu double (tests/fakes/libedgetpu)
  lists those of VEDLIOT_FAKE_EDGETPU, and VEDLIOT_FAKE_EDGETPU_BUSY=1 makes them fail to open as
  a TPU held by another process does. An "attached" TPU runs the model edgetpu_compiler was given,
  X.tflite next to X_edgetpu.tflite (or one directory up, as in a zoo), on the CPU.
- VX delegate (any library whose name holds "vx_delegate"): present when VEDLIOT_FAKE_VX_NPU=1.
  Operators named in VEDLIOT_FAKE_VX_CPU_OPS stay on the CPU; the others become one DELEGATE node
  in _get_ops_details(), after the original nodes, as LiteRT lists a delegate's partition. The
  first invoke "compiles the graph" (VEDLIOT_FAKE_VX_COMPILE_S, default 0.3 s) unless the graph
  cache of VIV_VX_ENABLE_CACHE_GRAPH_BINARY / VIV_VX_CACHE_BINARY_GRAPH_DIR holds it.
"""

__version__ = "2.14.0"
