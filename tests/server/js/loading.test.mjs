// While the model loads, `scout serve` already listens: /health and the API
// answer 503 (an OpenAI error body), then /health turns 200 and requests run.
// SIGTERM while loading exits 0. The model here loads slowly on purpose: a
// few hundred MiB of zero weights (a sparse file: `make-model --no-data`),
// copied into memory with --load copy.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startServer, execScout, waitHealthy, checkErrorBody, within } from './helpers.mjs';

let slowModel;
before(async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'scout-serve-slow-'));
  slowModel = path.join(dir, 'slow.gguf');
  // ~0.35 GiB of expert weights: a second or so to copy in.
  await execScout(['make-model', '--preset', 'default', '--set', 'expert_ff=6144', '--no-data', '-o', slowModel]);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
});

test('503 while loading, then 200', async () => {
  const server = await startServer(['--load', 'copy'], { model: slowModel, ready: 'bound' });
  try {
    const h = await server.fetch('/health');
    const text = await h.text();
    assert.equal(h.status, 503, `/health right after "bound": ${text}`);
    checkErrorBody(text, 503);
    const r = await server.postJson('/v1/chat/completions',
      { model: 'slow', messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 });
    const rt = await r.text();
    assert.equal(r.status, 503, `a request while loading: ${rt}`);
    checkErrorBody(rt, 503);
    assert.deepEqual(await waitHealthy(server), { status: 'ok' });
    assert.match(server.stderr(), /listening on http:\/\//);
    const ok = await server.postJson('/v1/completions', { model: 'slow', prompt: 'x', max_tokens: 2, temperature: 0 });
    assert.equal(ok.status, 200, await ok.text());
    await server.stop();
  } finally {
    await server.kill();
  }
});

test('SIGTERM while loading: exit 0', async () => {
  const server = await startServer(['--load', 'copy'], { model: slowModel, ready: 'bound' });
  try {
    const h = await server.fetch('/health');
    assert.equal(h.status, 503);
    server.proc.kill('SIGTERM');
    const exit = await within(server.exited, 10_000);
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr());
  } finally {
    await server.kill();
  }
});
