"""PyInstaller runtime hook: let ``import torchvision`` work when its C++ operator library
cannot load (the CPU build, when the only torchvision wheel at hand is the CUDA-linked one).

torchvision's ``_C`` extension defines the ``torchvision::*`` operators (nms, roi_align, ...).
Next to a CPU-only torch, PyPI's x86_64 torchvision wheel's ``_C.so`` cannot load (it links
libtorch_cuda); torchvision then runs without its operators (``extension._has_ops()`` is False,
and ``torchvision.ops.nms`` & co. raise torchvision's own "Couldn't load custom C++ ops" error),
except that ``_meta_registrations`` registers fake kernels for ``nms`` and ``qnms`` without
checking, so the import fails with "operator torchvision::nms does not exist".

CNSight uses none of these operators (it needs torchvision's ResNet definition and its
transforms, pure Python over torch). So, only when the operators are missing, this hook declares
the two schemas ``_meta_registrations`` needs - declarations without kernels: calling them still
fails with a clear error - just before that module runs. With a working extension (the CUDA
build, or a CPU torchvision wheel) it does nothing. It costs nothing at start-up: torch is
imported only when torchvision is, in the model thread.
"""

import importlib.abc
import sys
import warnings

# The schemas exactly as torchvision 0.28/0.29 declare them (csrc/ops/nms.cpp, quantized/cpu).
MISSING_OP_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_libraries = []  # keeps the torch.library.Library alive (its definitions go with it)


def declare_missing_torchvision_ops() -> bool:
    """Declare the schemas when torchvision's extension did not load; True if it did so."""
    import torch
    import torchvision.extension

    if torchvision.extension._has_ops():
        return False
    lib = torch.library.Library("torchvision", "FRAGMENT")
    for schema in MISSING_OP_SCHEMAS:
        lib.define(schema)
    _libraries.append(lib)
    # torchvision.io's image decoders are in the same unusable build; CNSight reads images with
    # pydicom/Pillow/OpenCV, so the "Failed to load image Python extension" warning is noise.
    warnings.filterwarnings("ignore", message="Failed to load image Python extension")
    return True


class _BeforeMetaRegistrations(importlib.abc.MetaPathFinder):
    """Runs the check once, as ``torchvision._meta_registrations`` is about to be imported
    (``torchvision.extension`` has tried to load ``_C`` by then); finds nothing itself."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname == "torchvision._meta_registrations":
            sys.meta_path.remove(self)
            declare_missing_torchvision_ops()
        return None


sys.meta_path.insert(0, _BeforeMetaRegistrations())
