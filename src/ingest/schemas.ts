import { z } from 'zod';

/**
 * Message shapes of docs/topics-and-messages.md. `ts` is event time: an ISO-8601 string or epoch
 * milliseconds. The schemas check shape; the decoder (decode.ts) turns failures into reason codes.
 */
const ISO_TS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/;

export const eventTime = z.union([
  z.number().int().min(0).max(8.64e15),
  z.string().max(64).regex(ISO_TS, 'ts must be ISO-8601 with a zone, or epoch milliseconds'),
]);
export const machineId = z
  .string()
  .trim()
  .min(1, 'machineId is empty')
  .max(200)
  .regex(/^[^\s\u0000-\u001f]+$/, 'machineId has whitespace or control characters');

export const readingSchema = z.object({
  machineId,
  ts: eventTime,
  values: z
    .record(z.string().min(1).max(100), z.number())
    .refine(
      (v) => Object.keys(v).length > 0 && Object.keys(v).length <= 256,
      'values must hold 1 to 256 sensors',
    ),
});
export const logSchema = z.object({ machineId, ts: eventTime, text: z.string().max(20_000) });
export const failureSchema = z.object({
  machineId,
  ts: eventTime,
  component: z.string().max(200).optional(),
});

export interface Reading {
  readonly machineId: string;
  readonly ts: number;
  readonly values: Readonly<Record<string, number>>;
}
export interface LogEntry {
  readonly machineId: string;
  readonly ts: number;
  readonly text: string;
}
export interface Failure {
  readonly machineId: string;
  readonly ts: number;
  readonly component: string | undefined;
}
