// Continuous batching, cancellation and shutdown: with --parallel 4, four
// concurrent streams each give their serial (`scout run`) text at temperature
// 0; a client that goes away mid-stream frees its slot (a --parallel 1 server
// answers the next request at once, /props shows the slot idle); SIGTERM with
// a stream in flight ends it cleanly and the server exits 0.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startServer, modelPath, modelIdOf, cliChat, cliComplete, parseSse, checkChatStream, delay, within,
} from './helpers.mjs';

let model;
before(async () => {
  model = modelIdOf(await modelPath());
});

describe('--parallel 4', () => {
  let server;
  before(async () => {
    server = await startServer(['--parallel', '4']);
  });
  after(async () => {
    if (server) await server.stop();
  });

  test('4 concurrent streams each equal their serial text', async () => {
    // Different prompt lengths, so one prompt's prefill shares steps with the others' generation.
    const users = ['A', 'Tell me a story about a cat.', 'x'.repeat(300), 'Explain mixture-of-experts routing in detail please, with an example.'];
    const n = 32;
    const want = await Promise.all(users.map((u) => cliChat(u, n)));
    const client = server.client();
    const streams = users.map(async (u) => {
      const s = await client.chat.completions.create({
        model, messages: [{ role: 'user', content: u }], temperature: 0, max_tokens: n, stream: true,
      });
      let text = '';
      let finish = null;
      for await (const c of s) {
        text += c.choices[0]?.delta?.content ?? '';
        finish = c.choices[0]?.finish_reason ?? finish;
      }
      return { text, finish };
    });
    const got = await Promise.all(streams);
    got.forEach((g, i) => {
      assert.equal(g.text, want[i].text, `stream ${i} (${users[i].slice(0, 20)}...) equals its serial text`);
      assert.equal(g.finish, 'length');
    });
  });

  test('concurrent chat and completions, plain and streamed, each equal their serial text', async () => {
    const client = server.client();
    const prompts = ['Once upon a time', 'The experts', 'In a hole in the ground', 'q'.repeat(200)];
    const n = 20;
    const wantC = await Promise.all(prompts.map((p) => cliComplete(p, n)));
    const wantChat = await Promise.all(prompts.map((p) => cliChat(p, n)));
    const jobs = [];
    prompts.forEach((p, i) => {
      jobs.push(client.completions.create({ model, prompt: p, temperature: 0, max_tokens: n })
        .then((r) => assert.equal(r.choices[0].text, wantC[i].text, `completion ${i}`)));
      jobs.push(server.fetch('/v1/chat/completions', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: p }], temperature: 0, max_tokens: n, stream: true }),
      }).then(async (r) => {
        assert.equal(r.status, 200);
        const { choices } = checkChatStream(parseSse(await r.text()));
        assert.equal(choices[0].text, wantChat[i].text, `chat stream ${i}`);
      }));
    });
    await Promise.all(jobs);
  });
});

// Slots that /props reports busy (llama-server says is_processing).
async function busySlots(server) {
  const p = await (await server.fetch('/props')).json();
  return p.slots.filter((s) => s.busy ?? s.is_processing).length;
}

async function waitIdle(server, timeoutMs = 2000) {
  const end = Date.now() + timeoutMs;
  let busy;
  while (Date.now() < end) {
    busy = await busySlots(server);
    if (busy === 0) return;
    await delay(20);
  }
  assert.fail(`slots still busy ${timeoutMs} ms after the client went away: ${busy}`);
}

describe('--parallel 1: a client that goes away cancels its request', () => {
  let server;
  before(async () => {
    server = await startServer(['--parallel', '1']);
  });
  after(async () => {
    if (server) await server.stop();
  });

  // The long request would run for many seconds (6000 tokens: >10 s on one core).
  const LONG = 6000;

  test('abort via the openai client (AbortController) mid-stream', async () => {
    const client = server.client();
    const controller = new AbortController();
    const stream = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'go on forever' }], temperature: 0, max_tokens: LONG, stream: true,
    }, { signal: controller.signal });
    let chunks = 0;
    for await (const c of stream) {
      if (c.choices[0]?.delta?.content) chunks++;
      if (chunks === 5) {
        controller.abort();
        break;
      }
    }
    assert.equal(chunks, 5);
    assert.ok(controller.signal.aborted);
    const t0 = Date.now();
    const r = await client.chat.completions.create({
      model, messages: [{ role: 'user', content: 'next' }], temperature: 0, max_tokens: 8,
    });
    const ms = Date.now() - t0;
    assert.equal(r.usage.completion_tokens, 8);
    assert.ok(ms < 3000, `the next request was answered in ${ms} ms (the aborted one would hold the only slot for >10 s)`);
    await waitIdle(server);
  });

  test('abort a raw /v1/completions stream (fetch) after the first bytes', async () => {
    const controller = new AbortController();
    const r = await server.fetch('/v1/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, prompt: 'Once', temperature: 0, max_tokens: LONG, stream: true }),
      signal: controller.signal,
    });
    assert.equal(r.status, 200);
    const reader = r.body.getReader();
    const { value } = await reader.read();
    assert.ok(value.length > 0);
    assert.equal(await busySlots(server), 1, 'the stream holds the slot');
    controller.abort();
    await reader.cancel().catch(() => {});
    await waitIdle(server);
    const want = await cliComplete('Then', 8);
    const t0 = Date.now();
    const next = await server.client().completions.create({ model, prompt: 'Then', temperature: 0, max_tokens: 8 });
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(next.choices[0].text, want.text, 'a slot reused after a cancel gives the serial text');
  });
});

describe('--parallel 1: a plain (non-streamed) request whose client goes away', () => {
  let server;
  before(async () => {
    server = await startServer(['--parallel', '1', '--shutdown-grace', '0.2']);
  });
  after(async () => {
    if (server) await server.stop();
  });

  // Not in the spec (it names streams), but a client that times out on a
  // plain request would otherwise hold its slot for the whole generation.
  // A plain answer not ready within 1 s is sent chunked, a space every 0.5 s
  // while it waits: the second write after the client left fails.
  test('is cancelled too', async () => {
    const controller = new AbortController();
    const gone = server.fetch('/v1/chat/completions', {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'long' }], temperature: 0, max_tokens: 6000 }),
      signal: controller.signal,
    }).catch(() => null);
    await delay(300);
    controller.abort();
    await gone;
    await waitIdle(server, 4000);
  });
});

describe('shutdown', () => {
  test('SIGTERM with a stream and a plain request in flight: clean ends, exit 0', async (t) => {
    const server = await startServer(['--parallel', '3', '--shutdown-grace', '1.5']);
    try {
      // Needs ~0.2 s: finishes within the grace.
      const short = server.fetch('/v1/chat/completions', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'short' }], temperature: 0, max_tokens: 300, stream: true }),
      }).then(async (x) => ({ status: x.status, text: await x.text() }), (e) => ({ error: e }));
      // Needs several seconds: cancelled at the end of the grace, or finished.
      const r = await server.fetch('/v1/chat/completions', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'keep going' }], temperature: 0, max_tokens: 3000, stream: true }),
      });
      assert.equal(r.status, 200);
      const plain = server.fetch('/v1/completions', {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, prompt: 'plain', temperature: 0, max_tokens: 3000 }),
      }).then(async (x) => ({ status: x.status, text: await x.text() }), (e) => ({ error: e }));
      const reader = r.body.getReader();
      const decoder = new TextDecoder();
      let body = '';
      while (!body.includes('\n\n')) {
        const { value, done } = await reader.read();
        assert.ok(!done, 'stream started');
        body += decoder.decode(value, { stream: true });
      }
      const t0 = Date.now();
      server.proc.kill('SIGTERM');
      // The rest of the stream: it must end (not hang, not break mid-event).
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        body += decoder.decode(value, { stream: true });
      }
      body += decoder.decode();
      const events = parseSse(body);
      const last = events.at(-1);
      if (last === '[DONE]') {
        checkChatStream(events);  // a complete response
      } else {
        assert.ok(last.error && typeof last.error.message === 'string', `a clean end: [DONE] or an error event, got ${JSON.stringify(last)}`);
        assert.ok(events.slice(0, -1).every((e) => e !== '[DONE]' && !e.error));
      }
      const sh = await short;
      assert.ok(!sh.error, `the short stream got an answer: ${sh.error}`);
      assert.equal(sh.status, 200);
      const shortEvents = parseSse(sh.text);
      assert.equal(shortEvents.at(-1), '[DONE]', `a request that needs less than the grace completes: ...${sh.text.slice(-300)}`);
      assert.equal(checkChatStream(shortEvents).choices[0].text.length, 300);
      const p = await plain;
      assert.ok(!p.error, `the plain request got an answer: ${p.error}`);
      if (p.status === 200) {
        const j = JSON.parse(p.text);
        // A plain answer taking over a second goes out chunked (a space every
        // half second): cut by the shutdown after that, its 200 is already sent
        // and the body is the error object.
        if (j.error) assert.equal(typeof j.error.message, 'string', p.text);
        else assert.equal(j.choices[0].finish_reason, 'length');
      } else assert.equal(p.status, 503, p.text);
      // A new request once shutting down is refused: no connection, or 503.
      // (On a new connection: fetch's pool may hold a keep-alive one from before.)
      const late = await new Promise((resolve) => {
        const body = JSON.stringify({ model, prompt: 'late', max_tokens: 2 });
        const req = http.request({
          host: server.host, port: server.port, method: 'POST', path: '/v1/completions', agent: false,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        }, (res) => {
          let text = '';
          res.on('data', (d) => { text += d; });
          res.on('end', () => resolve(`${res.statusCode} ${text.slice(0, 200)}`));
        });
        req.on('error', () => resolve('refused'));
        req.setTimeout(3000, () => { resolve('no answer within 3 s'); req.destroy(); });
        req.end(body);
      });
      assert.ok(late === 'refused' || late.startsWith('503 '), `a new request after SIGTERM: ${late}`);
      t.diagnostic(`after SIGTERM: the stream ended with ${last === '[DONE]' ? '[DONE]' : JSON.stringify(last)}; ` +
        `the plain request: ${p.status}; a new request: ${late.slice(0, 60)}`);
      const exit = await within(server.exited, 10_000);
      assert.ok(exit, 'exited within 10 s of SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null }, server.stderr().slice(-2000));
      assert.ok(Date.now() - t0 < 10_000);
    } finally {
      await server.kill();
    }
  });

  test('SIGINT on an idle server: exit 0', async () => {
    const server = await startServer([]);
    server.proc.kill('SIGINT');
    const exit = await within(server.exited, 5000);
    await server.kill();
    assert.deepEqual(exit, { code: 0, signal: null }, server.stderr().slice(-2000));
  });
});
