import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KafkaJSNonRetriableError, KafkaJSProtocolError } from 'kafkajs';
import { rejoinable } from '../../src/kafka/group-errors';

test('a wrapped group-membership error is unwrapped to the typed error kafkajs rejoins on; others pass unchanged', () => {
  // What kafkajs's retrier throws for a commit refused with UNKNOWN_MEMBER_ID (code 25).
  const typed = new KafkaJSProtocolError({
    message: 'The coordinator is not aware of this member',
    type: 'UNKNOWN_MEMBER_ID',
    code: 25,
  } as unknown as string);
  // Its typings omit the options argument that the retrier passes.
  const Wrapper = KafkaJSNonRetriableError as unknown as new (e: Error, o: { cause: Error }) => Error;
  const wrapped = new Wrapper(typed, { cause: typed });
  assert.equal((wrapped as unknown as { type?: string }).type, undefined, 'the wrapper has lost the type');
  assert.equal(rejoinable(wrapped), typed);
  assert.equal(rejoinable(typed), typed);
  const other = new Error('disk full');
  assert.equal(rejoinable(other), other);
  const cyclic: { cause?: unknown } = {};
  cyclic.cause = cyclic;
  assert.equal(rejoinable(cyclic), cyclic);
  assert.equal(rejoinable(undefined), undefined);
});
