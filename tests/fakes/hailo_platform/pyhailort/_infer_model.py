"""The InferModel API of the double (HailoRT 4.18+): see the package docstring."""

import queue
import threading
import time

import numpy as np

from hailo_platform.pyhailort import pyhailort as _p

#: frames the double queues: twice the batch size, at least 4 (HailoRT sizes its own; not recorded)
_MIN_QUEUE = 4


class AsyncInferCompletionInfo:
    def __init__(self, exception):
        self._exception = exception

    @property
    def exception(self):
        return self._exception


class AsyncInferJob:
    def __init__(self):
        self._done = threading.Event()

    def wait(self, timeout_ms):
        if not self._done.wait(timeout_ms / 1000.0):
            raise _p.HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")


class InferModel:
    class InferStream:
        def __init__(self, info):
            self._info = info
            self._format = _p._Obj(type=_p.FormatType.UINT8, order="NHWC")

        @property
        def name(self):
            return self._info.name

        @property
        def shape(self):
            return list(self._info.shape)

        @property
        def format(self):
            return self._format

        @property
        def quant_infos(self):
            return [self._info.quant_info]

        def set_format_type(self, type):
            self._format = _p._Obj(type=type, order=self._format.order)

    def __init__(self, hef):
        self._hef = hef
        self._inputs = {i.name: self.InferStream(i) for i in hef.get_input_vstream_infos()}
        self._outputs = {o.name: self.InferStream(o) for o in hef.get_output_vstream_infos()}
        self._batch = 1

    def set_batch_size(self, batch_size):
        self._batch = batch_size

    def _one(self, streams, name):
        if name == "" and len(streams) == 1:
            return next(iter(streams.values()))
        if name not in streams:
            raise _p._status(61)
        return streams[name]

    def input(self, name=""):
        return self._one(self._inputs, name)

    def output(self, name=""):
        return self._one(self._outputs, name)

    @property
    def inputs(self):
        return list(self._inputs.values())

    @property
    def outputs(self):
        return list(self._outputs.values())

    @property
    def input_names(self):
        return list(self._inputs)

    @property
    def output_names(self):
        return list(self._outputs)

    def configure(self):
        return ConfiguredInferModel(self)


class _Buffer:
    def __init__(self):
        self._buffer = None

    def set_buffer(self, buffer):
        if not buffer.flags["C_CONTIGUOUS"]:
            raise _p.HailoRTException("Buffer must be C_CONTIGUOUS")
        self._buffer = buffer

    def get_buffer(self, tf_format=False):
        return self._buffer


class Bindings:
    def __init__(self, model):
        self._model = model
        self._in = {n: _Buffer() for n in model.input_names}
        self._out = {n: _Buffer() for n in model.output_names}

    def input(self, name=""):
        return self._in[self._model.input(name).name]

    def output(self, name=""):
        return self._out[self._model.output(name).name]


class ConfiguredInferModel:
    def __init__(self, model):
        self._model = model
        self._size = max(_MIN_QUEUE, 2 * model._batch)
        self._frames = 0  # in flight
        self._lock = threading.Lock()
        self._queue = queue.Queue()
        self._worker = threading.Thread(target=self._serve, daemon=True)
        self._worker.start()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        return False

    def create_bindings(self, input_buffers=None, output_buffers=None):
        bindings = Bindings(self._model)
        for name, buffer in (input_buffers or {}).items():
            bindings.input(name).set_buffer(buffer)
        for name, buffer in (output_buffers or {}).items():
            bindings.output(name).set_buffer(buffer)
        return bindings

    def _check(self, bindings):
        for b in bindings:
            for name, buf in list(b._in.items()) + list(b._out.items()):
                stream = self._model._inputs.get(name) or self._model._outputs.get(name)
                size = 4 if stream.format.type == _p.FormatType.FLOAT32 else 1
                data = buf.get_buffer()
                if data is None or data.dtype.itemsize != size or list(data.shape) != stream.shape:
                    raise _p._status(2 if data is not None else 61)

    def _serve(self):
        while True:
            bindings, callback, job = self._queue.get()
            hef = self._model._hef
            frames = {n: np.stack([b._in[n].get_buffer() for b in bindings]) for n in self._model.input_names}
            fmt_in = {n: s.format.type for n, s in self._model._inputs.items()}
            fmt_out = {n: s.format.type for n, s in self._model._outputs.items()}
            outputs = hef._run(frames, fmt_in, fmt_out)
            for k, b in enumerate(bindings):
                for name, out in outputs.items():
                    b._out[name].get_buffer()[...] = out[k]
            with self._lock:
                self._frames -= len(bindings)
            job._done.set()
            if callback is not None:
                callback(completion_info=AsyncInferCompletionInfo(None))

    def run_async(self, bindings, callback=None):
        self._check(bindings)
        with self._lock:
            self._frames += len(bindings)
        job = AsyncInferJob()
        self._queue.put((list(bindings), callback, job))
        return job

    def run(self, bindings, timeout):
        self.run_async(bindings).wait(timeout)

    def wait_for_async_ready(self, timeout_ms=1000, frames_count=1):
        deadline = timeout_ms / 1000.0
        start = time.monotonic()
        if frames_count > self._size:  # HailoRT's docstring: this "will timeout"
            time.sleep(deadline)
            raise _p.HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
        while self._frames + frames_count > self._size:
            if time.monotonic() - start > deadline:
                raise _p.HailoRTTimeout("Received a timeout - hailort has failed because a timeout had occurred")
            time.sleep(0.0002)

    def get_async_queue_size(self):
        return self._size

    def shutdown(self):
        pass
