// Shared helpers for the `scout serve` tests: where the binary and the model
// are, starting a server on a free port (it prints "listening on
// http://HOST:PORT" on stderr when ready) and stopping it with SIGTERM, the
// CLI runs whose text the server must reproduce, and a strict SSE reader.
//
// Environment:
//   SCOUT_BIN           path to build/scout (default: ../../../build/scout)
//   SCOUT_SERVER_MODEL  GGUF the servers load (default: one made with `scout
//                       make-model --preset default --type f16` in a temporary
//                       folder: f16 weights take the float matmul path, whose
//                       rows round alike in passes of any size, so the server's
//                       text equals the CLI's even where a prompt reuses a
//                       slot's KV; quantized weights meet that only on CPUs
//                       whose kernels do not change with a pass's row count)
//   SCOUT_TEST_THREADS  -t for the servers and the CLI runs (default 1: the
//                       tiny model needs no more, and ctest runs tests side by side)
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const here = path.dirname(fileURLToPath(import.meta.url));

export const SCOUT_BIN = process.env.SCOUT_BIN || path.resolve(here, '../../../build/scout');
export const THREADS = process.env.SCOUT_TEST_THREADS || '1';

// Children compute on few cores next to other tests: no spinning OpenMP waits.
const childEnv = { ...process.env, OMP_WAIT_POLICY: 'passive' };

let modelPromise = null;
// The model every test server loads: llama4 (so `--chat` applies the llama4
// template), random f16 weights, builtin byte-level vocabulary.
export function modelPath() {
  if (!modelPromise) {
    modelPromise = (async () => {
      if (process.env.SCOUT_SERVER_MODEL) return process.env.SCOUT_SERVER_MODEL;
      const dir = mkdtempSync(path.join(tmpdir(), 'scout-server-test-'));
      process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
      const out = path.join(dir, 'default.gguf');
      await execScout(['make-model', '--preset', 'default', '--type', 'f16', '--seed', '1', '-o', out]);
      return out;
    })();
  }
  return modelPromise;
}

// The id /v1/models reports for a model file without --alias.
export function modelIdOf(file) {
  return path.basename(file).replace(/\.gguf$/, '');
}

export function execScout(args, { input, timeout = 60_000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(SCOUT_BIN, args, { env: childEnv, timeout, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (err) {
          err.message += `\nscout ${args.join(' ')}\nstderr: ${stderr}`;
          reject(err);
        } else {
          resolve({ stdout, stderr });
        }
      });
    if (input !== undefined) child.stdin.end(input);
  });
}

// `scout run --json` on the test model: {text, ids, prompt_ids, finish_reason, ...}.
export async function runJson(args) {
  const model = await modelPath();
  const { stdout } = await execScout(['run', '--json', '-m', model, '-t', THREADS, ...args]);
  return JSON.parse(stdout);
}

// What a chat request {messages: [system?, user]} at temperature 0 must give.
export function cliChat(user, n, { system, extra = [] } = {}) {
  const args = ['--chat', '-p', user, '--temp', '0', '-n', String(n), ...extra];
  if (system !== undefined) args.push('--system', system);
  return runJson(args);
}

// What /v1/completions {prompt} at temperature 0 must give.
export function cliComplete(prompt, n, extra = []) {
  return runJson(['-p', prompt, '--temp', '0', '-n', String(n), ...extra]);
}

export class Server {
  constructor(proc, host, port, stderrRef) {
    this.proc = proc;
    this.pid = proc.pid;
    this.host = host;
    this.port = port;
    this.url = `http://${host}:${port}`;
    this.baseURL = `${this.url}/v1`;
    this._stderr = stderrRef;
    this.exited = new Promise((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) resolve({ code: proc.exitCode, signal: proc.signalCode });
      else proc.once('exit', (code, signal) => resolve({ code, signal }));
    });
  }

  stderr() { return this._stderr.text; }

  // An openai client for this server; no retries unless asked (a retried 503
  // would hide what the server answered).
  client(opts = {}) {
    return new OpenAI({ baseURL: this.baseURL, apiKey: 'sk-none', maxRetries: 0, timeout: 60_000, ...opts });
  }

  fetch(pathname, init = {}) {
    return fetch(this.url + pathname, init);
  }

  postJson(pathname, body, headers = {}) {
    return this.fetch(pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  }

  // VmRSS of the server process in KiB.
  rssKiB() {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    assert.ok(m, 'VmRSS in /proc/PID/status');
    return Number(m[1]);
  }

  // SIGTERM, then the exit: it must be code 0 within timeoutMs.
  async stop({ timeoutMs = 10_000 } = {}) {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGTERM');
    const result = await within(this.exited, timeoutMs);
    if (result === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
      assert.fail(`scout serve did not exit within ${timeoutMs} ms of SIGTERM\nstderr:\n${this.stderr()}`);
    }
    assert.deepEqual(result, { code: 0, signal: null },
      `scout serve exit after SIGTERM\nstderr:\n${this.stderr().slice(-4000)}`);
    return result;
  }

  // For after() hooks: stops without asserting when the test already failed.
  async kill() {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill('SIGKILL');
      await this.exited;
    }
  }
}

// Starts `scout serve -m MODEL --host 127.0.0.1 --port 0 -t THREADS ARGS...`
// and resolves once it printed its "listening on" line and /health says 200;
// with ready: 'bound', as soon as it printed "bound http://HOST:PORT" (the
// socket is open, the model still loading).
export async function startServer(args = [], { model, timeoutMs = 30_000, ready = 'listening' } = {}) {
  const file = model ?? await modelPath();
  const full = ['serve', '-m', file, '--host', '127.0.0.1', '--port', '0', '-t', THREADS, ...args];
  const proc = spawn(SCOUT_BIN, full, { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
  const stderrRef = { text: '' };
  proc.stderr.setEncoding('utf8');
  const listening = new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`no "${ready === 'bound' ? 'bound' : 'listening on'}" line within ${timeoutMs} ms\nscout ${full.join(' ')}\nstderr:\n${stderrRef.text}`));
    }, timeoutMs);
    proc.stderr.on('data', (chunk) => {
      stderrRef.text += chunk;
      const m = (ready === 'bound' ? /bound http:\/\/([^\s:/]+|\[[^\]]+\]):(\d+)/
        : /listening on http:\/\/([^\s:/]+|\[[^\]]+\]):(\d+)/).exec(stderrRef.text);
      if (m) {
        clearTimeout(timer);
        resolve({ host: m[1], port: Number(m[2]) });
      }
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`scout serve exited (code ${code}, signal ${signal}) before listening\nscout ${full.join(' ')}\nstderr:\n${stderrRef.text}`));
    });
    proc.once('error', reject);
  });
  const { host, port } = await listening;
  assert.ok(port > 0, 'a real port in the listening line');
  const server = new Server(proc, host, port, stderrRef);
  if (ready === 'bound') return server;
  // In case "listening" came before the model was ready (/health answers 503 then).
  await waitHealthy(server);
  return server;
}

export async function waitHealthy(server, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < end) {
    const r = await server.fetch('/health');
    const body = await r.text();
    if (r.status === 200) return JSON.parse(body);
    assert.equal(r.status, 503, `/health while loading: ${r.status} ${body}`);
    last = body;
    await delay(20);
  }
  assert.fail(`/health not 200 within ${timeoutMs} ms (last: ${last})`);
}

export function delay(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The promise's value, or null when it takes more than ms (the timer is
// cleared either way, so it does not keep the test process alive).
export async function within(promise, ms) {
  let timer;
  const timeout = new Promise((resolve) => { timer = setTimeout(() => resolve(null), ms); });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// Reads a whole SSE response body and checks its framing strictly: every
// event is exactly `data: <payload>\n\n` (one data line, nothing else), the
// body ends at an event boundary. Returns the payloads, JSON-parsed except
// the final "[DONE]".
export function parseSse(body) {
  assert.ok(!body.includes('\r'), 'no CR in the SSE body');
  assert.ok(body.endsWith('\n\n'), `SSE body ends at an event boundary: ...${JSON.stringify(body.slice(-80))}`);
  const raw = body.slice(0, -2).split('\n\n');
  return raw.map((ev) => {
    assert.ok(ev.startsWith('data: '), `event starts with "data: ": ${JSON.stringify(ev.slice(0, 80))}`);
    const payload = ev.slice(6);
    assert.ok(!payload.includes('\n'), `one data line per event: ${JSON.stringify(ev.slice(0, 200))}`);
    if (payload === '[DONE]') return payload;
    try {
      return JSON.parse(payload);
    } catch (e) {
      assert.fail(`event payload is not JSON: ${JSON.stringify(payload.slice(0, 200))}`);
    }
  });
}

// POSTs a streaming request with fetch; returns {status, headers, events, body}.
export async function fetchSse(server, pathname, body, { signal, headers = {} } = {}) {
  const r = await server.fetch(pathname, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal,
  });
  const text = await r.text();
  if (r.status !== 200) return { status: r.status, headers: r.headers, body: text, events: null };
  return { status: r.status, headers: r.headers, body: text, events: parseSse(text) };
}

// Checks a chat completion stream's events (from parseSse) against the spec:
// the first chunk's delta has role "assistant", finish_reason only on each
// choice's last content chunk, a usage chunk (choices: []) only with
// include_usage and then last before [DONE], [DONE] last. Returns per-choice
// {text, finish_reason} and the usage chunk (or null).
export function checkChatStream(events, { includeUsage = false, n = 1, object = 'chat.completion.chunk' } = {}) {
  assert.ok(events.length >= 2, 'at least one chunk and [DONE]');
  assert.equal(events.at(-1), '[DONE]', '[DONE] is the last event');
  const chunks = events.slice(0, -1);
  for (const c of chunks) {
    assert.notEqual(c, '[DONE]', 'one [DONE] only');
    assert.ok(!('error' in c), `no error event: ${JSON.stringify(c)}`);
    assert.equal(c.object, object);
    assert.equal(typeof c.id, 'string');
    assert.equal(c.id, chunks[0].id, 'one id for all chunks of a stream');
    assert.equal(typeof c.created, 'number');
    assert.equal(typeof c.model, 'string');
  }
  let usage = null;
  let body = chunks;
  if (includeUsage) {
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, [], 'the usage chunk has choices: []');
    assert.ok(last.usage && typeof last.usage.prompt_tokens === 'number', `usage chunk: ${JSON.stringify(last)}`);
    usage = last.usage;
    body = chunks.slice(0, -1);
  }
  for (const c of body) {
    assert.ok(c.usage === undefined || c.usage === null,
      `usage only in the final chunk${includeUsage ? '' : ' and only with include_usage'}: ${JSON.stringify(c)}`);
    assert.ok(Array.isArray(c.choices) && c.choices.length >= 1, `content chunk has choices: ${JSON.stringify(c)}`);
  }
  const choices = [];
  for (let i = 0; i < n; i++) {
    const mine = body.flatMap((c) => c.choices.filter((ch) => ch.index === i));
    assert.ok(mine.length >= 1, `chunks for choice ${i}`);
    if (object === 'chat.completion.chunk') {
      assert.equal(mine[0].delta.role, 'assistant', `choice ${i}'s first delta has role assistant: ${JSON.stringify(mine[0])}`);
    }
    mine.forEach((ch, k) => {
      if (k < mine.length - 1) {
        assert.ok(ch.finish_reason === null || ch.finish_reason === undefined,
          `finish_reason only on the last chunk of choice ${i}: ${JSON.stringify(ch)}`);
      }
    });
    const last = mine.at(-1);
    assert.ok(['stop', 'length'].includes(last.finish_reason), `last chunk of choice ${i} carries finish_reason: ${JSON.stringify(last)}`);
    const text = mine.map((ch) => (object === 'chat.completion.chunk' ? ch.delta.content ?? '' : ch.text ?? '')).join('');
    choices.push({ text, finish_reason: last.finish_reason, chunks: mine });
  }
  const indices = new Set(body.flatMap((c) => c.choices.map((ch) => ch.index)));
  assert.deepEqual([...indices].sort(), [...Array(n).keys()], 'choice indices 0..n-1');
  return { choices, usage };
}

// An OpenAI error body: {"error": {"message", "type", "param", "code"}}.
export function checkErrorBody(text, status) {
  let j;
  try {
    j = JSON.parse(text);
  } catch {
    assert.fail(`${status} body is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
  }
  assert.ok(j.error && typeof j.error === 'object', `error object: ${text}`);
  assert.equal(typeof j.error.message, 'string', `error.message: ${text}`);
  assert.ok(j.error.message.length > 0);
  assert.equal(typeof j.error.type, 'string', `error.type: ${text}`);
  assert.ok('param' in j.error, `error.param present (null allowed): ${text}`);
  assert.ok('code' in j.error, `error.code present (null allowed): ${text}`);
  return j.error;
}
