import sys

import tflite_runtime.interpreter as tflite

interpreter = tflite.Interpreter(model_path=sys.argv[1])
interpreter.allocate_tensors()
interpreter.invoke()
