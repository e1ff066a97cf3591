// The official `openai` npm SDK (nobody here wrote it) against `lorastack serve`: images.generate with the
// "loras" extension field, both response formats, errors surfacing as the SDK's APIError, models.list.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { pngSize, pngText, startServer } from './harness.mjs';

let server;
let client;

before(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused-by-lorastack', maxRetries: 0, timeout: 120000 });
});

after(async () => {
  assert.equal(await server.stop(), 0, 'the server exits cleanly on SIGTERM');
});

test('images.generate: b64_json, two images, a stack of two LoRAs', async () => {
  const res = await client.images.generate({
    model: 'lorastack-tiny',
    prompt: 'a watercolor fox',
    n: 2,
    size: '64x64',
    response_format: 'b64_json',
    // lorastack extensions
    steps: 2,
    seed: 11,
    sampler: 'DPM++ 2M Karras',
    loras: [
      { name: 'lora_a_kohya', strength: 0.7 },
      { name: 'sub/loha_c_lycoris', strength: 0.4, te_strength: 0.2 },
    ],
  });
  assert.ok(res.created > 1700000000);
  assert.equal(res.data.length, 2);
  for (const d of res.data) {
    const png = Buffer.from(d.b64_json, 'base64');
    assert.deepEqual(pngSize(png), { width: 64, height: 64 });
    const p = pngText(png).parameters;
    assert.match(p, /^a watercolor fox <lora:lora_a_kohya:0\.7> <lora:loha_c_lycoris:0\.2:0\.4>\n/);
    assert.match(p, /Steps: 2, Sampler: DPM\+\+ 2M, Schedule type: Karras, CFG scale: 7\.5, Seed: 11, Size: 64x64/);
    assert.match(p, /Batch size: 2/);
    assert.match(p, /Lora hashes: "lora_a_kohya: [0-9a-f]{12}, loha_c_lycoris: [0-9a-f]{12}"/);
  }
});

test('images.generate: url response format serves the PNG', async () => {
  const res = await client.images.generate({ prompt: 'a fox <lora:locon_b_kohya:0.5>', size: '64x64', steps: 1 });
  assert.equal(res.data.length, 1);
  const url = res.data[0].url;
  assert.ok(url.startsWith(`${server.url}/v1/jobs/`), url);
  const r = await fetch(url);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'image/png');
  const p = pngText(Buffer.from(await r.arrayBuffer())).parameters;
  assert.match(p, /^a fox <lora:locon_b_kohya:0\.5>\n/);
  assert.match(p, /Lora hashes: "locon_b_kohya: [0-9a-f]{12}"/);
});

test('bad requests surface as the SDK\'s APIError with the server\'s message', async () => {
  await assert.rejects(
    client.images.generate({ prompt: 'x', size: '64x60' }),
    (e) => e instanceof OpenAI.APIError && e.status === 422 && /size '64x60': height 60 must be a multiple of 64/.test(e.message),
  );
  await assert.rejects(
    client.images.generate({ prompt: 'x', size: '64x64', loras: [{ name: '../model/unet/diffusion_pytorch_model' }] }),
    (e) => e instanceof OpenAI.PermissionDeniedError && e.status === 403 && /'\.\.' is not allowed/.test(e.message),
  );
  await assert.rejects(
    client.images.generate({ prompt: 'x', size: '64x64', loras: [{ name: 'no_such_lora' }] }),
    (e) => e instanceof OpenAI.UnprocessableEntityError && /no such LoRA/.test(e.message) && e.param === 'loras[0].name',
  );
  await assert.rejects(
    client.images.generate({ size: '64x64' }),
    (e) => e instanceof OpenAI.BadRequestError && /Missing required parameter: 'prompt'/.test(e.message),
  );
});

test('models.list names the resident model', async () => {
  const models = [];
  for await (const m of client.models.list()) models.push(m.id);
  assert.deepEqual(models, ['model']);
});
