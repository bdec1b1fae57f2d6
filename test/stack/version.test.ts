import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError } from '../../src/config';
import { DEFAULT_KAFKA_VERSION, kafkaVersionFrom } from '../../src/stack';

test("PDM_KAFKA_VERSION: unset is deploy/kafka/pom.xml's release; a 3.x or 4.x release is taken; anything else names the variable", () => {
  const pom = readFileSync(join(__dirname, '..', '..', 'deploy', 'kafka', 'pom.xml'), 'utf8');
  assert.ok(pom.includes(`<kafka.version>${DEFAULT_KAFKA_VERSION}</kafka.version>`));
  assert.match(DEFAULT_KAFKA_VERSION, /^4\./);
  assert.equal(kafkaVersionFrom(undefined), DEFAULT_KAFKA_VERSION);
  assert.equal(kafkaVersionFrom(''), DEFAULT_KAFKA_VERSION);
  assert.equal(kafkaVersionFrom('3.9.1'), '3.9.1');
  for (const bad of ['latest', '4.1', '2.8.2', '4.1.1; rm -rf /']) {
    assert.throws(
      () => kafkaVersionFrom(bad),
      (e: unknown) => e instanceof ConfigError && e.message.includes('PDM_KAFKA_VERSION'),
    );
  }
});
