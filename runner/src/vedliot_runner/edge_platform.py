"""Which edge accelerator platform this is, for the records' target name (the catalog's id where
the catalog has it), as the NVIDIA suites do with nvidia_platform.py.

- Hailo: the device's architecture (HAILO8 -> hailo8) from HailoRT's identify().
- Coral: the Coral Dev Board by its device tree (compatible "google,imx8mq-phanbell", as the
  mainline kernel's imx8mq-phanbell.dts says), else the TPU's bus as libedgetpu lists it: a PCIe
  TPU is the M.2 module (coral_m2); a USB Accelerator is named as found.
- i.MX 8M Plus: the SoC's device-tree compatible "fsl,imx8mp" (every board's dts includes it).
- Xilinx DPU: `xdputil query`'s DPU architecture, with the board from the device tree's model
  (Ultra96-V2, Trenz TE0808 ZU15EG, VCK190: the report's boards) and the configuration key of the
  catalog's peaks ("B4096 x2 @200MHz").
- Myriad X: OpenVINO's MYRIAD device and its FULL_DEVICE_NAME.

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


#: device-tree model substring (lower case) -> the catalog's board
DPU_BOARDS = (("ultra96", "avnet_ultra96_v2"), ("te0808", "trenz_ultrasom_zu15eg"), ("zu15eg", "trenz_ultrasom_zu15eg"),
              ("vck190", "xilinx_vck190"))  # fmt: skip


def dpu() -> Optional[Recognised]:
    from vedliot_runner.dpu_device import query_dpu

    info = query_dpu()
    if info is None or not info.kernels:
        return None
    model, _ = device_tree()
    arch = info.kernels[0].arch or "DPU"
    catalog = next((board for key, board in DPU_BOARDS if key in model.lower()), None)
    evidence = "xdputil query: {} x{}{}".format(arch, len(info.kernels), "; device tree: " + model if model else "")
    return Recognised(catalog, "{} ({})".format(model or "Xilinx board", info.config() or arch), evidence)


def myriad() -> Optional[Recognised]:
    try:
        from vedliot_runner.backends.openvino import _openvino

        core = _openvino().Core()
        devices = [d for d in core.available_devices if d.split(".", 1)[0] == "MYRIAD"]
        if not devices:
            return None
        name = str(core.get_property(devices[0], "FULL_DEVICE_NAME"))
    except Exception:  # noqa: BLE001 - no OpenVINO, no plugin, no stick: nothing recognised
        return None
    catalog = "myriad_x" if "myriad x" in name.lower() else None
    return Recognised(catalog, "{} ({})".format(name, devices[0]), "OpenVINO available_devices: " + ", ".join(devices))


RECOGNISERS = {"hailo": hailo, "edgetpu": edgetpu, "imx8mp": imx8mp, "dpu": dpu, "myriad": myriad}
