"""A small CNN trained on scikit-learn's handwritten digits (3x16x16 input, 10 classes): the zoo's
one model with real weights, so the demo's accuracy runs measure something.

The digits (1,797 8x8 images shipped inside scikit-learn, the UCI optdigits test set) are upscaled
to 32x32 RGB images. Every fifth one is held out and written as an ImageNet-style folder dataset
(DIR/digits/val/<digit>/*.png) that `run --dataset imagenet:DIR/digits/val` evaluates; the rest
train the network at zoo-build time through the same layer definition the ONNX and TFLite
builders use, and calibrate its int8 variants.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable, List, Tuple

import numpy as np

NAME = "digits"
IMAGE_SIZE = 16
CLASSES = 10
TASK = "classification"
LABELS = [str(d) for d in range(10)]
# Stored images are 32x32: resizing to 16 is part of what the accuracy run exercises.
STORED_SIZE = 32
PREPROCESSING = {
    "resize_shorter": IMAGE_SIZE,
    "crop": IMAGE_SIZE,
    "channel_order": "RGB",
    "scale": 1 / 255,
    "mean": [0.5] * 3,
    "std": [0.5] * 3,
    "style": "torch",
}
HOLDOUT_EVERY = 5
EPOCHS = 40
BATCH = 32
LEARNING_RATE = 3e-3
CALIBRATION_SAMPLES = 256


def define(g, image_size: int = IMAGE_SIZE, classes: int = CLASSES) -> None:
    # Strided convolutions down to 2x2 keep where strokes are (a 6 is not a 9), which global
    # pooling of a larger map would lose.
    x = g.relu(g.conv(g.input("input", 3, image_size), 3, 16, 3))
    x = g.relu(g.conv(x, 16, 32, 3, stride=2))
    x = g.relu(g.conv(x, 32, 64, 3, stride=2))
    x = g.relu(g.conv(x, 64, 64, 3, stride=2))
    x = g.flatten(g.global_avgpool(x))
    g.output("logits", g.dense(x, 64, classes))


def output_shapes(image_size: int = IMAGE_SIZE, classes: int = CLASSES):
    return {"logits": ["batch", classes]}


class FixedWeights:
    """A WeightSource that hands out given (weight, bias) pairs in definition order."""

    def __init__(self, arrays: List[Tuple[np.ndarray, np.ndarray]]) -> None:
        self.arrays = arrays
        self.draws = 0

    def _next(self, shape: Tuple[int, ...]) -> Tuple[np.ndarray, np.ndarray]:
        weight, bias = self.arrays[self.draws]
        if weight.shape != shape:
            raise ValueError(
                "trained weight {} has shape {}, the definition asks {}".format(self.draws, weight.shape, shape)
            )
        self.draws += 1
        return weight, bias

    def conv(self, cin: int, cout: int, kernel: int, groups: int = 1, gain: float = 1.0, bias: bool = True):
        return self._next((cout, cin // groups, kernel, kernel))

    def dense(self, cin: int, cout: int):
        return self._next((cout, cin))


class _VariableWeights:
    """Trainable tf.Variables in WeightSource's layouts; created on the first pass, reused after."""

    def __init__(self, tf, seed: int) -> None:
        self.tf = tf
        self.rng = np.random.default_rng(seed)
        self.variables: List[Tuple[object, object]] = []
        self.draws = 0

    def _get(self, weight: Callable[[], np.ndarray], size: int):
        if self.draws == len(self.variables):
            pair = (self.tf.Variable(weight()), self.tf.Variable(np.zeros(size, np.float32)))
            self.variables.append(pair)
        pair = self.variables[self.draws]
        self.draws += 1
        return pair

    def conv(self, cin: int, cout: int, kernel: int, groups: int = 1, gain: float = 1.0, bias: bool = True):
        fan_in = (cin // groups) * kernel * kernel
        shape = (cout, cin // groups, kernel, kernel)
        return self._get(lambda: self.rng.normal(0, np.sqrt(2.0 / fan_in), shape).astype(np.float32), cout)

    def dense(self, cin: int, cout: int):
        return self._get(lambda: self.rng.normal(0, np.sqrt(1.0 / cin), (cout, cin)).astype(np.float32), cout)


@dataclasses.dataclass
class Prepared:
    """What the zoo builder needs from a trained model: its weights, their identity for the build
    cache, real calibration data, the dataset it wrote and what the network scored on it."""

    arrays: List[Tuple[np.ndarray, np.ndarray]]
    identity: str
    calibration: Path
    dataset: str
    holdout_top1: float

    def weights(self) -> FixedWeights:
        return FixedWeights(self.arrays)


def _images(seed: int):
    """(PIL images, labels) of all 1,797 digits as 32x32 RGB, white strokes on black."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = []
    for pixels in digits.images:
        small = Image.fromarray(np.round(pixels * (255.0 / 16.0)).astype(np.uint8), mode="L")
        images.append(small.resize((STORED_SIZE, STORED_SIZE), Image.BILINEAR).convert("RGB"))
    return images, digits.target.astype(np.int64)


def _split(count: int) -> Tuple[np.ndarray, np.ndarray]:
    index = np.arange(count)
    held = index % HOLDOUT_EVERY == HOLDOUT_EVERY - 1
    return index[~held], index[held]


def write_dataset(directory: Path, images, labels: np.ndarray, indices: np.ndarray) -> None:
    """The held-out digits as class folders of PNG files, plus dataset.json naming the set."""
    for digit in range(CLASSES):
        (directory / str(digit)).mkdir(parents=True, exist_ok=True)
    for i in indices:
        path = directory / str(int(labels[i])) / "digit_{:04d}.png".format(int(i))
        if not path.is_file():
            images[i].save(path)
    meta = {
        "name": "digits",
        "split": "val",
        "source": "scikit-learn load_digits (UCI optdigits), every {}th sample held out".format(HOLDOUT_EVERY),
        "samples": len(indices),
    }
    (directory / "dataset.json").write_text(json.dumps(meta, indent=1) + "\n")


def _train(inputs_nhwc: np.ndarray, labels: np.ndarray, seed: int) -> List[Tuple[np.ndarray, np.ndarray]]:
    from vedliot_runner.zoo.tflite import quiet_tensorflow

    quiet_tensorflow()
    import tensorflow as tf

    from vedliot_runner.zoo.tfgraph import TFBuilder

    tf.random.set_seed(seed)
    tf.config.experimental.enable_op_determinism()
    weights = _VariableWeights(tf, seed)

    def forward(batch):
        weights.draws = 0
        g = TFBuilder(NAME, weights, batch)
        define(g)
        return g.outputs["logits"]

    forward(tf.constant(inputs_nhwc[:1]))  # creates the variables
    trainable = [v for pair in weights.variables for v in pair]
    optimizer = tf.keras.optimizers.Adam(LEARNING_RATE)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, forward(x)))
        optimizer.apply_gradients(zip(tape.gradient(loss, trainable), trainable))
        return loss

    rng = np.random.default_rng(seed)
    for _ in range(EPOCHS):
        order = rng.permutation(len(labels))
        for start in range(0, len(order), BATCH):
            chosen = order[start : start + BATCH]
            step(tf.constant(inputs_nhwc[chosen]), tf.constant(labels[chosen]))
    return [(w.numpy(), b.numpy()) for w, b in weights.variables]


def _preprocess(images, indices: np.ndarray) -> np.ndarray:
    from vedliot_runner.preprocess import classification_input

    return np.stack([classification_input(images[i], PREPROCESSING, "NHWC") for i in indices])


def _numpy_top1(arrays, inputs_nhwc: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 of the trained weights on `inputs`, computed with plain numpy (no framework)."""
    x = inputs_nhwc.transpose(0, 3, 1, 2)
    for (weight, bias), stride in zip(arrays[:-1], (1, 2, 2, 2)):
        x = np.maximum(_conv(x, weight, bias, stride), 0)
    weight, bias = arrays[-1]
    logits = x.mean(axis=(2, 3)) @ weight.T + bias
    return float((logits.argmax(axis=1) == labels).mean() * 100)


def _conv(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, stride: int) -> np.ndarray:
    k = weight.shape[-1]
    pad = k // 2
    x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    _, c, h, w = x.shape
    out_h, out_w = (h - k) // stride + 1, (w - k) // stride + 1
    patches = np.stack(
        [x[:, :, i : i + stride * out_h : stride, j : j + stride * out_w : stride] for i in range(k) for j in range(k)],
        axis=2,
    )  # [n, c, k*k, out_h, out_w]
    out = np.einsum("nckhw,ock->nohw", patches, weight.reshape(weight.shape[0], c, k * k))
    return out + bias[None, :, None, None]


def prepare(model_dir: Path, zoo_dir: Path, seed: int, log: Callable[[str], None]) -> Prepared:
    """Train (or load the cached training of) the network, write the held-out dataset and the
    calibration inputs. Needs TensorFlow, scikit-learn and Pillow (the `zoo` extra) to train."""
    from vedliot_runner.digest import sha256_of

    cache = model_dir / "digits_trained_seed{}.npz".format(seed)
    calibration = model_dir / "digits_calibration_seed{}.npy".format(seed)
    dataset_dir = zoo_dir / NAME / "val"
    images, labels = _images(seed)
    train, held = _split(len(labels))
    write_dataset(dataset_dir, images, labels, held)
    if cache.is_file() and calibration.is_file():
        data = np.load(str(cache))
        count = len(data.files) // 2
        arrays = [(data["w{}".format(i)], data["b{}".format(i)]) for i in range(count)]
        top1 = float(data["holdout_top1"]) if "holdout_top1" in data.files else float("nan")
    else:
        log("digits: training on {} images, {} held out".format(len(train), len(held)))
        train_inputs = _preprocess(images, train)
        arrays = _train(train_inputs, labels[train], seed)
        top1 = _numpy_top1(arrays, _preprocess(images, held), labels[held])
        log("digits: held-out top-1 {:.1f}% (numpy reference)".format(top1))
        rng = np.random.default_rng(seed)
        chosen = np.sort(rng.choice(len(train), size=min(CALIBRATION_SAMPLES, len(train)), replace=False))
        tmp = calibration.with_name("." + calibration.name)
        with open(tmp, "wb") as handle:
            np.save(handle, np.ascontiguousarray(train_inputs[chosen].transpose(0, 3, 1, 2)))
        tmp.replace(calibration)
        named = {"w{}".format(i): w for i, (w, _) in enumerate(arrays)}
        named.update({"b{}".format(i): b for i, (_, b) in enumerate(arrays)})
        tmp = cache.with_name("." + cache.name)
        with open(tmp, "wb") as handle:
            np.savez(handle, holdout_top1=np.float64(top1), **named)
        tmp.replace(cache)
    return Prepared(
        arrays=arrays,
        identity="trained:" + sha256_of(cache),
        calibration=calibration,
        dataset=str(dataset_dir.relative_to(zoo_dir)),
        holdout_top1=top1,
    )
