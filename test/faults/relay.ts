import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';

/** Kafka's request API key for Produce (the int16 after a request frame's 4-byte size). */
const PRODUCE_API_KEY = 0;

/** One direction of one relayed connection: what it forwards, or holds while the relay is stalled. */
class Pipe {
  private readonly held: Buffer[] = [];
  constructor(private readonly to: Socket) {}

  push(chunk: Buffer, stalled: boolean): void {
    if (stalled || this.held.length) this.held.push(chunk);
    else this.to.write(chunk);
  }

  flush(): void {
    for (const chunk of this.held.splice(0)) this.to.write(chunk);
  }
}

/**
 * A TCP relay in front of the local broker's relayed listener (src/stack/kafka.ts `relayedListener`): a client
 * bootstrapped at the relay keeps all its broker traffic on it, because the listener advertises the relay's
 * port. `stallAtNextProduce` freezes every connection in both directions as soon as the client sends a
 * Produce request (that request included), so the client is stuck in a send while its other I/O (Redis)
 * goes on; `release` delivers everything held, in order. Client→broker bytes are cut into request frames
 * (4-byte size prefix) to see which request is which.
 */
export class BrokerRelay {
  private server: Server | undefined;
  private readonly connections = new Set<{ toBroker: Pipe; toClient: Pipe; sockets: Socket[] }>();
  private armed = false;
  private stalledSince: number | undefined;
  private onStall: (() => void) | undefined;
  /** Requests held at the stall, by API key (Produce is 0). */
  readonly heldRequests = new Map<number, number>();

  constructor(
    private readonly listenPort: number,
    private readonly brokerPort: number,
    private readonly host = '127.0.0.1',
  ) {}

  get stalled(): boolean {
    return this.stalledSince !== undefined;
  }

  async start(): Promise<void> {
    const server = createServer((client) => this.relay(client));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.host, () => resolve());
    });
    this.server = server;
  }

  /** Resolves when the next Produce request has been caught and everything is stalled. */
  stallAtNextProduce(): Promise<void> {
    this.armed = true;
    return new Promise((resolve) => (this.onStall = resolve));
  }

  /** Forwards everything held, in order, and relays freely again; returns how long the stall lasted. */
  release(): number {
    const ms = this.stalledSince === undefined ? 0 : Date.now() - this.stalledSince;
    this.stalledSince = undefined;
    this.armed = false;
    for (const c of this.connections) {
      c.toBroker.flush();
      c.toClient.flush();
    }
    return ms;
  }

  async close(): Promise<void> {
    this.release();
    for (const c of this.connections) for (const s of c.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private relay(client: Socket): void {
    const broker = connect(this.brokerPort, this.host);
    const connection = { toBroker: new Pipe(broker), toClient: new Pipe(client), sockets: [client, broker] };
    this.connections.add(connection);
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 6) {
        const size = pending.readInt32BE(0);
        if (pending.length < 4 + size) break;
        const frame = pending.subarray(0, 4 + size);
        pending = pending.subarray(4 + size);
        const apiKey = frame.readInt16BE(4);
        if (this.armed && apiKey === PRODUCE_API_KEY) {
          this.armed = false;
          this.stalledSince = Date.now();
          this.onStall?.();
        }
        if (this.stalled) this.heldRequests.set(apiKey, (this.heldRequests.get(apiKey) ?? 0) + 1);
        connection.toBroker.push(frame, this.stalled);
      }
    });
    broker.on('data', (chunk: Buffer) => connection.toClient.push(chunk, this.stalled));
    const end = () => {
      client.destroy();
      broker.destroy();
      this.connections.delete(connection);
    };
    for (const s of connection.sockets) {
      s.on('error', end);
      s.on('close', end);
    }
  }
}
