// Every error status `scout serve` promises, with OpenAI's error body
// {"error": {"message", "type", "param", "code"}}: 401 without the API key
// (and /health open without it), 400 for invalid JSON, a wrong field type and
// a prompt longer than the context, 404 for an unknown path and an unknown
// model, 405 for a wrong method, 413 for a body over the limit, 503 with
// Retry-After when the queue is full.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';
import { startServer, checkErrorBody, delay } from './helpers.mjs';

const KEY = 'sk-scout-test-0123456789';
const CTX = 256;

// A request through node:http that resolves with the response even when the
// server answers before reading the whole body and closes (a 413 sent on the
// Content-Length alone): the write error that follows is not the result.
function rawRequest(server, { method = 'POST', pathname, headers = {}, body }) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: server.host, port: server.port, method, path: pathname, headers });
    let answered = false;
    req.on('response', (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', (e) => { if (!answered) reject(e); });
    if (body !== undefined) req.end(body); else req.end();
  });
}

describe('with --api-key, --alias and a small context', () => {
  let server;
  const model = 'my-model';
  const auth = { authorization: `Bearer ${KEY}` };
  const chat = (extra = {}) => ({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, temperature: 0, ...extra });

  before(async () => {
    server = await startServer(['--api-key', KEY, '--alias', model, '-c', String(CTX), '--parallel', '1']);
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('the alias is the model id', async () => {
    const r = await server.fetch('/v1/models', { headers: auth });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.deepEqual(j.data.map((m) => m.id), [model]);
  });

  test('401 without or with a wrong key; /health needs none; the right key works', async () => {
    for (const headers of [{}, { authorization: 'Bearer sk-wrong' }, { authorization: KEY }, { authorization: `Basic ${KEY}` }]) {
      for (const [method, pathname, body] of [['GET', '/v1/models'], ['POST', '/v1/chat/completions', chat()],
        ['POST', '/v1/completions', { model, prompt: 'x', max_tokens: 1 }]]) {
        const r = await server.fetch(pathname, {
          method, headers: { 'content-type': 'application/json', ...headers }, body: body && JSON.stringify(body),
        });
        const text = await r.text();
        assert.equal(r.status, 401, `${method} ${pathname} with ${JSON.stringify(headers)}: ${text}`);
        const e = checkErrorBody(text, 401);
        assert.equal(typeof e.type, 'string');
      }
    }
    const h = await server.fetch('/health');
    assert.equal(h.status, 200);
    assert.deepEqual(await h.json(), { status: 'ok' });

    const bad = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create(chat()), (e) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    const good = new OpenAI({ baseURL: server.baseURL, apiKey: KEY, maxRetries: 0 });
    const r = await good.chat.completions.create(chat());
    assert.equal(r.choices.length, 1);
  });

  test('400: invalid JSON', async () => {
    for (const body of ['{"model": "my-model", "messages": [', 'not json', '', '[1, 2]']) {
      const r = await server.postJson('/v1/chat/completions', body, auth);
      const text = await r.text();
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${text}`);
      checkErrorBody(text, 400);
    }
    const t = await server.postJson('/tokenize', '{"content": ', auth);
    assert.equal(t.status, 400, await t.text());
  });

  test('400: a field of the wrong type or out of range names the field', async () => {
    const cases = [
      [chat({ max_tokens: 'ten' }), 'max_tokens'],
      [chat({ temperature: 'hot' }), 'temperature'],
      [chat({ temperature: 5 }), 'temperature'],
      [chat({ messages: 'hi' }), 'messages'],
      [chat({ messages: [{ role: 'user', content: 42 }] }), 'messages'],
      [chat({ stop: 7 }), 'stop'],
      [chat({ n: 0 }), 'n'],
      [chat({ stream: 'yes' }), 'stream'],
    ];
    for (const [body, field] of cases) {
      const r = await server.postJson('/v1/chat/completions', body, auth);
      const text = await r.text();
      assert.equal(r.status, 400, `${JSON.stringify(body)}: ${text}`);
      const e = checkErrorBody(text, 400);
      assert.equal(e.type, 'invalid_request_error', text);
      if (e.param !== null) assert.ok(e.param.includes(field), `param ${e.param} names ${field}`);
    }
    const r = await server.postJson('/v1/completions', { model, prompt: { text: 'x' } }, auth);
    assert.equal(r.status, 400, await r.text());
    const d = await server.postJson('/detokenize', { tokens: 'abc' }, auth);
    assert.equal(d.status, 400, await d.text());
    const good = new OpenAI({ baseURL: server.baseURL, apiKey: KEY, maxRetries: 0 });
    await assert.rejects(good.chat.completions.create(chat({ top_p: 7 })), (e) => e instanceof OpenAI.BadRequestError);
  });

  test('400: a prompt longer than the context', async () => {
    const long = 'word '.repeat(CTX);  // byte-level vocabulary: about 5 tokens a word
    for (const [pathname, body] of [
      ['/v1/chat/completions', chat({ messages: [{ role: 'user', content: long }] })],
      ['/v1/completions', { model, prompt: long, max_tokens: 2 }],
    ]) {
      const r = await server.postJson(pathname, body, auth);
      const text = await r.text();
      assert.equal(r.status, 400, `${pathname}: ${text}`);
      const e = checkErrorBody(text, 400);
      assert.match(`${e.code} ${e.message}`, /context/i, text);
    }
    // Streamed requests are refused before the stream starts.
    const r = await server.postJson('/v1/chat/completions',
      chat({ messages: [{ role: 'user', content: long }], stream: true }), auth);
    assert.equal(r.status, 400, await r.text());
  });

  test('404: unknown path and unknown model', async () => {
    for (const [method, pathname] of [['GET', '/v1/nope'], ['POST', '/v1/chat/completion'], ['GET', '/nope'], ['GET', '/v1/models/x/y']]) {
      const r = await server.fetch(pathname, { method, headers: { ...auth, 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
      const text = await r.text();
      assert.equal(r.status, 404, `${method} ${pathname}: ${text}`);
      checkErrorBody(text, 404);
    }
    for (const [pathname, body] of [['/v1/chat/completions', chat({ model: 'gpt-4o' })],
      ['/v1/completions', { model: 'nope', prompt: 'x', max_tokens: 1 }]]) {
      const r = await server.postJson(pathname, body, auth);
      const text = await r.text();
      assert.equal(r.status, 404, `${pathname} model ${body.model}: ${text}`);
      const e = checkErrorBody(text, 404);
      assert.match(e.message, new RegExp(body.model), text);
    }
    const good = new OpenAI({ baseURL: server.baseURL, apiKey: KEY, maxRetries: 0 });
    await assert.rejects(good.chat.completions.create(chat({ model: 'nope' })), (e) => e instanceof OpenAI.NotFoundError);
    await assert.rejects(good.models.retrieve('nope'), (e) => e instanceof OpenAI.NotFoundError);
  });

  test('405: a wrong method on a known path', async () => {
    for (const [method, pathname] of [['GET', '/v1/chat/completions'], ['GET', '/v1/completions'], ['DELETE', '/v1/models'],
      ['PUT', '/v1/chat/completions'], ['GET', '/tokenize'], ['POST', '/health']]) {
      const r = await server.fetch(pathname, { method, headers: auth });
      const text = await r.text();
      assert.equal(r.status, 405, `${method} ${pathname}: ${text}`);
      checkErrorBody(text, 405);
    }
  });

  test('413: a body over the limit', async () => {
    // Over the default --max-body (32M).
    const size = 33 << 20;
    const big = JSON.stringify({ model, messages: [{ role: 'user', content: 'x'.repeat(size) }] });
    const r = await rawRequest(server, {
      pathname: '/v1/chat/completions',
      headers: { ...auth, 'content-type': 'application/json', 'content-length': Buffer.byteLength(big) },
      body: big,
    });
    assert.equal(r.status, 413, r.body.slice(0, 300));
    checkErrorBody(r.body, 413);
    // The same body sent chunked (no Content-Length): the limit holds too.
    const chunked = await new Promise((resolve, reject) => {
      const req = http.request({
        host: server.host, port: server.port, method: 'POST', path: '/v1/chat/completions',
        headers: { ...auth, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { text += d; });
        res.on('end', () => resolve({ status: res.statusCode, body: text }));
      });
      req.on('error', (e) => { if (!answered) reject(e); });
      const piece = 1 << 20;
      for (let off = 0; off < big.length; off += piece) req.write(big.slice(off, off + piece));
      req.end();
    });
    assert.equal(chunked.status, 413, `a chunked body of ${big.length} bytes: ${chunked.status} ${chunked.body.slice(0, 300)}`);
    // The server still answers.
    const h = await server.fetch('/health');
    assert.equal(h.status, 200);
  });

  test('/metrics is off without --metrics', async () => {
    const r = await server.fetch('/metrics', { headers: auth });
    assert.equal(r.status, 404, await r.text());
  });
});

describe('--parallel 1 --queue 1 (and --api-key-file)', () => {
  let server;
  let keyFile;
  before(async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'scout-serve-key-'));
    keyFile = path.join(dir, 'key');
    writeFileSync(keyFile, `${KEY}\n`);
    server = await startServer(['--parallel', '1', '--queue', '1', '--api-key-file', keyFile]);
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('the key file\'s key (trailing newline dropped) is the key', async () => {
    const ok = await server.fetch('/v1/models', { headers: { authorization: `Bearer ${KEY}` } });
    assert.equal(ok.status, 200);
    const no = await server.fetch('/v1/models', { headers: { authorization: `Bearer ${KEY}x` } });
    assert.equal(no.status, 401);
  });

  test('503 with Retry-After beyond one running and one queued request', async () => {
    const headers = { authorization: `Bearer ${KEY}` };
    const model = (await (await server.fetch('/v1/models', { headers })).json()).data[0].id;
    // Long enough that all of them arrive while the first still runs (~0.5 s on one core).
    const body = { model, messages: [{ role: 'user', content: 'long' }], max_tokens: 800, temperature: 0 };
    const send = async () => {
      const r = await server.postJson('/v1/chat/completions', body, headers);
      return { status: r.status, retryAfter: r.headers.get('retry-after'), text: await r.text() };
    };
    const first = send();
    await delay(100);  // the first holds the slot
    const rest = await Promise.all([send(), send(), send(), send()]);
    const all = [await first, ...rest];
    const statuses = all.map((r) => r.status);
    assert.equal(all[0].status, 200, all[0].text.slice(0, 300));
    assert.equal(statuses.filter((s) => s === 200).length, 2, `one running + one queued succeed: ${statuses}`);
    assert.equal(statuses.filter((s) => s === 503).length, 3, `the rest are refused: ${statuses}`);
    for (const r of all.filter((x) => x.status === 503)) {
      assert.ok(r.retryAfter !== null && /^\d+$/.test(r.retryAfter), `Retry-After: ${r.retryAfter}`);
      checkErrorBody(r.text, 503);
    }
    for (const r of all.filter((x) => x.status === 200)) {
      assert.equal(JSON.parse(r.text).usage.completion_tokens, 800);
    }
    // The openai client sees a 503 as an InternalServerError-class APIError with status 503.
    const client = server.client({ apiKey: KEY });
    const hold = server.postJson('/v1/chat/completions', body, headers);
    await delay(100);
    const queued = server.postJson('/v1/chat/completions', body, headers);
    await delay(50);
    await assert.rejects(client.chat.completions.create(body), (e) => e instanceof OpenAI.APIError && e.status === 503);
    assert.equal((await hold).status, 200);
    assert.equal((await queued).status, 200);
  });
});
