#!/usr/bin/env python3
"""Regenerate the fuzz seed corpora in tests/fuzz/corpus/<target>/ (standard library only, no torch).

Seeds are tiny valid (and a few near-valid) inputs: hand-built safetensors, pickles and PyTorch checkpoints
(zip and legacy), LDM yaml / diffusers config.json, CLIP tokenizer files, LoRA files cut down from the
refsuite adapters to a few modules, PNGs of every colour type, and prompts with A1111 LoRA tags.
Usage: python3 tests/fuzz/make_corpus.py [SHARED_DIR]   (default ../shared next to the checkout)
"""
import collections, io, json, os, pickle, struct, sys, types, zipfile, zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "..", "..", "shared")
REF = os.path.join(SHARED, "refsuite")
OUT = os.path.join(HERE, "corpus")

def put(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())

# ---------------------------------------------------------------- safetensors
DT = {"F32": ("f", 4), "F16": ("e", 2), "BF16": (None, 2), "I64": ("q", 8), "I32": ("i", 4), "U8": ("B", 1),
      "BOOL": ("?", 1), "F64": ("d", 8), "I8": ("b", 1), "I16": ("h", 2)}

def st_bytes(tensors, metadata=None):
    """tensors: name -> (dtype, shape, raw bytes)."""
    hdr, off, blobs = {}, 0, []
    if metadata:
        hdr["__metadata__"] = metadata
    for k, (dt, shape, raw) in tensors.items():
        hdr[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
        blobs.append(raw)
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)

def read_st(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    meta = h.pop("__metadata__", None)
    t = {k: (v["dtype"], v["shape"], b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]) for k, v in h.items()}
    return t, meta

def f32(vals):
    return struct.pack("<%df" % len(vals), *vals)

def numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n

put("safetensors", "small_f32.safetensors", st_bytes({"a": ("F32", [2, 2], f32([1, 2, 3, 4])), "b": ("F16", [3], struct.pack("<3e", 1, -2, 0.5))}))
put("safetensors", "metadata.safetensors", st_bytes({"x": ("I64", [1, 2], struct.pack("<2q", 7, -1))}, {"format": "pt", "k": "v"}))
put("safetensors", "scalar_and_empty.safetensors", st_bytes({"s": ("F32", [], f32([3])), "e": ("BF16", [0, 4], b""), "u": ("U8", [3], b"abc")}))
put("safetensors", "all_dtypes.safetensors", st_bytes({dt: (dt, [2], b"\x01" * (2 * sz)) for dt, (_, sz) in DT.items()}))
put("safetensors", "header_only.safetensors", struct.pack("<Q", 2) + b"{}")
bad = bytearray(st_bytes({"a": ("F32", [2], f32([1, 2])), "b": ("F32", [2], f32([3, 4]))}))
put("safetensors", "overlap_near_valid.safetensors", bytes(bad).replace(b'"data_offsets":[8,16]', b'"data_offsets":[4,12]'))

# ---------------------------------------------------------------- pickles and torch checkpoints
# Stand-ins for the torch globals, registered under torch's module names so that pickle writes the same
# GLOBAL opcodes torch.save does (nothing here needs torch).
torch = types.ModuleType("torch"); torch_utils = types.ModuleType("torch._utils")
sys.modules["torch"] = torch; sys.modules["torch._utils"] = torch_utils
def _rebuild_tensor_v2(*a): pass
def _rebuild_parameter(*a): pass
_rebuild_tensor_v2.__module__ = _rebuild_parameter.__module__ = "torch._utils"
torch_utils._rebuild_tensor_v2 = _rebuild_tensor_v2; torch_utils._rebuild_parameter = _rebuild_parameter
STORAGE_DT = {"FloatStorage": "F32", "HalfStorage": "F16", "LongStorage": "I64"}
for n in list(STORAGE_DT) + ["Size"]:
    cls = type(n, (), {}); cls.__module__ = "torch"; setattr(torch, n, cls)

class Storage:
    def __init__(self, key, cls, values):
        self.key, self.cls, self.values = key, cls, values
class FakeTensor:
    def __init__(self, storage, shape, offset=0, param=False):
        self.storage, self.shape, self.offset, self.param = storage, shape, offset, param
    def __reduce__(self):
        stride, s = [], 1
        for d in reversed(self.shape):
            stride.insert(0, s); s *= d
        t = (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.shape), tuple(stride), False, collections.OrderedDict()))
        return (_rebuild_parameter, (FakeTensorInner(t), False, collections.OrderedDict())) if self.param else t
class FakeTensorInner:
    def __init__(self, t): self.t = t
    def __reduce__(self): return self.t

class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.cls, obj.key, "cpu", len(obj.values))
        return None

def torch_pickle(obj, protocol=2):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=protocol).dump(obj)
    return buf.getvalue()

def storage_bytes(st):
    code = {"FloatStorage": "f", "HalfStorage": "e", "LongStorage": "q"}[st.cls.__name__]
    return struct.pack("<%d%s" % (len(st.values), code), *st.values)

s0 = Storage("0", torch.FloatStorage, [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
s1 = Storage("1", torch.HalfStorage, [0.5, -0.5])
state = collections.OrderedDict([("w", FakeTensor(s0, [2, 3])), ("b", FakeTensor(s1, [2], param=True)),
                                 ("tail", FakeTensor(s0, [2], offset=4))])
root = {"state_dict": state, "global_step": 840000}

def zip_ckpt(root, storages, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compress) as z:
        z.writestr("archive/data.pkl", torch_pickle(root))
        z.writestr("archive/byteorder", "little")
        for st in storages:
            z.writestr("archive/data/" + st.key, storage_bytes(st))
        z.writestr("archive/version", "3\n")
    return buf.getvalue()

def legacy_ckpt(root, storages):
    out = pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2) + pickle.dumps(1001, protocol=2)
    out += pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2)
    out += torch_pickle(root) + pickle.dumps([s.key for s in storages], protocol=2)
    for st in storages:
        out += struct.pack("<q", len(st.values)) + storage_bytes(st)
    return out

put("ckpt", "zip_stored.ckpt", zip_ckpt(root, [s0, s1]))
put("ckpt", "zip_deflated.ckpt", zip_ckpt(root, [s0, s1], zipfile.ZIP_DEFLATED))
put("ckpt", "legacy.ckpt", legacy_ckpt(root, [s0, s1]))
put("ckpt", "safetensors.safetensors", st_bytes({"a": ("F32", [2], f32([1, 2]))}))
put("pickle", "state_dict_p2.pkl", torch_pickle(root, 2))
put("pickle", "state_dict_p4.pkl", torch_pickle(state, 4))
put("pickle", "legacy_stream.pkl", legacy_ckpt(root, [s0, s1]))
put("pickle", "containers_p0.pkl", pickle.dumps({"a": [1, 2.5, "x", None, True], "b": (b"by", -7, 2**70)}, protocol=0))
put("pickle", "containers_p5.pkl", pickle.dumps([{"k": (1, 2, 3)}, {1, 2}, frozenset([3]), bytearray(b"z")], protocol=5))
put("pickle", "refused_os_system.pkl", b"cos\nsystem\n(S'echo hi'\ntR.")

# ---------------------------------------------------------------- model configs
yaml_text = open(os.path.join(REF, "model", "tiny-sd1.yaml")).read()
put("yaml_config", "ldm_tiny.yaml", b"\x00" + yaml_text.encode())
put("yaml_config", "ldm_minimal.yaml", b"\x00" + b"""model:
  params:
    parameterization: v
    unet_config:
      params: {model_channels: 32, channel_mult: [1, 2], num_res_blocks: 1, attention_resolutions: [1],
               num_head_channels: 8, context_dim: 32, use_linear_in_transformer: true}
    first_stage_config:
      params:
        ddconfig: {ch: 32, ch_mult: [1, 2], num_res_blocks: 1, z_channels: 4}
""")
folder = os.path.join(REF, "model", "tiny-sd1")
parts = []
for sub in ["unet/config.json", "vae/config.json", "text_encoder/config.json", "scheduler/scheduler_config.json"]:
    parts.append(open(os.path.join(folder, sub), "rb").read())
put("yaml_config", "diffusers_tiny.bin", b"\x01" + b"\x00".join(parts))
put("yaml_config", "diffusers_unet_only.bin", b"\x01" + parts[0])
put("yaml_config", "diffusers_keep_all.bin", b"\x01")

# ---------------------------------------------------------------- tokenizer
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return [chr(c) for c in cs]
syms = bytes_to_unicode()
vocab = {s: i for i, s in enumerate(syms)}
vocab.update({s + "</w>": 256 + i for i, s in enumerate(syms)})
vocab.update({"<|startoftext|>": 512, "<|endoftext|>": 513})
vocab_bytes = json.dumps(vocab, ensure_ascii=False, separators=(",", ":")).encode()
put("tokenizer", "prompt_only.txt", "a photo of a cat, (masterpiece:1.2) <lora:x:0.5> 12 é\u00a0世界")
put("tokenizer", "prompt_specials.txt", "<|startoftext|>the the<|endoftext|>  THE\t\n")
put("tokenizer", "byte_vocab_no_merges.bin", vocab_bytes + b"\x00#version: 0.2\n\x00hello world")
v2 = dict(vocab); v2.update({"th": 514, "the</w>": 515, "ca": 516, "cat</w>": 517})
put("tokenizer", "byte_vocab_merges.bin", json.dumps(v2, ensure_ascii=False).encode() + b"\x00#version: 0.2\nt h\nth e</w>\nc a\nca t</w>\n\x00the cat the")

# ---------------------------------------------------------------- LoRA files (refsuite adapters cut down)
ADAPTERS = [("lora_a/lora_a_kohya.safetensors", 2), ("loha_c/loha_c_lycoris.safetensors", 2),
            ("lokr_c/lokr_c_lycoris.safetensors", 2), ("locon_b/locon_b_kohya.safetensors", 3),
            ("dora_d/pytorch_lora_weights.safetensors", 2), ("dora_d/dora_d_lycoris.safetensors", 2),
            ("diff_e/diff_e_kohya.safetensors", 1)]
for rel, per_component in ADAPTERS:
    t, meta = read_st(os.path.join(REF, "adapters", rel))
    modules = collections.OrderedDict()
    for k in sorted(t):
        mod = k.split(".lora")[0].split(".hada")[0].split(".lokr")[0].split(".alpha")[0].split(".diff")[0].split(".dora")[0]
        modules.setdefault(mod, []).append(k)
    # the smallest modules of each component (text encoder / UNet), whole
    size = lambda m: sum(len(t[k][2]) for k in modules[m])
    te = sorted([m for m in modules if "te_" in m or m.startswith("text_encoder")], key=size)[:per_component]
    un = sorted([m for m in modules if m not in te], key=size)[:per_component]
    keep = {k: t[k] for m in te + un for k in modules[m]}
    put("lora_keys", os.path.basename(rel), st_bytes(keep, meta))
put("lora_keys", "peft_no_alpha.safetensors", st_bytes({
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_A.weight": ("F32", [1, 32], f32([0.01] * 32)),
    "unet.down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.lora_B.weight": ("F32", [32, 1], f32([0.02] * 32))}))
put("lora_keys", "ia3_and_norm.safetensors", st_bytes({
    "lora_te_text_model_encoder_layers_0_mlp_fc2.weight": ("F32", [32], f32([0.1] * 32)),
    "lora_te_text_model_encoder_layers_0_mlp_fc2.on_input": ("BOOL", [], b"\x00"),
    "lora_te_text_model_encoder_layers_0_layer_norm1.w_norm": ("F32", [32], f32([0.1] * 32)),
    "lora_te_text_model_encoder_layers_0_layer_norm1.b_norm": ("F32", [32], f32([0.1] * 32))}))

# ---------------------------------------------------------------- PNG (".png.seed": *.png is git-ignored)
def png(w, h, color_type, bit_depth, rows, chunks=(), interlace=0):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, interlace))
    for t, d in chunks:
        out += chunk(t, d)
    out += chunk(b"IDAT", zlib.compress(b"".join(b"\x00" + r for r in rows)))
    return out + chunk(b"IEND", b"")
put("png", "rgb8_text.png.seed", png(2, 2, 2, 8, [b"\xff\x00\x00\x00\xff\x00", b"\x00\x00\xff\xff\xff\xff"],
                                 [(b"tEXt", b"parameters\x00a cat\nSteps: 20"), (b"zTXt", b"k\x00\x00" + zlib.compress(b"zipped"))]))
put("png", "gray8.png.seed", png(3, 1, 0, 8, [b"\x00\x80\xff"]))
put("png", "gray1.png.seed", png(8, 1, 0, 1, [b"\xa5"]))
put("png", "palette.png.seed", png(2, 1, 3, 8, [b"\x00\x01"], [(b"PLTE", b"\xff\x00\x00\x00\xff\x00"), (b"tRNS", b"\x80")]))
put("png", "rgba16.png.seed", png(1, 1, 6, 16, [b"\x12\x34\x56\x78\x9a\xbc\xde\xf0"]))
put("png", "gray_alpha.png.seed", png(1, 2, 4, 8, [b"\x10\x20", b"\x30\x40"], [(b"iTXt", b"key\x00\x00\x00en\x00key\x00text")]))
put("png", "rgb8_interlaced.png.seed", png(3, 3, 2, 8, [b"\x01\x02\x03" * 3] * 3, interlace=1))

# ---------------------------------------------------------------- image (read_image: PNG / JPEG / WebP)
# The PNG seeds above, plus the JPEG / WebP fixtures Pillow made for tests/image (tests/image/make_reference.py:
# A1111 EXIF UserComment, EXIF orientation, CMYK, grey, progressive, lossless and alpha WebP).
for name in sorted(os.listdir(os.path.join(OUT, "png"))):
    put("image", name, open(os.path.join(OUT, "png", name), "rb").read())
IMAGE_DATA = os.path.join(HERE, "..", "image", "data")
for name in ["a1111.jpg", "a1111.webp", "orient6.jpg", "cmyk.jpg", "gray.jpg", "progressive.jpg", "lossless.webp",
             "alpha.webp"]:
    put("image", name + ".seed", open(os.path.join(IMAGE_DATA, name), "rb").read())

# ---------------------------------------------------------------- prompts
for name, text in [("plain", "a photo of a cat"),
                   ("tags", "a castle <lora:style:0.8>, <lora:char:0.7:0.5> at night <LYCO:x>"),
                   ("named", "x <lora:a:te=0.5:unet=1.5> y <lora:b:1:dyn=16> z"),
                   ("bad_weight", "<lora:a:abc>"),
                   ("nested", "<lora:<lora:a:1>:2> <lora:> <lora::1> <lora:a:1e40>"),
                   ("unicode", "\u4e16\u754c <lora:\u00e9t\u00e9:0.3>\t\t end ")]:
    put("prompt_tags", name + ".txt", text)
print("corpora written to", OUT)
