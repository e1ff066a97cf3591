// A1111-shaped clients: the /sdapi/v1 requests the A1111 web UI API takes, sent raw with fetch exactly as its
// API clients send them (the full StableDiffusionProcessingTxt2Img payload with its defaults), a LoRA tag in the
// prompt; the listings clients read first (loras, samplers, sd-models, progress); errors in FastAPI's "detail".
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { pngSize, pngText, startServer } from './harness.mjs';

let server;

before(async () => {
  server = await startServer();
});

after(async () => {
  assert.equal(await server.stop(), 0, 'the server exits cleanly on SIGTERM');
});

async function api(path, body) {
  const r = await fetch(`${server.url}${path}`, body === undefined ? {} : {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: r.status, json: await r.json() };
}

/** The txt2img payload A1111 API clients send: every field of StableDiffusionProcessingTxt2Img at its default. */
function txt2imgPayload(overrides) {
  return {
    prompt: '', negative_prompt: '', styles: [], seed: -1, subseed: -1, subseed_strength: 0, seed_resize_from_h: -1,
    seed_resize_from_w: -1, sampler_name: 'Euler a', scheduler: 'Automatic', batch_size: 1, n_iter: 1, steps: 20,
    cfg_scale: 7, width: 512, height: 512, restore_faces: false, tiling: false, do_not_save_samples: false,
    do_not_save_grid: false, eta: null, denoising_strength: 0, s_min_uncond: 0, s_churn: 0, s_tmax: null, s_tmin: 0,
    s_noise: 1, override_settings: {}, override_settings_restore_afterwards: true, refiner_checkpoint: null,
    refiner_switch_at: null, disable_extra_networks: false, firstpass_image: null, comments: {}, enable_hr: false,
    firstphase_width: 0, firstphase_height: 0, hr_scale: 2, hr_upscaler: null, hr_second_pass_steps: 0,
    hr_resize_x: 0, hr_resize_y: 0, hr_checkpoint_name: null, hr_sampler_name: null, hr_scheduler: null,
    hr_prompt: '', hr_negative_prompt: '', force_task_id: null, sampler_index: 'Euler', script_name: null,
    script_args: [], send_images: true, save_images: false, alwayson_scripts: {}, infotext: null,
    ...overrides,
  };
}

test('listings: loras (with trigger words), samplers, schedulers, sd-models, options, progress', async () => {
  const loras = (await api('/sdapi/v1/loras')).json;
  const names = loras.map((l) => l.name).sort();
  assert.deepEqual(names, ['locon_b_kohya', 'loha_c_lycoris', 'lora_a_kohya', 'meta_style']);
  const meta = loras.find((l) => l.name === 'meta_style');
  assert.equal(meta.alias, 'metastyle');
  assert.deepEqual(meta.trigger_words, ['sks style', 'watercolor']);
  assert.ok(meta.path.endsWith('/meta_style.safetensors'));
  assert.equal(meta.metadata.ss_network_module, 'networks.lora');
  const samplers = (await api('/sdapi/v1/samplers')).json.map((s) => s.name);
  for (const s of ['Euler', 'Euler a', 'DPM++ 2M', 'DPM++ 2M Karras', 'DDIM']) assert.ok(samplers.includes(s), s);
  assert.ok((await api('/sdapi/v1/schedulers')).json.some((s) => s.label === 'Karras'));
  const models = (await api('/sdapi/v1/sd-models')).json;
  assert.equal(models.length, 1);
  assert.equal(models[0].model_name, 'model');
  assert.equal((await api('/sdapi/v1/options')).json.sd_model_checkpoint, 'model');
  const progress = (await api('/sdapi/v1/progress')).json;
  assert.equal(progress.progress, 0);
  assert.equal(progress.state.job_count, 0);
});

test('txt2img: a LoRA tag in the prompt, the full default payload', async () => {
  const prompt = 'masterpiece, a cat, <lora:lora_a_kohya:0.8>, <lora:loha_c_lycoris:0.5:0.9>';
  const { status, json } = await api('/sdapi/v1/txt2img', txt2imgPayload({
    prompt, negative_prompt: 'lowres', seed: 1234, steps: 3, width: 64, height: 64, batch_size: 2,
    sampler_name: 'DPM++ 2M', scheduler: 'Karras', cfg_scale: 5,
    override_settings: { CLIP_stop_at_last_layers: 2 },
  }));
  assert.equal(status, 200, JSON.stringify(json));
  assert.equal(json.images.length, 2);
  assert.equal(json.parameters.prompt, prompt);
  assert.equal(typeof json.info, 'string', 'A1111 sends info as a JSON string');
  const info = JSON.parse(json.info);
  assert.equal(info.seed, 1234);
  assert.deepEqual(info.all_seeds, [1234, 1235], "A1111's default generator: image b has seed + b");
  assert.equal(info.sampler_name, 'DPM++ 2M Karras');
  assert.equal(info.clip_skip, 2);
  json.images.forEach((b64, k) => {
    const png = Buffer.from(b64, 'base64');
    assert.deepEqual(pngSize(png), { width: 64, height: 64 });
    const p = pngText(png).parameters;
    assert.equal(p, info.infotexts[k]);
    assert.ok(p.startsWith(`${prompt}\nNegative prompt: lowres\n`), p);
    assert.match(p, new RegExp(`Steps: 3, Sampler: DPM\\+\\+ 2M, Schedule type: Karras, CFG scale: 5, Seed: ${1234 + k}, Size: 64x64`));
    assert.match(p, new RegExp(`Batch size: 2, Batch pos: ${k}`));
    assert.match(p, /Clip skip: 2/);
    assert.match(p, /Lora hashes: "lora_a_kohya: [0-9a-f]{12}, loha_c_lycoris: [0-9a-f]{12}"/);
  });
});

test('img2img: a txt2img result as the init image, denoising strength, a LoRA tag', async () => {
  const t2i = await api('/sdapi/v1/txt2img', txt2imgPayload({ prompt: 'a house', seed: 3, steps: 2, width: 64, height: 64 }));
  assert.equal(t2i.status, 200);
  const { status, json } = await api('/sdapi/v1/img2img', txt2imgPayload({
    init_images: [t2i.json.images[0]], denoising_strength: 0.6, resize_mode: 0, mask: null, inpainting_fill: 0,
    prompt: 'a house at night <lora:locon_b_kohya:0.7>', seed: 3, steps: 5, width: 64, height: 64,
  }));
  assert.equal(status, 200, JSON.stringify(json));
  const info = JSON.parse(json.info);
  assert.equal(info.denoising_strength, 0.6);
  const p = pngText(Buffer.from(json.images[0], 'base64')).parameters;
  assert.match(p, /^a house at night <lora:locon_b_kohya:0\.7>\n/);
  assert.match(p, /Denoising strength: 0\.6/);
  assert.match(p, /Lora hashes: "locon_b_kohya: [0-9a-f]{12}"/);
});

test('txt2img: seed -1 draws a seed and reports it', async () => {
  const { status, json } = await api('/sdapi/v1/txt2img', txt2imgPayload({
    prompt: 'a dog <lora:meta_style:1>', steps: 1, width: 64, height: 64,
  }));
  assert.equal(status, 200);
  const info = JSON.parse(json.info);
  assert.ok(info.seed >= 0 && info.seed < 2 ** 32);
  assert.match(pngText(Buffer.from(json.images[0], 'base64')).parameters, new RegExp(`Seed: ${info.seed},`));
});

test('errors come back with FastAPI\'s "detail"', async () => {
  const cases = [
    [{ prompt: 'x <lora:no_such_lora:1>', width: 64, height: 64 }, 422, /prompt 'no_such_lora': no such LoRA/],
    [{ prompt: 'x <lora:../model/unet/diffusion_pytorch_model:1>', width: 64, height: 64 }, 403, /'\.\.' is not allowed/],
    [{ prompt: 'x', width: 100, height: 64 }, 422, /width 100: must be a multiple of 64/],
    [{ prompt: 'x', width: 64, height: 64, steps: 500 }, 422, /steps 500: must be in 1\.\.150/],
    [{ prompt: 'x', width: 64, height: 64, sampler_name: 'NoSuch Karras' }, 422, /sampler_name 'NoSuch Karras': unknown sampler/],
    [{ prompt: 'x', width: 64, height: 64, enable_hr: true }, 422, /enable_hr: not supported/],
  ];
  for (const [overrides, code, re] of cases) {
    const { status, json } = await api('/sdapi/v1/txt2img', txt2imgPayload(overrides));
    assert.equal(status, code, JSON.stringify(json));
    assert.match(json.detail, re);
  }
  const broken = await api('/sdapi/v1/txt2img', '{"prompt": ');
  assert.equal(broken.status, 400);
  assert.match(broken.json.detail, /not valid JSON/);
  const i2i = await api('/sdapi/v1/img2img', { init_images: [Buffer.from('not an image').toString('base64')], prompt: 'x' });
  assert.equal(i2i.status, 422);
  assert.match(i2i.json.detail, /init_images\[0\]: 12 bytes that are not a PNG, JPEG or WebP image/);
});
