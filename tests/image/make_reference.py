#!/usr/bin/env python3
"""Reference fixtures for tests/image (run where Pillow, OpenCV and numpy are installed; the GPU machine has them).

    python3 tests/image/make_reference.py tests/image/data

Writes, for test_codecs.cpp / test_resize.cpp:
  resize_*.bin        raw RGB of the 97x61 test pattern (pattern() below, mirrored in the C++ tests) resized by
                      PIL Image.resize(LANCZOS) and cv2.resize(INTER_AREA): kohya-ss's two resamplers
  a1111.jpg / .webp   saved the way A1111 saves (Pillow, quality 95, EXIF with ExifIFD UserComment =
                      b"UNICODE\\0" + UTF-16BE text, what piexif.helper.UserComment.dump(encoding="unicode") makes)
  orient6.jpg         a JPEG whose EXIF Orientation is 6 (rotate 90 degrees clockwise to view)
  cmyk.jpg, gray.jpg  Pillow CMYK (Adobe-inverted) and greyscale JPEGs
  progressive.jpg     a progressive JPEG
  lossless.webp       lossless WebP (VP8L) of the pattern; alpha.webp: lossless RGBA (exact: RGB kept under alpha)
  *.decoded.bin       what Pillow decodes from each of those (after exif_transpose / convert("RGB"))
  reference.json      sizes and the parameters text
"""
import json
import os
import sys

import cv2
import numpy as np
from PIL import Image, ImageOps

PARAMS = ("a cat wearing a hat, <lora:cat:0.8>, 日本語の猫 🐱\n"
          "Negative prompt: blurry\n"
          "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 64x48")


def pattern(w, h):
    """The deterministic test pattern shared with the C++ tests (tests/image/test_util.h)."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    return ((x * 7 + y * 13 + c * 50 + ((x * y) % 17) * 5 + ((x ^ y) & 15) * 3) % 256).astype(np.uint8)


def smooth(w, h):
    """A smooth picture for the lossy codecs (tests/image/test_util.h)."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    v = 128 + 100 * np.sin(x / 9.0 + c) * np.cos(y / 7.0 - c)
    return np.clip(np.round(v), 0, 255).astype(np.uint8)


def user_comment_exif(text, orientation=None):
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    if text is not None:
        exif[0x8769] = {0x9286: b"UNICODE\x00" + text.encode("utf_16_be")}
    return exif


def main(out):
    os.makedirs(out, exist_ok=True)
    ref = {"params": PARAMS}
    src = pattern(97, 61)
    pil = Image.fromarray(src, "RGB")
    for (w, h) in [(40, 25), (150, 90), (97, 30)]:
        open(f"{out}/resize_lanczos_{w}x{h}.bin", "wb").write(np.asarray(pil.resize((w, h), Image.LANCZOS)).tobytes())
    for (w, h) in [(40, 25), (32, 20), (97, 30)]:
        open(f"{out}/resize_area_{w}x{h}.bin", "wb").write(cv2.resize(src, (w, h), interpolation=cv2.INTER_AREA).tobytes())

    img = Image.fromarray(smooth(64, 48), "RGB")
    img.save(f"{out}/a1111.jpg", format="JPEG", quality=95, exif=user_comment_exif(PARAMS))
    img.save(f"{out}/a1111.webp", format="WEBP", quality=95, exif=user_comment_exif(PARAMS))
    quad = np.zeros((32, 48, 3), np.uint8)
    quad[:16, :24] = (255, 0, 0)
    quad[:16, 24:] = (0, 255, 0)
    quad[16:, :24] = (0, 0, 255)
    quad[16:, 24:] = (255, 255, 0)
    Image.fromarray(quad, "RGB").save(f"{out}/orient6.jpg", format="JPEG", quality=95,
                                      exif=user_comment_exif(None, orientation=6))
    Image.fromarray(smooth(40, 24), "RGB").convert("CMYK").save(f"{out}/cmyk.jpg", format="JPEG", quality=95)
    Image.fromarray(smooth(40, 24)[:, :, 0], "L").save(f"{out}/gray.jpg", format="JPEG", quality=95)
    Image.fromarray(smooth(40, 24), "RGB").save(f"{out}/progressive.jpg", format="JPEG", quality=90, progressive=True)
    Image.fromarray(pattern(20, 12), "RGB").save(f"{out}/lossless.webp", format="WEBP", lossless=True)
    rgba = np.concatenate([smooth(20, 12), (pattern(20, 12)[:, :, :1] // 2 + 64)], axis=2)
    Image.fromarray(rgba, "RGBA").save(f"{out}/alpha.webp", format="WEBP", lossless=True, exact=True)

    for name in ["a1111.jpg", "a1111.webp", "orient6.jpg", "cmyk.jpg", "gray.jpg", "progressive.jpg", "lossless.webp",
                 "alpha.webp"]:
        im = Image.open(f"{out}/{name}")
        im = ImageOps.exif_transpose(im).convert("RGB")
        open(f"{out}/{name}.decoded.bin", "wb").write(im.tobytes())
        ref[name] = {"width": im.width, "height": im.height}
    with open(f"{out}/reference.json", "w") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
    for name in sorted(os.listdir(out)):
        print(name, os.path.getsize(f"{out}/{name}"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/image/data")
