import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Registry } from 'prom-client';
import { startHttp } from '../../src/http/server';

let http: Awaited<ReturnType<typeof startHttp>>;
const asked: number[] = [];
before(async () => {
  http = await startHttp(
    {
      registry: new Registry(),
      healthy: () => true,
      ready: () => ({ ready: true, reasons: [] }),
      model: () => ({ version: 'v1' }),
      machine: (id) => Promise.resolve(id === 'm 1/ü' ? { machineId: id } : undefined),
      fleet: (top) => {
        asked.push(top);
        return { machines: [], top };
      },
    },
    '127.0.0.1',
    0,
  );
});
after(() => http.close());

const get = async (path: string) => {
  const res = await fetch(`http://127.0.0.1:${http.port}${path}`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

test('GET /machines?top=N hands the validated N to the fleet view', async () => {
  assert.deepEqual(await get('/machines?top=3'), { status: 200, body: { machines: [], top: 3 } });
  assert.deepEqual(asked, [3]);
});

test('GET /machines with a bad or missing top answers 400 with a message', async () => {
  for (const q of ['?top=0', '?top=-1', '?top=abc', '?top=1001', '?top=', '']) {
    const r = await get(`/machines${q}`);
    assert.equal(r.status, 400, q);
    assert.match(String(r.body.error), /top must be/, q);
  }
  assert.deepEqual(asked, [3]);
});

test('GET /machines/:id decodes %-escapes; a malformed escape answers 400, not 500', async () => {
  assert.deepEqual(await get('/machines/m%201%2F%C3%BC'), { status: 200, body: { machineId: 'm 1/ü' } });
  assert.equal((await get('/machines/unknown')).status, 404);
  for (const bad of ['%zz', 'm%', '%C3%28', '%E0%A4%A']) {
    const r = await get(`/machines/${bad}`);
    assert.equal(r.status, 400, bad);
    assert.match(String(r.body.error), /malformed %-escape/, bad);
  }
});
