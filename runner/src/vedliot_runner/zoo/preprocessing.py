"""Preprocessing recipes the manifest gives each model: what real weights of that architecture
expect. The zoo's own random weights do not care; a user's trained file does."""

from __future__ import annotations

# torchvision's ImageNet recipe. Keras/Caffe ResNet50 weights use caffe style (BGR, mean only):
# a user manifest for such a file says so.
IMAGENET_TORCH = {
    "resize_shorter": 256,
    "crop": 224,
    "channel_order": "RGB",
    "scale": 1 / 255,
    "mean": [0.485, 0.456, 0.406],
    "std": [0.229, 0.224, 0.225],
    "style": "torch",
}

# darknet: letterbox to the network size (grey 128 border), RGB, 0..1, no mean or std.
DARKNET_LETTERBOX = {
    "resize": "letterbox",
    "size": 416,
    "pad_value": 128,
    "channel_order": "RGB",
    "scale": 1 / 255,
    "mean": [0.0, 0.0, 0.0],
    "std": [1.0, 1.0, 1.0],
    "style": "darknet",
}
