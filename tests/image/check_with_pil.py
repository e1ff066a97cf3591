#!/usr/bin/env python3
"""Cross-check lorastack's JPEG / WebP writer with Pillow (where Pillow is installed).

    LS_IMAGE_EXPORT_DIR=DIR build/tests/test_image --gtest_filter=Codecs.ExportForPillowCheck
    python3 tests/image/check_with_pil.py DIR

Checks that Pillow opens ours.jpg / ours.webp, that the EXIF UserComment is b"UNICODE\\0" + UTF-16BE of the
parameters (what A1111's read_info_from_image decodes with piexif.helper.UserComment.load), and how far
Pillow's decoded pixels are from lorastack's own decode (*.decoded.bin). Exits non-zero on a mismatch.
"""
import sys

import numpy as np
from PIL import Image

d = sys.argv[1]
params = open(f"{d}/ours.params.txt", encoding="utf-8").read()
ok = True
for name in ["ours.jpg", "ours.webp"]:
    im = Image.open(f"{d}/{name}")
    raw = im.info.get("exif", b"")
    exif = im.getexif().get_ifd(0x8769)
    comment = exif.get(0x9286, b"")
    good = comment[:8] == b"UNICODE\x00" and comment[8:].decode("utf_16_be") == params
    ours = np.frombuffer(open(f"{d}/{name}.decoded.bin", "rb").read(), np.uint8).reshape(im.height, im.width, 3)
    diff = np.abs(np.asarray(im.convert("RGB")).astype(int) - ours.astype(int))
    print(f"{name}: format {im.format} {im.width}x{im.height}, exif starts {raw[:6]!r}, "
          f"UserComment matches: {good}, Pillow vs lorastack decode: max {diff.max()} mean {diff.mean():.4f}")
    ok = ok and good and diff.max() <= 1
print("PIL CHECK", "OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
