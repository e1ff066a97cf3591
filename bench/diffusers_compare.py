#!/usr/bin/env python3
"""lorastack vs diffusers (eager and torch.compile) on one GPU, in one process run (issue 5).

Same weights on both sides: the diffusers folder that `lorastack model init --arch sd1 --seed 1 -o DIR` writes
(random SD1.5, fp16 safetensors). 512x512, 20 Euler steps, CFG 7.5, batch 1 and batch 4, fp16.

- lorastack: runs bench_cuda_pipeline (bench/bench_cuda_pipeline.cpp) first, in a subprocess: Engine::generate end
  to end (text encoding of prompt + empty negative prompt, 20 UNet steps, VAE decode, 8-bit RGB), model load
  excluded, one warm-up generation per batch size, median of --reps; plus one UNet step, CFG batch 2.
- diffusers: StableDiffusionPipeline built from the folder's UNet2DConditionModel / AutoencoderKL (fp16, default
  SDPA attention) with EulerDiscreteScheduler, text_encoder=None / tokenizer=None; random fp16 prompt_embeds and
  negative_prompt_embeds [B, 77, 768] are passed, so the timed call is the denoising loop + VAE decode + PIL
  conversion (output_type="pil"; no text encoder, which is < 1 % of the time). One warm-up call per batch size,
  median of --reps. UNet step: pipe.unet on [2, 4, 64, 64] with the pipeline's own arguments.
- diffusers + torch.compile: the same pipeline with unet and vae in channels_last, `pipe.unet = torch.compile(
  pipe.unet, fullgraph=True)` and `pipe.vae.decode = torch.compile(pipe.vae.decode, fullgraph=True)` (the recipe
  of diffusers' torch2.0 / fast-diffusion docs; mode from --compile-mode, default inductor mode by default),
  torch._inductor.config.conv_1x1_as_mm = True, static shapes (a recompile per batch size, done in the warm-up);
  falls back to fullgraph=False (and says so) if the full-graph compile fails.
- env LS_LD_LIBRARY_PATH: LD_LIBRARY_PATH for the lorastack subprocess only (its bundled shared libraries).

Imports diffusers from PYTHONPATH (the source tree brought in an ignored folder; never committed).
Prints "RESULT ..." lines as it goes and a table of ratios at the end; --json writes all numbers.

Usage: diffusers_compare.py --model DIR --lorastack-bench PATH [--reps 3] [--compile-mode default]
                            [--budget-s 330] [--json FILE]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

T_START = time.time()
results = {}  # (side, what, batch) -> dict


def log(msg):
    print(f"[{time.time() - T_START:7.1f}s] {msg}", flush=True)


def record(side, what, batch, **kv):
    results[(side, what, batch)] = kv
    print("RESULT " + side + " " + what + f" batch={batch} " + " ".join(f"{k}={v}" for k, v in kv.items()), flush=True)


def run_lorastack(args):
    cmd = [args.lorastack_bench, args.model, "fp16", str(args.reps), "1", "4"]
    log("lorastack: " + " ".join(cmd))
    env = dict(os.environ)
    if os.environ.get("LS_LD_LIBRARY_PATH"):  # lorastack's own shared libraries, kept away from python's
        env["LD_LIBRARY_PATH"] = os.environ["LS_LD_LIBRARY_PATH"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    sys.stdout.write(p.stdout)
    for line in p.stdout.splitlines():
        if not line.startswith("RESULT lorastack"):
            continue
        f = line.split()
        kv = dict(x.split("=", 1) for x in f[4:])
        b = int(kv.pop("batch"))
        results[("lorastack", f[3], b)] = {k: float(v) for k, v in kv.items()}
    if p.returncode != 0:
        log(f"lorastack bench exited with {p.returncode}")


class EulerLoop:
    """Fallback when StableDiffusionPipeline cannot be imported: the same txt2img loop (CFG in one batch,
    [uncond, cond] order, scheduler.scale_model_input / step, VAE decode, VaeImageProcessor to PIL)."""

    def __init__(self, unet, vae, scheduler):
        from diffusers.image_processor import VaeImageProcessor

        self.unet, self.vae, self.scheduler = unet, vae, scheduler
        self.processor = VaeImageProcessor(vae_scale_factor=8)

    def set_progress_bar_config(self, **kw):
        pass

    def __call__(self, prompt_embeds, negative_prompt_embeds, height, width, num_inference_steps, guidance_scale,
                 generator, output_type):
        import torch
        from types import SimpleNamespace

        with torch.no_grad():
            b, dev = prompt_embeds.shape[0], prompt_embeds.device
            ctx = torch.cat([negative_prompt_embeds, prompt_embeds])
            self.scheduler.set_timesteps(num_inference_steps, device=dev)
            lat = torch.randn(b, 4, height // 8, width // 8, generator=generator, device=dev, dtype=prompt_embeds.dtype)
            lat = lat * self.scheduler.init_noise_sigma
            for t in self.scheduler.timesteps:
                inp = self.scheduler.scale_model_input(torch.cat([lat] * 2), t)
                eps = self.unet(inp, t, encoder_hidden_states=ctx, timestep_cond=None, cross_attention_kwargs=None,
                                added_cond_kwargs=None, return_dict=False)[0]
                u, c = eps.chunk(2)
                lat = self.scheduler.step(u + guidance_scale * (c - u), t, lat, return_dict=False)[0]
            img = self.vae.decode(lat / self.vae.config.scaling_factor, return_dict=False, generator=generator)[0]
            return SimpleNamespace(images=self.processor.postprocess(img, output_type=output_type))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--lorastack-bench", required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--compile-mode", default="default")
    ap.add_argument("--budget-s", type=float, default=330.0, help="skip later compiled runs past this wall time")
    ap.add_argument("--skip-lorastack", action="store_true")
    ap.add_argument("--skip-compile", action="store_true")
    ap.add_argument("--json", default="")
    args = ap.parse_args()

    if not args.skip_lorastack:
        run_lorastack(args)

    import torch
    import diffusers
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel

    log(f"torch {torch.__version__}, diffusers {diffusers.__version__} from {os.path.dirname(diffusers.__file__)}, "
        f"{torch.cuda.get_device_name(0)}")
    dev = torch.device("cuda")
    dtype = torch.float16
    unet = UNet2DConditionModel.from_pretrained(os.path.join(args.model, "unet"), torch_dtype=dtype).to(dev)
    vae = AutoencoderKL.from_pretrained(os.path.join(args.model, "vae"), torch_dtype=dtype).to(dev)
    sched = EulerDiscreteScheduler.from_pretrained(os.path.join(args.model, "scheduler"))
    log(f"diffusers load done; attention processor {type(unet.attn_processors[next(iter(unet.attn_processors))]).__name__}")
    try:
        from diffusers import StableDiffusionPipeline

        pipe = StableDiffusionPipeline(vae=vae, text_encoder=None, tokenizer=None, unet=unet, scheduler=sched,
                                       safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    except Exception as e:  # e.g. the installed transformers does not fit this diffusers: same loop by hand
        log(f"StableDiffusionPipeline unavailable ({type(e).__name__}: {str(e)[:300]}); using the hand-written loop")
        pipe = EulerLoop(unet, vae, sched)
    pipe.set_progress_bar_config(disable=True)

    g = torch.Generator(device="cpu").manual_seed(0)
    embeds = {b: (torch.randn(b, 77, 768, generator=g).to(dev, dtype), torch.randn(b, 77, 768, generator=g).to(dev, dtype))
              for b in (1, 4)}

    gen = torch.Generator(device="cuda")  # one object, reseeded (a new one per call could trip compile guards)

    def generate(b, seed):
        pe, ne = embeds[b]
        out = pipe(prompt_embeds=pe, negative_prompt_embeds=ne, height=512, width=512, num_inference_steps=20,
                   guidance_scale=7.5, generator=gen.manual_seed(seed), output_type="pil")
        torch.cuda.synchronize()
        assert len(out.images) == b
        return out

    def time_generate(side, b):
        t0 = time.time()
        generate(b, 1)
        warm = time.time() - t0
        torch.cuda.reset_peak_memory_stats()
        s = []
        for r in range(args.reps):
            t0 = time.time()
            generate(b, 2 + r)
            s.append(time.time() - t0)
        med = statistics.median(s)
        record(side, "generate", b, s=round(med, 4), img_per_s=round(b / med, 3),
               peak_gib=round(torch.cuda.max_memory_allocated() / 2**30, 2), warmup_s=round(warm, 3),
               min_s=round(min(s), 4))

    def time_unet_step(side):
        x = torch.randn(2, 4, 64, 64, device=dev, dtype=dtype)
        ctx = torch.randn(2, 77, 768, device=dev, dtype=dtype)
        pipe.scheduler.set_timesteps(20, device=dev)
        t = pipe.scheduler.timesteps[10]  # a 0-d tensor, as the pipeline passes it
        call = lambda: pipe.unet(x, t, encoder_hidden_states=ctx, timestep_cond=None, cross_attention_kwargs=None,
                                 added_cond_kwargs=None, return_dict=False)[0]
        with torch.no_grad():
            for _ in range(3):
                call()
            torch.cuda.synchronize()
            ev = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(2 * args.reps)]
            ms = []
            for a, e in ev:
                a.record()
                call()
                e.record()
                e.synchronize()
                ms.append(a.elapsed_time(e))
        record(side, "unet_step", 2, ms=round(statistics.median(ms), 3))

    for b in (1, 4):
        time_generate("eager", b)
        log(f"eager batch {b} done")
    time_unet_step("eager")

    if not args.skip_compile:
        torch._dynamo.config.automatic_dynamic_shapes = False
        torch._inductor.config.conv_1x1_as_mm = True
        pipe.unet.to(memory_format=torch.channels_last)
        pipe.vae.to(memory_format=torch.channels_last)
        kw = {"fullgraph": True}
        if args.compile_mode != "default":
            kw["mode"] = args.compile_mode
        unet_eager, decode_eager = pipe.unet, pipe.vae.decode
        pipe.unet = torch.compile(unet_eager, **kw)
        pipe.vae.decode = torch.compile(decode_eager, **kw)
        for b in (1, 4):
            if b > 1 and time.time() - T_START > args.budget_s:
                log(f"compiled batch {b} skipped: past the {args.budget_s:.0f} s budget")
                continue
            try:
                time_generate("compiled", b)
            except Exception as e:  # a graph break under fullgraph=True: retry once without it
                if not kw.get("fullgraph"):
                    raise
                log(f"compile with fullgraph=True failed ({type(e).__name__}: {str(e)[:300]}); retrying fullgraph=False")
                torch._dynamo.reset()
                kw["fullgraph"] = False
                pipe.unet = torch.compile(unet_eager, **kw)
                pipe.vae.decode = torch.compile(decode_eager, **kw)
                time_generate("compiled", b)
            log(f"compiled batch {b} done (incl. compile in warm-up)")
            if b == 1:
                time_unet_step("compiled")

    # ratios (images/s of lorastack over the other side; for the UNet step, the other side's ms over ours)
    print("\n| what | lorastack | diffusers eager | diffusers compiled | lorastack / eager | lorastack / compiled |")
    print("|---|---|---|---|---|---|")
    def get(side, what, b, k):
        r = results.get((side, what, b))
        return r.get(k) if r else None
    fmt = lambda v, u: "–" if v is None else f"{v:.3f} {u}" if u != "ms" else f"{v:.1f} ms"
    ratio = lambda a, c: "–" if a is None or c is None else f"{a / c:.2f}×"
    for b in (1, 4):
        l, e, c = (get(s, "generate", b, "img_per_s") for s in ("lorastack", "eager", "compiled"))
        print(f"| images/s, batch {b} | {fmt(l, 'img/s')} | {fmt(e, 'img/s')} | {fmt(c, 'img/s')} | {ratio(l, e)} | {ratio(l, c)} |")
    l, e, c = (get(s, "unet_step", 2, "ms") for s in ("lorastack", "eager", "compiled"))
    print(f"| UNet step CFG b2 | {fmt(l, 'ms')} | {fmt(e, 'ms')} | {fmt(c, 'ms')} | {ratio(e, l)} | {ratio(c, l)} |")
    for b in (1, 4):
        l, e, c = (get(s, "generate", b, "peak_gib") for s in ("lorastack", "eager", "compiled"))
        print(f"| peak GPU GiB, batch {b} | {l} | {e} | {c} | | |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{s}/{w}/b{b}": v for (s, w, b), v in results.items()}, f, indent=1)
    log("done")


if __name__ == "__main__":
    main()
