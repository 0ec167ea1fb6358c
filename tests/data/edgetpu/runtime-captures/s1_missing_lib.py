import tflite_runtime.interpreter as tflite

tflite.load_delegate("libedgetpu.so.1", {"device": "usb:0"})
