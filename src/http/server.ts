import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { parseTop } from '../fleet';

export interface HttpHandlers {
  readonly registry: Registry;
  readonly healthy: () => boolean;
  readonly ready: () => { ready: boolean; reasons: string[] };
  readonly machine?: (id: string) => Promise<unknown>;
  /** `GET /machines?top=N` (N already validated). */
  readonly fleet?: (top: number) => unknown;
  /** `GET /model`: may read Redis (the live figures), hence a promise. */
  readonly model: () => unknown;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? JSON.stringify(body) : String(body);
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

/** A %-decoded path segment, or undefined when its escapes are malformed (`%zz`, a lone `%`, bad UTF-8). */
function decodePathSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

async function route(h: HttpHandlers, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET') return send(res, 405, { error: 'only GET' });
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/metrics') return send(res, 200, await h.registry.metrics(), h.registry.contentType);
  if (path === '/healthz')
    return h.healthy() ? send(res, 200, { status: 'ok' }) : send(res, 503, { status: 'failed' });
  if (path === '/readyz') {
    const r = h.ready();
    return send(res, r.ready ? 200 : 503, r);
  }
  if (path === '/model') return send(res, 200, await h.model());
  if (path === '/machines' && h.fleet) {
    const parsed = parseTop(url.searchParams.get('top'));
    return 'error' in parsed ? send(res, 400, { error: parsed.error }) : send(res, 200, h.fleet(parsed.top));
  }
  const m = /^\/machines\/([^/]{1,200})$/.exec(path);
  if (m && h.machine) {
    const id = decodePathSegment(m[1]!);
    if (id === undefined) return send(res, 400, { error: 'malformed %-escape in the machine id' });
    const view = await h.machine(id);
    return view ? send(res, 200, view) : send(res, 404, { error: 'unknown machine' });
  }
  return send(res, 404, { error: 'not found' });
}

/** The worker's and trainer's HTTP face: /metrics, /healthz, /readyz, /machines/:id, /machines?top=N, /model. */
export async function startHttp(
  h: HttpHandlers,
  host: string,
  port: number,
): Promise<{ server: Server; port: number; close: () => Promise<void> }> {
  const server = createServer((req, res) => {
    route(h, req, res).catch((error: unknown) => send(res, 500, { error: (error as Error).message }));
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    server,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
