import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCommandArgs } from '../../src/cli/args';
import { parseTopArgs, renderTop, TOP_FLAGS } from '../../src/cli/top';
import { loadConfig } from '../../src/config';

const now = Date.parse('2026-01-02T00:00:00Z');
const at = (h: number) => new Date(now - h * 3_600_000).toISOString();

test('renderTop merges the sources into one ranking and says which source is unreachable', () => {
  const text = renderTop(
    [
      {
        source: 'http://a:9464',
        view: {
          modelVersion: 'v3',
          threshold: 0.5,
          lag: { readings: 2, logs: 0 },
          tracked: 2,
          machines: [
            {
              machineId: 'm-1',
              score: 0.4,
              scoredTs: at(1),
              modelVersion: 'v3',
              alert: 'clear',
              lastAlert: null,
              recentAbove: 0,
            },
            {
              machineId: 'm-2',
              score: 0.95,
              scoredTs: at(1),
              modelVersion: 'v3',
              alert: 'raised',
              lastAlert: { state: 'raised', ts: at(3) },
              recentAbove: 3,
            },
          ],
        },
      },
      {
        source: 'http://b:9464',
        view: {
          modelVersion: 'v3',
          threshold: 0.5,
          lag: { readings: 5, logs: 1 },
          tracked: 1,
          machines: [
            {
              machineId: 'm-3',
              score: 0.6,
              scoredTs: at(2),
              modelVersion: 'v3',
              alert: 'clear',
              lastAlert: null,
              recentAbove: 1,
            },
          ],
        },
      },
      { source: 'http://c:9464', error: 'ECONNREFUSED' },
    ],
    2,
    now,
  );
  const lines = text.trimEnd().split('\n');
  assert.match(lines[0]!, /sources 2\/3 {2}machines held 3 {2}lag 8$/);
  assert.match(text, /http:\/\/c:9464 {2}unreachable: ECONNREFUSED/);
  const table = lines.slice(lines.indexOf('') + 1);
  assert.match(table[0]!, /^# +MACHINE +SCORE +ALERT +VOTE/);
  assert.equal(table.length, 3, 'header + top 2');
  assert.match(table[1]!, /^1 +m-2 +0\.950 +RAISED +3 +raised 2026-01-01T21:00Z/);
  assert.match(table[2]!, /^2 +m-3 +0\.600 +clear/);
  assert.doesNotMatch(text, /\x1b/, 'plain text, no terminal escapes');
});

test('pdm top flags: bad --top and --interval are usage errors; workers default to the HTTP port', () => {
  const config = loadConfig({ PDM_HTTP_PORT: '9500' });
  const parse = (argv: string[]) =>
    parseTopArgs(parseCommandArgs(argv, { name: 'top', summary: '', flags: TOP_FLAGS }, []), config);
  assert.deepEqual(parse([]).workers, ['http://127.0.0.1:9500']);
  assert.deepEqual(parse(['--workers', 'h1:1,http://h2:2/']).workers, ['http://h1:1', 'http://h2:2']);
  assert.throws(() => parse(['--top', '0']), /--top/);
  assert.throws(() => parse(['--interval', 'soon']), /--interval/);
  assert.equal(parse(['--redis', '--once']).fromRedis, true);
});
