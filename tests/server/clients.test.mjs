// The real `ollama` and `openai` npm clients against `lathe serve`: chat and generate, streamed
// and whole, tags, show, models, usage counts, a disconnect mid-stream followed by a normal
// request, and the same greedy answer through both APIs.
// The server serves a temporary folder linking the shipped model (models/lathe-tiny-en, when
// present: real text) and the tests' tiny-chat (random weights that never stop early, for the
// disconnect). Run: node --test tests/server/clients.test.mjs (LATHE_BIN overrides the binary).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Ollama } from 'ollama';
import OpenAI from 'openai';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = process.env.LATHE_BIN ?? path.join(root, 'build/cpu/lathe');
const shipped = path.join(root, 'models/lathe-tiny-en');
const MODEL = fs.existsSync(path.join(shipped, 'config.json')) ? 'lathe-tiny-en' : 'tiny-chat';
const models = fs.mkdtempSync(path.join(os.tmpdir(), 'lathe-serve-'));
fs.symlinkSync(path.join(root, 'tests/data/server/models/tiny-chat'), path.join(models, 'tiny-chat'));
if (MODEL !== 'tiny-chat') fs.symlinkSync(shipped, path.join(models, MODEL));

let server;
let base;
let ollama;
let openai;

async function startServer() {
  const proc = spawn(bin, ['serve', '--models', models, '--port', '0', '--parallel', '2'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  const url = await new Promise((resolve, reject) => {
    proc.stderr.on('data', (d) => {
      log += d;
      const m = /listening on (http:\/\/[^ ]+)/.exec(log);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`lathe serve exited (${code}): ${log}`)));
  });
  return { proc, url };
}

async function stats() {
  return (await fetch(`${base}/lathe/stats`)).json();
}

const messages = [{ role: 'user', content: 'Why is the sky blue?' }];

before(async () => {
  ({ proc: server, url: base } = await startServer());
  ollama = new Ollama({ host: base });
  openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: 'not-needed', maxRetries: 0 });
});

after(async () => {
  fs.rmSync(models, { recursive: true, force: true });
  if (!server || server.exitCode !== null) return;
  server.kill('SIGTERM');
  const [code] = await once(server, 'exit');
  assert.equal(code, 0, 'SIGTERM stops the server cleanly');
});

describe('ollama client', () => {
  test('list and show', async () => {
    const { models: list } = await ollama.list();
    const names = list.map((m) => m.name);
    assert.ok(names.includes(MODEL) && names.includes('tiny-chat'), names.join(','));
    const entry = list.find((m) => m.name === MODEL);
    assert.ok(entry.size > 0);
    assert.equal(entry.details.format, 'safetensors');
    const info = await ollama.show({ model: MODEL });
    assert.ok(info.template.length > 0);
    assert.ok(info.model_info['general.parameter_count'] > 0);
  });

  test('chat whole and streamed agree, with counts', async () => {
    const whole = await ollama.chat({ model: MODEL, messages, stream: false, options: { num_predict: 8, temperature: 0 } });
    assert.equal(whole.done, true);
    assert.equal(whole.message.role, 'assistant');
    assert.ok(whole.eval_count > 0 && whole.eval_count <= 8);
    assert.ok(whole.prompt_eval_count > 0);
    assert.equal(whole.done_reason, whole.eval_count === 8 ? 'length' : 'stop');
    let text = '';
    let last;
    for await (const part of await ollama.chat({ model: MODEL, messages, stream: true, options: { num_predict: 8, temperature: 0 } })) {
      text += part.message.content;
      last = part;
    }
    assert.equal(text, whole.message.content);
    assert.equal(last.done, true);
    assert.equal(last.eval_count, whole.eval_count);
  });

  test('generate whole and streamed agree', async () => {
    const whole = await ollama.generate({ model: MODEL, prompt: 'Once upon a time', stream: false, options: { num_predict: 6, temperature: 0 } });
    assert.equal(whole.done, true);
    assert.ok(whole.eval_count > 0 && whole.eval_count <= 6);
    let text = '';
    for await (const part of await ollama.generate({ model: MODEL, prompt: 'Once upon a time', stream: true, options: { num_predict: 6, temperature: 0 } }))
      text += part.response;
    assert.equal(text, whole.response);
  });

  test('an unknown model is a 404', async () => {
    await assert.rejects(ollama.chat({ model: 'no-such-model', messages }), (e) => e.status_code === 404);
  });
});

describe('openai client', () => {
  test('models', async () => {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    assert.ok(ids.includes(MODEL), ids.join(','));
  });

  test('chat completion whole and streamed agree, with usage', async () => {
    const whole = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 8, temperature: 0 });
    assert.equal(whole.object, 'chat.completion');
    assert.equal(whole.choices[0].message.role, 'assistant');
    const n = whole.usage.completion_tokens;
    assert.ok(n > 0 && n <= 8);
    assert.equal(whole.choices[0].finish_reason, n === 8 ? 'length' : 'stop');
    assert.equal(whole.usage.total_tokens, whole.usage.prompt_tokens + n);
    const stream = await openai.chat.completions.create({
      model: MODEL, messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      if (chunk.choices.length) text += chunk.choices[0].delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, whole.choices[0].message.content);
    assert.deepEqual(usage, whole.usage);
  });

  test('completions', async () => {
    const c = await openai.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 5, temperature: 0 });
    assert.equal(c.object, 'text_completion');
    assert.ok(c.usage.completion_tokens > 0 && c.usage.completion_tokens <= 5);
    assert.equal(typeof c.choices[0].text, 'string');
  });

  test('an unknown model is a 404', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'no-such-model', messages }),
      (e) => e.status === 404,
    );
  });
});

describe('both APIs', () => {
  test('the same greedy answer and counts for the same messages', async () => {
    const a = await ollama.chat({ model: MODEL, messages, stream: false, options: { temperature: 0, num_predict: 12 } });
    const b = await openai.chat.completions.create({ model: MODEL, messages, temperature: 0, max_tokens: 12 });
    assert.equal(b.choices[0].message.content, a.message.content);
    assert.equal(b.usage.prompt_tokens, a.prompt_eval_count);
    assert.equal(b.usage.completion_tokens, a.eval_count);
  });

  test('a disconnect mid-stream cancels the generation; the next request succeeds', async () => {
    const before = await stats();
    // No token limit: the whole context unless cancelled.
    const s1 = await ollama.chat({ model: 'tiny-chat', messages, stream: true });
    for await (const part of s1) {
      assert.equal(part.done, false);
      s1.abort();
      break;
    }
    const s2 = await openai.chat.completions.create({ model: 'tiny-chat', messages, stream: true });
    for await (const chunk of s2) {
      assert.ok(chunk.choices.length);
      s2.controller.abort();
      break;
    }
    let now = before;
    for (let i = 0; i < 300 && now.generations < before.generations + 2; i++) {
      await new Promise((r) => setTimeout(r, 10));
      now = await stats();
    }
    assert.equal(now.cancelled - before.cancelled, 2);
    const ok = await ollama.chat({ model: 'tiny-chat', messages, stream: false, options: { num_predict: 4 } });
    assert.equal(ok.eval_count, 4);
    const ok2 = await openai.chat.completions.create({ model: MODEL, messages, max_tokens: 4 });
    assert.ok(ok2.usage.completion_tokens > 0);
    assert.ok(ok2.choices[0].message.content.length > 0);
  });
});
