import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assignPartitionNumbers } from '../../src/kafka/assigner';

test('every member owns the same partition numbers of both co-partitioned topics', () => {
  for (const members of [['a'], ['b', 'a'], ['c', 'a', 'b'], ['a', 'b', 'c', 'd', 'e']]) {
    const plan = assignPartitionNumbers(members, { readings: 4, logs: 4 });
    const seen = new Set<number>();
    for (const [, assignment] of plan) {
      assert.deepEqual(assignment.readings ?? [], assignment.logs ?? []);
      for (const p of assignment.readings ?? []) seen.add(p);
    }
    assert.equal(seen.size, 4);
  }
});
