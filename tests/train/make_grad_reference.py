#!/usr/bin/env python3
"""Reference gradients for tests/train/test_grad_reference.cpp (issue 8), from diffusers + transformers + PEFT.

On the tiny refsuite SD1 model (LORASTACK_SHARED_DIR/refsuite/model/tiny-sd1, fp32, CPU, deterministic):
  * PEFT LoRA (r=4, lora_alpha=2, no dropout, init then overwritten with N(0, 0.05²) draws from
    torch.Generator().manual_seed(1234) in module-name order, lora_A before lora_B) on
      - the UNet: every Linear / Conv2d in Transformer2DModel (proj_in, proj_out, to_q/k/v, to_out.0, ff.net.0.proj,
        ff.net.2) and in ResnetBlock2D / Downsample2D / Upsample2D (conv1, conv2, conv_shortcut, time_emb_proj, conv)
        — kohya's LoCon module set; 3×3 convs get a 3×3 lora_A as PEFT does;
      - the text encoder: self_attn q/k/v/out_proj and mlp fc1/fc2 of every layer;
  * inputs: ids [2, 77] (tokenizer of the model on two prompts, padded with EOS), x0, noise ~ N(0, 1) [2, 4, 8, 8]
    (generator seed 99), timesteps [999, 250]; noisy = DDPMScheduler.add_noise(x0, noise, t) with the model's
    scheduler config; target = noise (epsilon model);
  * loss = F.mse_loss(unet(noisy, t, text_encoder(ids)[0]).sample, target), backward.
Writes tensors: the LoRA in kohya names (<name>.lora_down.weight = lora_A, .lora_up.weight = lora_B, .alpha),
"grad.<name>.lora_down.weight" / "grad.<name>.lora_up.weight", "input.ids", "input.noisy", "input.target",
"input.timesteps", "loss". Usage: make_grad_reference.py MODEL_DIR OUT.safetensors (diffusers on PYTHONPATH).
"""
import sys

import torch
import torch.nn.functional as F
from diffusers import DDPMScheduler, UNet2DConditionModel
from peft import LoraConfig
from safetensors.torch import save_file
from transformers import CLIPTextModel, CLIPTokenizer

model_dir, out = sys.argv[1], sys.argv[2]
torch.manual_seed(0)
unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet", torch_dtype=torch.float32)
te = CLIPTextModel.from_pretrained(model_dir, subfolder="text_encoder", torch_dtype=torch.float32)
tok = CLIPTokenizer.from_pretrained(model_dir, subfolder="tokenizer")
sched = DDPMScheduler.from_pretrained(model_dir, subfolder="scheduler")
for p in list(unet.parameters()) + list(te.parameters()):
    p.requires_grad_(False)

unet_targets = ["proj_in", "proj_out", "to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2",
                "conv1", "conv2", "conv_shortcut", "time_emb_proj", "downsamplers.0.conv", "upsamplers.0.conv"]
unet.add_adapter(LoraConfig(r=4, lora_alpha=2, init_lora_weights=True, target_modules=unet_targets))
te.add_adapter(LoraConfig(r=4, lora_alpha=2, init_lora_weights=True,
                          target_modules=["q_proj", "k_proj", "v_proj", "out_proj", "fc1", "fc2"]))

g = torch.Generator().manual_seed(1234)
lora = {}  # kohya name -> (A module, B module)
for prefix, model in (("lora_unet_", unet), ("lora_te_", te)):
    for name, mod in sorted(model.named_modules()):
        if hasattr(mod, "lora_A") and "default" in getattr(mod, "lora_A", {}):
            a, b = mod.lora_A["default"], mod.lora_B["default"]
            with torch.no_grad():
                a.weight.copy_(torch.randn(a.weight.shape, generator=g) * 0.05)
                b.weight.copy_(torch.randn(b.weight.shape, generator=g) * 0.05)
            a.weight.requires_grad_(True)
            b.weight.requires_grad_(True)
            # transformers 5's CLIPTextModel no longer nests under "text_model"; kohya names always do
            if prefix == "lora_te_" and not name.startswith("text_model."):
                name = "text_model." + name
            lora[prefix + name.replace(".", "_")] = (a, b)

prompts = ["a red disc on white", "lsblob, blue square"]
ids = tok(prompts, padding="max_length", max_length=77, truncation=True, return_tensors="pt").input_ids
gen = torch.Generator().manual_seed(99)
x0 = torch.randn(2, 4, 8, 8, generator=gen)
noise = torch.randn(2, 4, 8, 8, generator=gen)
t = torch.tensor([999, 250])
noisy = sched.add_noise(x0, noise, t)

ctx = te(ids)[0]
pred = unet(noisy, t, ctx).sample
loss = F.mse_loss(pred.float(), noise.float(), reduction="mean")
loss.backward()

tensors = {"input.ids": ids.to(torch.int64), "input.noisy": noisy.contiguous(), "input.target": noise.contiguous(),
           "input.timesteps": t.to(torch.float32), "loss": loss.detach().reshape(1)}
for name, (a, b) in lora.items():
    tensors[name + ".lora_down.weight"] = a.weight.detach().contiguous()
    tensors[name + ".lora_up.weight"] = b.weight.detach().contiguous()
    tensors[name + ".alpha"] = torch.tensor(2.0)
    tensors["grad." + name + ".lora_down.weight"] = a.weight.grad.detach().contiguous()
    tensors["grad." + name + ".lora_up.weight"] = b.weight.grad.detach().contiguous()
save_file(tensors, out, metadata={"generator": "tests/train/make_grad_reference.py", "torch": torch.__version__})
print(f"loss {loss.item():.6f}, {len(lora)} LoRA modules ({sum(k.startswith('lora_te_') for k in lora)} text encoder) -> {out}")
