import ctypes

import tflite_runtime.interpreter as tflite

lib = ctypes.CDLL("libedgetpu.so.1")
lib.edgetpu_version.restype = ctypes.c_char_p
print("edgetpu_version:", lib.edgetpu_version().decode())
lib.edgetpu_verbosity(10)
count = ctypes.c_size_t(0)
lib.edgetpu_list_devices.restype = ctypes.c_void_p
lib.edgetpu_list_devices(ctypes.byref(count))
print("edgetpu_list_devices count =", count.value)
try:
    tflite.load_delegate("libedgetpu.so.1", {"device": "usb:0"})
except ValueError as e:
    print("ValueError:", repr(str(e)))
