import { z } from 'zod';
import type { MachineState, TimedValues } from './machine';

/**
 * The checkpoint's bytes. Why binary: a checkpoint is mostly the window, T readings × F sensors of
 * float64 plus a timestamp each, and JSON spends most of its time and bytes printing those numbers and
 * repeating every sensor name in every reading. Here the names are written once and the numbers as raw
 * little-endian float64 (exact: a restored window scores exactly as before), which roughly halves the
 * bytes and cuts the encoding time several-fold.
 *
 * Layout: byte 0 = FORMAT (an old JSON checkpoint starts with `{`), uint32 LE length of a JSON header,
 * the header, then `readings × (1 + sensors)` float64 values: ts, then each sensor, NaN where a reading
 * lacks that sensor (values are finite by validation, so NaN is free to mean "absent").
 */
const FORMAT = 2;

const alertSchema = z.object({
  state: z.enum(['raised', 'clear']),
  lastRaisedTs: z.number().optional(),
  lastClearedTs: z.number().optional(),
  // lastClearedTs and recent came with the k-of-n rule: checkpoints written before it load with none.
  recent: z.array(z.number()).default([]),
});
const placeSchema = z.object({ topic: z.string(), partition: z.number().int(), incarnation: z.string() });
const common = {
  machineId: z.string(),
  logs: z.array(z.object({ ts: z.number(), words: z.array(z.string()) })),
  alert: alertSchema,
  lastScore: z.object({ ts: z.number(), score: z.number(), modelVersion: z.string() }).optional(),
  applied: z.object({ readings: z.number(), logs: z.number() }).default({ readings: -1, logs: -1 }),
  // Where each applied offset lives (topic, partition, incarnation): optional, older checkpoints have none.
  appliedAt: z.object({ readings: placeSchema.optional(), logs: placeSchema.optional() }).optional(),
  // The machine's first reading (the `age` feature); checkpoints written before it load without.
  firstTs: z.number().optional(),
};
/** The JSON checkpoint written before the binary format: still read, so an upgrade keeps every window. */
const jsonSchema = z.object({
  ...common,
  readings: z.array(z.object({ ts: z.number(), values: z.record(z.number()) })),
});
const headerSchema = z.object({ ...common, sensors: z.array(z.string()), count: z.number().int().min(0) });

export function encodeState(state: MachineState): Buffer {
  const sensors: string[] = [];
  const column = new Map<string, number>();
  for (const r of state.readings) {
    for (const name in r.values) {
      if (!column.has(name)) {
        column.set(name, sensors.length);
        sensors.push(name);
      }
    }
  }
  const { machineId, logs, alert, lastScore, applied, appliedAt, firstTs } = state;
  const count = state.readings.length;
  const header = Buffer.from(
    JSON.stringify({ machineId, logs, alert, lastScore, applied, appliedAt, firstTs, sensors, count }),
  );
  const stride = 1 + sensors.length;
  const out = Buffer.allocUnsafe(5 + header.length + 8 * stride * state.readings.length);
  out[0] = FORMAT;
  out.writeUInt32LE(header.length, 1);
  header.copy(out, 5);
  let at = 5 + header.length;
  for (const r of state.readings) {
    out.writeDoubleLE(r.ts, at);
    for (let c = 0; c < sensors.length; c++)
      out.writeDoubleLE(r.values[sensors[c]!] ?? NaN, at + 8 * (c + 1));
    at += 8 * stride;
  }
  return out;
}

/** Decodes either format; throws (with a reason) on anything malformed. */
export function decodeState(body: Buffer): MachineState {
  if (body[0] !== FORMAT) {
    const parsed = jsonSchema.parse(JSON.parse(body.toString('utf8')));
    return toState(parsed, parsed.readings);
  }
  if (body.length < 5) throw new Error('truncated checkpoint header');
  const headerEnd = 5 + body.readUInt32LE(1);
  const header = headerSchema.parse(JSON.parse(body.toString('utf8', 5, headerEnd)));
  const stride = 1 + header.sensors.length;
  if (body.length !== headerEnd + 8 * stride * header.count)
    throw new Error(
      `checkpoint holds ${body.length} bytes, its header says ${headerEnd + 8 * stride * header.count}`,
    );
  const readings: TimedValues[] = [];
  for (let i = 0, at = headerEnd; i < header.count; i++, at += 8 * stride) {
    const values: Record<string, number> = {};
    header.sensors.forEach((name, c) => {
      const v = body.readDoubleLE(at + 8 * (c + 1));
      if (!Number.isNaN(v)) values[name] = v;
    });
    readings.push({ ts: body.readDoubleLE(at), values });
  }
  return toState(header, readings);
}

function toState(
  parsed: z.infer<typeof headerSchema> | z.infer<typeof jsonSchema>,
  readings: TimedValues[],
): MachineState {
  const { state, lastRaisedTs, lastClearedTs, recent } = parsed.alert;
  return {
    machineId: parsed.machineId,
    readings,
    logs: parsed.logs,
    alert: { state, lastRaisedTs, lastClearedTs, recent },
    lastScore: parsed.lastScore,
    applied: parsed.applied,
    ...(parsed.appliedAt ? { appliedAt: parsed.appliedAt } : {}),
    ...(parsed.firstTs === undefined ? {} : { firstTs: parsed.firstTs }),
  };
}
