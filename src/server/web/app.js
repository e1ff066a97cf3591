// lorastack serve — the web page. Plain JS, no build step. Talks to the server's own APIs:
// GET /v1/server (model info), GET /sdapi/v1/loras (LoRA picker), GET /sdapi/v1/samplers,
// POST /v1/jobs + GET /v1/jobs/{id}/events (live progress over server-sent events), DELETE /v1/jobs/{id}.
'use strict';

const $ = (sel) => document.querySelector(sel);
const state = { loras: new Map(), stack: [], job: null, events: null, sizeMultiple: 64 };

async function getJson(url) {
  const r = await fetch(url);
  const body = await r.json();
  if (!r.ok) throw new Error(body?.error?.message || `${url}: HTTP ${r.status}`);
  return body;
}

function setStatus(text, isError = false) {
  const s = $('#status');
  s.textContent = text;
  s.classList.toggle('error', isError);
}

async function loadServerInfo() {
  const info = await getJson('/v1/server');
  state.sizeMultiple = info.model.size_multiple;
  $('#model-info').textContent = `${info.model.name} — ${info.model.description}`;
  for (const id of ['#width', '#height']) {
    const el = $(id);
    el.step = state.sizeMultiple;
    el.min = state.sizeMultiple;
  }
}

async function loadLoras() {
  const list = await getJson('/sdapi/v1/loras');
  const select = $('#lora-select');
  select.replaceChildren();
  state.loras.clear();
  for (const l of list) {
    state.loras.set(l.name, l);
    const opt = document.createElement('option');
    opt.value = l.name;
    opt.textContent = l.alias && l.alias !== l.name ? `${l.name} (${l.alias})` : l.name;
    select.append(opt);
  }
  $('#lora-add').disabled = list.length === 0;
  if (list.length === 0) {
    const opt = document.createElement('option');
    opt.textContent = 'no LoRAs in the LoRA folder';
    select.append(opt);
  }
}

async function loadSamplers() {
  const list = await getJson('/sdapi/v1/samplers');
  const select = $('#sampler');
  for (const s of list) {
    const opt = document.createElement('option');
    opt.value = s.name;
    opt.textContent = s.name;
    select.append(opt);
  }
  select.value = 'Euler a';
}

function renderStack() {
  const ul = $('#lora-stack');
  ul.replaceChildren();
  $('#lora-empty').hidden = state.stack.length > 0;
  state.stack.forEach((entry, index) => {
    const li = $('#lora-item').content.firstElementChild.cloneNode(true);
    li.dataset.name = entry.name;
    li.querySelector('.lora-name').textContent = entry.name;
    const slider = li.querySelector('.lora-strength');
    const value = li.querySelector('.lora-value');
    slider.value = entry.strength;
    value.textContent = Number(entry.strength).toFixed(2);
    slider.addEventListener('input', () => {
      entry.strength = Number(slider.value);
      value.textContent = entry.strength.toFixed(2);
    });
    li.querySelector('.lora-remove').addEventListener('click', () => {
      state.stack.splice(index, 1);
      renderStack();
    });
    const triggers = li.querySelector('.triggers');
    for (const word of state.loras.get(entry.name)?.trigger_words ?? []) {
      const chip = document.createElement('span');
      chip.className = 'trigger';
      chip.textContent = word;
      chip.title = 'add to the prompt';
      chip.addEventListener('click', () => {
        const p = $('#prompt');
        p.value = p.value ? `${p.value}, ${word}` : word;
      });
      triggers.append(chip);
    }
    ul.append(li);
  });
}

function addLora() {
  const name = $('#lora-select').value;
  if (!state.loras.has(name)) return;
  state.stack.push({ name, strength: 1 });
  renderStack();
}

function requestBody() {
  return {
    prompt: $('#prompt').value,
    negative_prompt: $('#negative').value,
    sampler: $('#sampler').value,
    steps: Number($('#steps').value),
    cfg_scale: Number($('#cfg').value),
    seed: Number($('#seed').value),
    width: Number($('#width').value),
    height: Number($('#height').value),
    batch_size: Number($('#batch').value),
    loras: state.stack.map((e) => ({ name: e.name, strength: e.strength })),
  };
}

function setBusy(busy) {
  $('#generate').disabled = busy;
  $('#cancel').disabled = !busy;
}

function addToGallery(job) {
  const gallery = $('#gallery');
  for (const image of [...job.images].reverse()) {
    const card = document.createElement('figure');
    card.className = 'card';
    card.dataset.job = job.id;
    const img = document.createElement('img');
    img.src = image.url;
    img.alt = job.parameters.prompt;
    const pre = document.createElement('pre');
    pre.className = 'infotext';
    pre.textContent = image.infotext;
    card.append(img, pre);
    gallery.prepend(card);
  }
}

function finishJob(message, isError) {
  if (state.events) state.events.close();
  state.events = null;
  state.job = null;
  setBusy(false);
  setStatus(message, isError);
}

async function generate(ev) {
  ev.preventDefault();
  setBusy(true);
  $('#progress').value = 0;
  setStatus('submitting…');
  let job;
  try {
    const r = await fetch('/v1/jobs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(requestBody()),
    });
    job = await r.json();
    if (!r.ok) throw new Error(job?.error?.message || `HTTP ${r.status}`);
  } catch (e) {
    finishJob(`refused: ${e.message}`, true);
    return;
  }
  state.job = job.id;
  setStatus(job.position > 1 ? `queued (position ${job.position})` : 'queued');
  const events = new EventSource(`/v1/jobs/${job.id}/events`);
  state.events = events;
  events.addEventListener('status', (e) => {
    const s = JSON.parse(e.data);
    if (s.status === 'queued') setStatus(`queued (position ${s.position})`);
    else if (s.status === 'running') setStatus('running…');
  });
  events.addEventListener('progress', (e) => {
    const p = JSON.parse(e.data);
    $('#progress').value = p.fraction;
    setStatus(`step ${p.step}/${p.total}`);
  });
  events.addEventListener('done', (e) => {
    const done = JSON.parse(e.data);
    $('#progress').value = 1;
    addToGallery(done);
    finishJob(`done in ${done.seconds.toFixed(2)} s (seed ${done.parameters.seed})`, false);
  });
  events.addEventListener('error', (e) => {
    if (e.data) finishJob(`failed: ${JSON.parse(e.data).error?.message ?? JSON.parse(e.data).message}`, true);
    else if (events.readyState === EventSource.CLOSED) finishJob('connection lost', true);
  });
  events.addEventListener('cancelled', () => finishJob('cancelled', false));
}

async function cancel() {
  if (!state.job) return;
  await fetch(`/v1/jobs/${state.job}`, { method: 'DELETE' });
}

async function main() {
  $('#form').addEventListener('submit', generate);
  $('#lora-add').addEventListener('click', addLora);
  $('#cancel').addEventListener('click', cancel);
  renderStack();
  try {
    await Promise.all([loadServerInfo(), loadLoras(), loadSamplers()]);
    document.body.dataset.ready = '1';
  } catch (e) {
    setStatus(`cannot reach the server: ${e.message}`, true);
  }
}

main();
