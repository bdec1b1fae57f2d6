import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../src/config';
import { searchCandidates } from '../../src/train';
import { baseSearchConfig } from '../../src/train/search';

test('search candidates: the configured model first, distinct, at most N, the same for the same seed', () => {
  const config = loadConfig({});
  const base = baseSearchConfig(config.model, config.training.epochs);
  const a = searchCandidates(base, 6, 42);
  assert.deepEqual(a[0], base);
  assert.equal(a.length, 6);
  assert.equal(new Set(a.map((c) => JSON.stringify(c))).size, 6);
  assert.deepEqual(searchCandidates(base, 6, 42), a);
  assert.notDeepEqual(searchCandidates(base, 6, 7), a);
  assert.deepEqual(searchCandidates(base, 1, 42), [base]);
});
