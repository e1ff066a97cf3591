#!/usr/bin/env python3
"""Reference numbers for tests/train_data from kohya-ss sd-scripts' own code (not a re-implementation).

    python3 tests/train_data/make_kohya_reference.py KOHYA_LIBRARY_DIR tests/train_data/data/kohya_reference.json

KOHYA_LIBRARY_DIR holds sd-scripts' library/model_util.py and library/train_util.py (read, not imported:
their imports need the whole training stack). The functions used are taken out of those files with `ast`
and executed as they are: model_util.make_bucket_resolutions, train_util.BucketManager (select_bucket,
round_to_steps, ...) and BaseDataset.set_tag_frequency. Needs numpy.
"""
import ast
import json
import math
import random
import sys
import types

import numpy as np


def extract(path, names):
    tree = ast.parse(open(path, encoding="utf-8").read())
    out = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name in names:
            out[node.name] = ast.get_source_segment(open(path, encoding="utf-8").read(), node)
    return out


def main(lib, out_path):
    ns = {"math": math, "np": np, "random": random, "Tuple": tuple, "Optional": object, "List": list,
          "logger": types.SimpleNamespace(info=print, warning=print)}
    src = extract(f"{lib}/model_util.py", {"make_bucket_resolutions"})
    exec(src["make_bucket_resolutions"], ns)
    ns["model_util"] = types.SimpleNamespace(make_bucket_resolutions=ns["make_bucket_resolutions"])
    tu = extract(f"{lib}/train_util.py", {"BucketManager", "BaseDataset"})
    exec(tu["BucketManager"], ns)
    base = ast.parse(tu["BaseDataset"]).body[0]
    method = next(n for n in base.body if isinstance(n, ast.FunctionDef) and n.name == "set_tag_frequency")
    exec(ast.unparse(method), ns)
    BucketManager = ns["BucketManager"]

    ref = {"resolutions": [], "select": [], "tag_frequency": []}
    for reso, lo, hi, step in [((512, 512), 256, 1024, 64), ((512, 768), 256, 1024, 64), ((768, 768), 320, 1536, 64),
                               ((640, 384), 256, 1024, 128)]:
        ref["resolutions"].append({"max_reso": reso, "min": lo, "max": hi, "steps": step,
                                   "buckets": [list(r) for r in ns["make_bucket_resolutions"](reso, lo, hi, step)]})
    sizes = [(512, 512), (1024, 768), (768, 1024), (640, 480), (1920, 1080), (1080, 1920), (300, 200), (500, 1000),
             (3000, 400), (100, 100), (513, 511), (777, 333), (1000, 1), (64, 4000), (4032, 3024), (2048, 2048)]
    configs = [("upscale", False, (512, 512), 256, 1024, 64), ("upscale", False, (768, 512), 256, 1024, 64),
               ("no_upscale", True, (512, 512), 256, 1024, 64), ("no_upscale", True, (768, 512), 256, 1024, 64),
               ("fixed", False, (512, 512), None, None, None)]
    for name, no_upscale, reso, lo, hi, step in configs:
        bm = BucketManager(no_upscale, reso, lo, hi, step)
        if name == "fixed":
            bm.set_predefined_resos([reso])
        elif not no_upscale:
            bm.make_buckets()
        for w, h in sizes:
            try:
                bucket, resized, ar_error = bm.select_bucket(w, h)
            except Exception as e:  # tiny sides: kohya divides by zero
                ref["select"].append({"config": name, "no_upscale": no_upscale, "resolution": reso, "min": lo,
                                      "max": hi, "steps": step, "image": [w, h], "error": type(e).__name__})
                continue
            if bucket[0] <= 0 or bucket[1] <= 0:
                ref["select"].append({"config": name, "no_upscale": no_upscale, "resolution": reso, "min": lo,
                                      "max": hi, "steps": step, "image": [w, h], "error": "empty bucket"})
                continue
            ref["select"].append({"config": name, "no_upscale": no_upscale, "resolution": reso, "min": lo, "max": hi,
                                  "steps": step, "image": [w, h], "bucket": list(bucket),
                                  "resized": [int(v) for v in resized], "ar_error": float(ar_error),
                                  "crop_ltrb": [float(v) for v in BucketManager.get_crop_ltrb(bucket, (w, h))]})
    folders = {"10_sks dog": ["sks dog, Sitting, grass", " sks dog ,running,, Grass ", "ÉCOLE, Straße, ΣΟΦΊΑ, 日本語"],
               "plain": ["", "a, A, a b"]}
    holder = types.SimpleNamespace(tag_frequency={})
    for folder, captions in folders.items():
        ns["set_tag_frequency"](holder, folder, captions)
    ref["tag_frequency"] = {"folders": folders, "json": json.dumps(holder.tag_frequency)}
    with open(out_path, "w", encoding="utf-8") as f:
        json.dump(ref, f, indent=1, ensure_ascii=False)
    print(len(ref["select"]), "selections")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
