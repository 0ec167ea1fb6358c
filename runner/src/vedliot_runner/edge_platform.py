"""Which edge accelerator platform this is, for the records' target name (the catalog's id where
the catalog has it), as the NVIDIA suites do with nvidia_platform.py.

- Hailo: the device's architecture (HAILO8 -> hailo8) from HailoRT's identify().
- Coral: the Coral Dev Board by its device tree (compatible "google,imx8mq-phanbell", as the
  mainline kernel's imx8mq-phanbell.dts says), else the TPU's bus as libedgetpu lists it: a PCIe
  TPU is the M.2 module (coral_m2); a USB Accelerator is named as found.
- i.MX 8M Plus: the SoC's device-tree compatible "fsl,imx8mp" (every board's dts includes it).

VEDLIOT_HOST_ROOT reads another root (the host's /proc in a container; tests).
"""

from __future__ import annotations

from typing import Optional

from vedliot_runner.nvidia_platform import Recognised, _read


def device_tree() -> tuple:
    """(model, [compatible entries]) of this board, or ("", []) without a device tree."""
    model = (_read("/proc/device-tree/model") or "").rstrip("\x00").strip()
    compatible = [e for e in (_read("/proc/device-tree/compatible") or "").split("\x00") if e]
    return model, compatible


def hailo() -> Optional[Recognised]:
    try:
        import hailo_platform as hp

        ids = hp.Device.scan()
        if not ids:
            return None
        device = hp.Device(ids[0])
        try:
            arch = str(device.control.identify().device_architecture)
        finally:
            device.release()
    except Exception:  # noqa: BLE001 - no HailoRT, no device, a busy one: nothing recognised
        return None
    catalog = {"HAILO8": "hailo8"}.get(arch)
    return Recognised(catalog, "Hailo {} ({})".format(arch, ids[0]), "HailoRT identify(): " + arch)


def edgetpu(library: str = "libedgetpu.so.1") -> Optional[Recognised]:
    model, compatible = device_tree()
    if "google,imx8mq-phanbell" in compatible:
        return Recognised("coral_dev_board", model or "Coral Dev Board", "/proc/device-tree/compatible")
    from vedliot_runner import edgetpu_device

    try:
        devices = edgetpu_device.open_runtime(library).devices
    except (OSError, AttributeError):
        return None
    if not devices:
        return None
    first = devices[0]
    if first.kind == "pci":
        return Recognised("coral_m2", "Coral M.2/PCIe Edge TPU ({})".format(first.path), "libedgetpu: pci")
    return Recognised(None, "Coral USB Accelerator", "libedgetpu: usb {}".format(first.path))


def imx8mp() -> Optional[Recognised]:
    model, compatible = device_tree()
    if "fsl,imx8mp" not in compatible:
        return None
    return Recognised("imx8mp", model or "i.MX 8M Plus", "/proc/device-tree/compatible: fsl,imx8mp")


RECOGNISERS = {"hailo": hailo, "edgetpu": edgetpu, "imx8mp": imx8mp}
