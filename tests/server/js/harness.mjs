// Starts `lorastack serve` for a client test: a fresh tiny model (`lorastack model init --arch tiny`), a LoRA folder
// of refsuite adapters (plus meta_style: lora_a with a modelspec.trigger_phrase), port 0; reads the URL the server
// prints. Environment (set by tests/server.cmake): LS_CLI (the lorastack binary), LS_SHARED_DIR (refsuite).
import { spawn, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const cli = process.env.LS_CLI;
const shared = process.env.LS_SHARED_DIR;

/** Rewrite a safetensors file with extra `__metadata__` entries (offsets are relative to the data, so unchanged). */
function withMetadata(from, to, extra) {
  const buf = readFileSync(from);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
  header.__metadata__ = { ...(header.__metadata__ ?? {}), ...extra };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(to, Buffer.concat([len, json, buf.subarray(8 + n)]));
}

export async function startServer() {
  if (!cli || !shared) throw new Error('LS_CLI and LS_SHARED_DIR must be set (run through ctest)');
  const root = mkdtempSync(join(tmpdir(), 'lorastack-js-'));
  const model = join(root, 'model');
  execFileSync(cli, ['model', 'init', '--arch', 'tiny', '-o', model], { stdio: 'ignore' });
  const loras = join(root, 'loras');
  mkdirSync(join(loras, 'sub'), { recursive: true });
  const a = join(shared, 'refsuite', 'adapters');
  const copy = (from, to) => {
    copyFileSync(join(a, from), join(loras, to));
    chmodSync(join(loras, to), 0o644);
  };
  copy('lora_a/lora_a_kohya.safetensors', 'lora_a_kohya.safetensors');
  copy('locon_b/locon_b_kohya.safetensors', 'locon_b_kohya.safetensors');
  copy('loha_c/loha_c_lycoris.safetensors', 'sub/loha_c_lycoris.safetensors');
  withMetadata(join(a, 'lora_a/lora_a_kohya.safetensors'), join(loras, 'meta_style.safetensors'), {
    'modelspec.trigger_phrase': 'sks style, watercolor',
    ss_output_name: 'metastyle',
  });

  const proc = spawn(cli, ['serve', '--model', model, '--lora-dir', loras, '--port', '0', '--threads', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${stderr}`)), 120000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}:\n${stderr}`)));
  });
  return {
    url,
    root,
    stderr: () => stderr,
    /** SIGTERM; resolves to the exit code (0 = a clean shutdown). */
    async stop() {
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      const [code] = await exited;
      rmSync(root, { recursive: true, force: true });
      return code;
    },
  };
}

/** The tEXt chunks of a PNG, as {keyword: text}. */
export function pngText(buf) {
  const sig = '89504e470d0a1a0a';
  if (buf.subarray(0, 8).toString('hex') !== sig) throw new Error('not a PNG');
  const out = {};
  for (let i = 8; i + 8 <= buf.length;) {
    const len = buf.readUInt32BE(i);
    const type = buf.subarray(i + 4, i + 8).toString('latin1');
    if (type === 'tEXt') {
      const data = buf.subarray(i + 8, i + 8 + len);
      const zero = data.indexOf(0);
      out[data.subarray(0, zero).toString('latin1')] = data.subarray(zero + 1).toString('latin1');
    }
    i += 12 + len;
  }
  return out;
}

/** Width and height from the IHDR chunk. */
export function pngSize(buf) {
  return { width: buf.readUInt32BE(16), height: buf.readUInt32BE(20) };
}
