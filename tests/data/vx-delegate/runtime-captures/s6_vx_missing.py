import tflite_runtime.interpreter as tflite

tflite.load_delegate("/usr/lib/libvx_delegate.so")
