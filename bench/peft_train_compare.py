#!/usr/bin/env python3
"""lorastack vs PyTorch + PEFT: seconds per SD1.5 LoRA training step on one GPU, in one run (issue 8).

Both sides: UNet2DConditionModel with SD1.5's config and random weights, frozen, bf16; LoRA rank 16, alpha 16
on kohya's module set (proj_in, proj_out, to_q/k/v, to_out.0, ff.net.0.proj, ff.net.2 of every transformer
block), fp32 LoRA weights, AdamW (lr 1e-4); batch 4, latents [4, 4, 64, 64], context [4, 77, 768] given (random),
random timesteps, eps target, MSE; one step = forward + backward + optimizer step, synchronised.
PyTorch side: torch.autocast(bfloat16) around the forward (the diffusers training scripts' mixed precision),
SDPA attention (diffusers default), eager. lorastack side: bench_cuda_train (bench/bench_cuda_train.cpp) in a
subprocess first. Prints RESULT lines and the ratio (PyTorch seconds / lorastack seconds: > 1 = lorastack faster).
Usage: peft_train_compare.py --lorastack-bench PATH [--reps 5] [--batch 4]   (diffusers on PYTHONPATH)
"""
import argparse
import re
import statistics
import subprocess
import time

import torch
import torch.nn.functional as F

ap = argparse.ArgumentParser()
ap.add_argument("--lorastack-bench", required=True)
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--batch", type=int, default=4)
args = ap.parse_args()

res = subprocess.run([args.lorastack_bench, str(args.reps), str(args.batch), "bf16"], capture_output=True, text=True)
print(res.stdout, res.stderr, flush=True)
ours = {int(m.group(1)): float(m.group(2)) for m in
        re.finditer(r"RESULT lorastack train_step batch=\d+ checkpointing=(\d) precision=\w+ seconds=([\d.]+)", res.stdout)}

from diffusers import UNet2DConditionModel  # noqa: E402
from peft import LoraConfig  # noqa: E402

torch.manual_seed(0)
unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768).to("cuda", torch.bfloat16)  # SD1.5 layout
unet.requires_grad_(False)
unet.add_adapter(LoraConfig(r=16, lora_alpha=16, init_lora_weights="gaussian",
                            target_modules=["proj_in", "proj_out", "to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj",
                                            "ff.net.2"]))
params = [p for p in unet.parameters() if p.requires_grad]
for p in params:
    p.data = p.data.float()
print(f"PEFT LoRA: {sum(p.numel() for p in params)} parameters", flush=True)
opt = torch.optim.AdamW(params, lr=1e-4)
B = args.batch
x0 = torch.randn(B, 4, 64, 64, device="cuda")
ctx = torch.randn(B, 77, 768, device="cuda", dtype=torch.bfloat16)
ac = torch.linspace(0.9991, 0.0047, 1000, device="cuda")  # stand-in ᾱ: speed does not depend on it


def step(checkpointing):
    unet.train()
    if checkpointing:
        unet.enable_gradient_checkpointing()
    else:
        unet.disable_gradient_checkpointing()
    noise = torch.randn_like(x0)
    t = torch.randint(0, 1000, (B,), device="cuda")
    a = ac[t].view(B, 1, 1, 1)
    noisy = (a.sqrt() * x0 + (1 - a).sqrt() * noise).to(torch.bfloat16)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        pred = unet(noisy, t, ctx).sample
    loss = F.mse_loss(pred.float(), noise)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    torch.cuda.synchronize()


for ckpt in (0, 1):
    for _ in range(2):
        step(ckpt)
    torch.cuda.reset_peak_memory_stats()
    s = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        step(ckpt)
        s.append(time.perf_counter() - t0)
    sec = statistics.median(s)
    print(f"RESULT peft train_step batch={B} checkpointing={ckpt} seconds={sec:.4f} "
          f"peak_gib={torch.cuda.max_memory_allocated() / 2**30:.2f}", flush=True)
    if ckpt in ours:
        print(f"RATIO checkpointing={ckpt}: PyTorch+PEFT {sec:.4f} s / lorastack {ours[ckpt]:.4f} s = {sec / ours[ckpt]:.2f}x",
              flush=True)
