"""Dataset readers on mini datasets in the real layouts (real JPEG files, real annotation JSON),
and preprocessing checked pixel by pixel."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from vedliot_runner.datasets import coco, imagenet, spread_subset
from vedliot_runner.errors import UsageError
from vedliot_runner.postprocess.yolo import to_original
from vedliot_runner.preprocess import classification_input, letterbox_input, load_rgb
from vedliot_runner.zoo.preprocessing import DARKNET_LETTERBOX, IMAGENET_TORCH

WNIDS = ["n01440764", "n01443537", "n01484850"]


def _jpeg(path, color, size=(64, 48)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path, "JPEG", quality=95)
    return path


def test_spread_subset_is_deterministic_and_spread():
    assert spread_subset(list(range(10)), 3) == [0, 3, 6]
    assert spread_subset(list(range(4)), 0) == [0, 1, 2, 3]


def test_imagenet_class_folders(tmp_path):
    for label, wnid in enumerate(WNIDS):
        for i in range(2):
            _jpeg(tmp_path / wnid / f"img{i}.JPEG", (label * 80, 0, 0))
    data = imagenet.load(tmp_path)
    assert [s[1] for s in data.samples] == [0, 0, 1, 1, 2, 2]
    identity = data.identity()
    assert identity["label_order"] == "sorted_folder_names" and data.total == 6
    assert (identity["name"], identity["split"]) == ("imagenet", "val")
    limited = imagenet.load(tmp_path, limit=3)
    assert [s[1] for s in limited.samples] == [0, 1, 2]  # spread over the classes, not the first three
    # The subset is part of the identity: records scored on different samples are not compared.
    assert limited.identity()["samples_sha256"] != identity["samples_sha256"]
    assert imagenet.load(tmp_path, limit=3).identity() == limited.identity()


def test_folder_dataset_named_by_its_dataset_json(tmp_path):
    for digit in "01":
        _jpeg(tmp_path / digit / "a.png", (0, 0, 0))
    (tmp_path / "dataset.json").write_text('{"name": "digits", "split": "val"}')
    data = imagenet.load(tmp_path)
    assert (data.name, data.split) == ("digits", "val")
    assert data.sample_id(data.samples[1][0]) == "1/a.png"
    (tmp_path / "dataset.json").write_text("[]")
    with pytest.raises(UsageError, match=r"dataset\.json: expected a JSON object"):
        imagenet.load(tmp_path)


def test_imagenet_flat_with_devkit_ground_truth(tmp_path):
    for i in range(1, 4):
        _jpeg(tmp_path / f"ILSVRC2012_val_{i:08d}.JPEG", (10, 20, 30))
    (tmp_path / imagenet.GROUND_TRUTH).write_text("490\n361\n171\n")
    data = imagenet.load(tmp_path)
    assert [s[1] for s in data.samples] == [489, 360, 170]
    identity = data.identity()
    assert identity["label_order"] == "devkit" and len(identity["annotation_sha256"]) == 64


def test_imagenet_flat_with_kaggle_solution(tmp_path):
    for i in range(1, 4):
        _jpeg(tmp_path / f"ILSVRC2012_val_{i:08d}.JPEG", (10, 20, 30))
    (tmp_path / imagenet.SOLUTION).write_text(
        "ImageId,PredictionString\n"
        "ILSVRC2012_val_00000001,n01484850 1 2 3 4\n"
        "ILSVRC2012_val_00000002,n01440764 1 2 3 4 n01440764 5 6 7 8\n"
        "ILSVRC2012_val_00000003,n01443537 1 2 3 4\n"
    )
    (tmp_path / imagenet.SYNSETS).write_text("\n".join(f"{w} name" for w in WNIDS) + "\n")
    assert [s[1] for s in imagenet.load(tmp_path).samples] == [2, 0, 1]


def test_imagenet_errors_name_the_file(tmp_path):
    _jpeg(tmp_path / "ILSVRC2012_val_00000001.JPEG", (0, 0, 0))
    (tmp_path / imagenet.GROUND_TRUTH).write_text("1\n2\n")
    with pytest.raises(UsageError, match="2 labels for 1 images"):
        imagenet.load(tmp_path)
    with pytest.raises(UsageError, match="no such directory"):
        imagenet.load(tmp_path / "absent")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="neither class folders"):
        imagenet.load(empty)


def _coco(tmp_path, count=4):
    images = []
    for i in range(count):
        name = f"{i + 1:012d}.jpg"
        _jpeg(tmp_path / "val2017" / name, (0, 100, 0), size=(80, 60))
        images.append({"id": 100 + i, "file_name": name, "width": 80, "height": 60})
    annotation = {"images": images, "annotations": [], "categories": [{"id": 1, "name": "person"}]}
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / coco.ANNOTATIONS).write_text(json.dumps(annotation))


def test_coco_layout_limit_and_identity(tmp_path):
    _coco(tmp_path)
    data = coco.load(tmp_path, limit=2)
    assert [i.image_id for i in data.images] == [100, 102]
    assert data.images[0].path.name == "000000000001.jpg" and data.total == 4
    assert data.identity()["image_ids"] == [100, 102]


def test_coco_missing_image_and_bad_json(tmp_path):
    _coco(tmp_path)
    (tmp_path / "val2017" / "000000000003.jpg").unlink()
    with pytest.raises(UsageError, match=r"1 images of instances_val2017\.json missing"):
        coco.load(tmp_path)
    (tmp_path / "annotations" / coco.ANNOTATIONS).write_text("{")
    with pytest.raises(UsageError, match="not a COCO instances file"):
        coco.load(tmp_path)


def test_unreadable_image_is_named(tmp_path):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    with pytest.raises(UsageError, match=r"broken\.jpg: unreadable image"):
        load_rgb(bad)


def test_classification_preprocessing_values(tmp_path):
    image = load_rgb(_jpeg(tmp_path / "grey.png", (128, 64, 255), size=(320, 240)))
    x = classification_input(image, IMAGENET_TORCH)
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    expected = (np.array([128, 64, 255]) / 255 - np.array(IMAGENET_TORCH["mean"])) / np.array(IMAGENET_TORCH["std"])
    np.testing.assert_allclose(x[:, 100, 100], expected, atol=0.03)  # JPEG rounding
    nhwc = classification_input(image, IMAGENET_TORCH, layout="NHWC")
    np.testing.assert_allclose(nhwc.transpose(2, 0, 1), x)
    caffe = {**IMAGENET_TORCH, "style": "caffe", "channel_order": "BGR", "mean": [103.939, 116.779, 123.68]}
    y = classification_input(image, caffe)
    np.testing.assert_allclose(y[:, 100, 100], [255 - 103.939, 64 - 116.779, 128 - 123.68], atol=3)


def test_letterbox_and_back(tmp_path):
    image = Image.new("RGB", (640, 480), (255, 255, 255))
    x, (width, height) = letterbox_input(image, DARKNET_LETTERBOX)
    assert x.shape == (3, 416, 416) and (width, height) == (640, 480)
    # 640x480 -> 416x312 pasted at y = 52: grey (128/255) border above and below, white inside.
    assert x[0, 10, 200] == pytest.approx(128 / 255) and x[0, 200, 200] == pytest.approx(1.0)
    assert x[0, 51, 200] == pytest.approx(128 / 255) and x[0, 52, 200] == pytest.approx(1.0)
    box = to_original(np.array([[0.0, 52.0, 416.0, 364.0]]), width, height, 416)
    np.testing.assert_allclose(box, [[0, 0, 640, 480]], atol=1e-6)
