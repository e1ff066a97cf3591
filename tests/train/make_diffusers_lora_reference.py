#!/usr/bin/env python3
"""diffusers loads a LoRA that lorastack trained, and its outputs become the reference for
tests/train/test_grad_reference.cpp (issue 8: "loads in diffusers via load_lora_weights and gives the same UNet
output as lorastack within 1e-3 relative, fp32").

The LoRA: tests/train/data/lscat_lora200.safetensors, written by
  lorastack train --base <tiny-sd1> --data tests/train/data/lscat --resolution 64 --steps 200 --rank 4 --alpha 4
                  --lr 1e-3 --save-precision fp32 --seed 7 --threads 1 -o lscat_lora200.safetensors
(kohya names, UNet + text encoder modules; the log is tests/train/data/lscat_lora200.log).
Here: StableDiffusionPipeline.from_pretrained(tiny-sd1, fp32, CPU), pipe.load_lora_weights() of the file's UNet
modules (its lora_unet_* keys; diffusers converts the kohya keys and applies alpha/rank — the text-encoder half is
left out because diffusers' kohya text-encoder path looks for "text_model.*" module names, which transformers 5's
CLIPTextModel no longer has; lorastack's text-encoder LoRA is checked against PEFT by make_grad_reference.py).
For fixed inputs — ids of two prompts through the pipeline's tokenizer, the base text encoder's output as context,
noisy latents ~ N(0,1) [2, 4, 8, 8] from torch.Generator().manual_seed(5), timesteps [999, 250] — records the UNet
eps with the LoRA, then again after pipe.unload_lora_weights().
Usage: make_diffusers_lora_reference.py MODEL_DIR LORA OUT.safetensors (diffusers on PYTHONPATH).
"""
import sys

import torch
from diffusers import StableDiffusionPipeline
from safetensors.torch import load_file, save_file

model_dir, lora_path, out = sys.argv[1:4]
pipe = StableDiffusionPipeline.from_pretrained(model_dir, torch_dtype=torch.float32, safety_checker=None,
                                               requires_safety_checker=False)
prompts = ["lscat cat, grinning", "lscat cat, tears of joy"]
ids = pipe.tokenizer(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
noisy = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(5))
t = torch.tensor([999, 250])


@torch.no_grad()
def run():
    ctx = pipe.text_encoder(ids)[0]
    return ctx, pipe.unet(noisy, t, ctx).sample


unet_part = {k: v for k, v in load_file(lora_path).items() if k.startswith("lora_unet_")}
pipe.load_lora_weights(unet_part)
ctx_l, eps_l = run()
pipe.unload_lora_weights()
ctx_b, eps_b = run()
print("LoRA moves eps by", ((eps_l - eps_b).abs().max() / eps_b.abs().max()).item(), "(max relative); context equal:",
      torch.equal(ctx_l, ctx_b))
save_file({"input.ids": ids.to(torch.int64), "input.noisy": noisy, "input.timesteps": t.to(torch.float32),
           "base.context": ctx_b.contiguous(), "lora.eps": eps_l.contiguous(), "base.eps": eps_b.contiguous()}, out,
          metadata={"generator": "tests/train/make_diffusers_lora_reference.py"})
print("->", out)
