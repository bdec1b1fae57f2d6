/**
 * A separate process that offers readings at a fixed rate, so the load generator does not share the
 * worker's event loop. argv: brokers topic ratePerSec seconds machines firstHour pattern (flip | rare: see
 * readings.ts). Prints the achieved rate.
 */
import { Kafka, logLevel } from 'kafkajs';
import { reading } from './readings';

const [
  brokers = 'localhost:9092',
  topic = '',
  rate = '2000',
  seconds = '30',
  machines = '200',
  firstHour = '0',
  pattern = 'flip',
] = process.argv.slice(2);

async function main(): Promise<void> {
  const producer = new Kafka({
    clientId: 'pdm-bench-load',
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
  }).producer();
  await producer.connect();
  const tickMs = 20;
  const perTick = Math.max(1, Math.round((Number(rate) * tickMs) / 1000));
  let hour = Number(firstHour);
  let m = 0;
  let sent = 0;
  const start = performance.now();
  while (performance.now() - start < Number(seconds) * 1000) {
    const tickStart = performance.now();
    const messages = [];
    for (let i = 0; i < perTick; i++) {
      messages.push(reading(m, hour, pattern === 'rare' ? 'rare' : 'flip'));
      if (++m === Number(machines)) {
        m = 0;
        hour++;
      }
    }
    await producer.send({ topic, messages });
    sent += messages.length;
    const wait = tickMs - (performance.now() - tickStart);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  console.log(JSON.stringify({ sent, achieved: sent / ((performance.now() - start) / 1000) }));
  await producer.disconnect();
}

void main();
