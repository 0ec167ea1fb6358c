import tflite_runtime.interpreter as tflite

for device in ["usb", "usb:0", "pci", "pci:0", ":0", "bogus"]:
    try:
        tflite.load_delegate("libedgetpu.so.1", {"device": device})
    except ValueError as e:
        print(repr(device), type(e).__name__, repr(str(e)))
