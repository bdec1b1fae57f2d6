import assert from 'node:assert/strict';
import { test } from 'node:test';
import { figures, formatLive, Tally } from '../../src/evaluate';

test('the tally counts events per version and by ignored reason, and survives its JSON form', () => {
  const t = new Tally();
  t.apply([
    { kind: 'detected', version: 'v1', leadMs: 3_600_000 },
    { kind: 'detected', version: 'v1', leadMs: 7_200_000 },
    { kind: 'missed', version: 'v1' },
    { kind: 'true_alarm', version: 'v1' },
    { kind: 'false_alarm', version: 'v1' },
    { kind: 'false_alarm', version: 'v1' },
    { kind: 'exposure', version: 'v1', ms: 4 * 86_400_000 },
    { kind: 'ignored', topic: 'failures', reason: 'duplicate' },
  ]);
  assert.deepEqual([...t.takeNewLeads()], [['v1', [3600, 7200]]]);
  assert.deepEqual([...t.takeNewLeads()], [], 'taken once');
  const again = Tally.fromJSON(JSON.parse(JSON.stringify(t)));
  assert.deepEqual(again.toJSON(), t.toJSON());
  const f = figures('v1', again.counts('v1'), [3600, 7200]);
  assert.equal(f.recall, 2 / 3);
  assert.equal(f.precision, 1 / 3);
  assert.equal(f.falseAlarmsPerMachineDay, 0.5);
  assert.equal(f.leadTimeP50Seconds, 5400);
  assert.equal(
    formatLive(f),
    'live: recall 0.667 (2/3)  precision 0.333 (1/3)  false alarms/machine-day 0.5000  lead p50 1.5h',
  );
});

test('figures with nothing decided are null, not 0', () => {
  const f = figures('v2', new Tally().counts('v2'), []);
  assert.deepEqual(
    [f.recall, f.precision, f.falseAlarmsPerMachineDay, f.leadTimeP50Seconds],
    [null, null, null, null],
  );
  assert.equal(
    formatLive(f),
    'live: recall n/a (0/0)  precision n/a (0/0)  false alarms/machine-day n/a  lead p50 n/a',
  );
});
