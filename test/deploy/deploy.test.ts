import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { CONFIG_KEYS, parseDuration } from '../../src/config';
import { DEFAULT_KAFKA_VERSION } from '../../src/stack';
import {
  DASHBOARD_FILE,
  REPO_ROOT,
  RULES_FILE,
  allowedMetricNames,
  dashboardExpressions,
  dashboardQueries,
  referencedMetrics,
  ruleEntries,
  ruleExpressions,
} from './promql';

// Static checks of everything under deploy/ and docker-compose.yml: no Docker engine, no cluster, no network.

const PROMETHEUS_DIR = resolve(REPO_ROOT, 'deploy/prometheus');
const K8S_DIR = resolve(REPO_ROOT, 'deploy/k8s');
const COMPOSE_FILE = resolve(REPO_ROOT, 'docker-compose.yml');
const scratch = mkdtempSync(join(tmpdir(), 'pdm-deploy-test-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function run(
  cmd: string,
  args: readonly string[],
  cwd = REPO_ROOT,
  env: NodeJS.ProcessEnv = process.env,
): { status: number | null; output: string; missing: boolean } {
  const result = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
  const missing = result.error !== undefined && 'code' in result.error && result.error.code === 'ENOENT';
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}`, missing };
}

function promtool(...args: string[]): string {
  const result = run('promtool', args);
  if (result.missing)
    assert.fail('promtool not found: run `bash scripts/setup/prometheus.sh` (installs Debian prometheus)');
  assert.equal(result.status, 0, `promtool ${args.join(' ')} failed:\n${result.output}`);
  return result.output;
}

/** YAML files are written as JSON (a subset of YAML), so no YAML library is needed to produce them. */
function writeYaml(name: string, value: unknown): string {
  const file = join(scratch, name);
  writeFileSync(file, JSON.stringify(value, null, 2));
  return file;
}

/**
 * All documents of each YAML file as plain data, through python3's PyYAML in one process (the project adds
 * no npm YAML parser); undefined when that is not installed, and callers then fall back to textual checks.
 */
function loadYaml(files: readonly string[]): Map<string, unknown[]> | undefined {
  const script =
    'import json,sys,yaml\n' +
    'print(json.dumps({f: [d for d in yaml.safe_load_all(open(f)) if d is not None] for f in sys.argv[1:]}))';
  const result = spawnSync('python3', ['-c', script, ...files], { encoding: 'utf8', timeout: 60_000 });
  if (result.error || /ModuleNotFoundError|No module named/.test(result.stderr ?? '')) return undefined;
  assert.equal(result.status, 0, `YAML does not parse:\n${result.stderr}`);
  return new Map(Object.entries(JSON.parse(result.stdout) as Record<string, unknown[]>));
}
const yamlAvailable = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' }).status === 0;

// ---------------------------------------------------------------------------------------------- PromQL names

test('the PromQL name reader finds selectors and skips syntax', () => {
  assert.deepEqual(
    referencedMetrics(
      'sum by (le) (rate(foo_bucket{a="b{c}", d=~"x|y"}[5m] offset 1h30m)) > bool 1e3 and on (x) group_left (y) bar:rec ' +
        'or vector(0) unless absent(baz) / ignoring(z) count_over_time(foo_bucket[$__rate_interval])',
    ),
    ['foo_bucket', 'bar:rec', 'baz'],
  );
  assert.deepEqual(
    referencedMetrics('histogram_quantile(0.99, sum without (instance) (rate(x_bucket[1m])))'),
    ['x_bucket'],
  );
});

test('every dashboard query uses only contract metric names', () => {
  const allowed = allowedMetricNames();
  const queries = dashboardQueries({ raw: true });
  assert.ok(
    queries.length >= 12,
    `expected the dashboard to have at least 12 queries, found ${queries.length}`,
  );
  const used = new Set<string>();
  for (const { panel, expr } of queries) {
    const names = referencedMetrics(expr);
    assert.ok(names.length > 0, `panel "${panel}": ${expr} selects no metric`);
    for (const name of names) {
      assert.ok(
        allowed.has(name),
        `panel "${panel}": ${expr} uses "${name}", which is not a contract metric name`,
      );
      used.add(name);
    }
  }
  // The panels the dashboard promises (deploy/README.md, "Monitoring").
  for (const name of [
    'pdm_records_consumed_total',
    'pdm_scores_total',
    'pdm_score_batch_size_bucket',
    'pdm_score_duration_seconds_bucket',
    'pdm_event_to_alert_seconds_bucket',
    'pdm_alerts_total',
    'pdm_machines_tracked',
    'pdm_consumer_lag',
    'pdm_records_invalid_total',
    'pdm_model_info',
    'nodejs_eventloop_lag_p99_seconds',
    'process_resident_memory_bytes',
  ]) {
    assert.ok(used.has(name), `the dashboard has no panel on ${name}`);
  }
});

test('the dashboard is provisionable: datasource uid matches, panel ids unique, queries parse', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as {
    uid: string;
    panels: { id: number; type: string; datasource?: { uid: string }; targets?: unknown[] }[];
  };
  assert.equal(dashboard.uid, 'pdm-worker');
  const datasource = readFileSync(
    resolve(REPO_ROOT, 'deploy/grafana/provisioning/datasources/prometheus.yml'),
    'utf8',
  );
  const uid = /^\s*uid:\s*(\S+)/m.exec(datasource)?.[1];
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'panel ids must be unique');
  for (const panel of dashboard.panels.filter((p) => p.type !== 'row')) {
    assert.equal(
      panel.datasource?.uid,
      uid,
      `panel ${panel.id} must use the provisioned datasource uid ${uid}`,
    );
  }
  const provider = readFileSync(resolve(REPO_ROOT, 'deploy/grafana/provisioning/dashboards/pdm.yml'), 'utf8');
  assert.match(provider, /path:\s*\/var\/lib\/grafana\/dashboards/);
  assert.match(
    readFileSync(COMPOSE_FILE, 'utf8'),
    /\.\/deploy\/grafana\/dashboards:\/var\/lib\/grafana\/dashboards/,
  );
  // promtool parses PromQL only inside rule files: check every query as a recording rule.
  const exprs = dashboardExpressions();
  const file = writeYaml('dashboard-rules.yml', {
    groups: [
      { name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `pdm_dashboard:query_${i}`, expr })) },
    ],
  });
  assert.match(promtool('check', 'rules', file), new RegExp(`SUCCESS: ${exprs.length} rules found`));
});

// ---------------------------------------------------------------------------------------------- Prometheus

test('promtool accepts prometheus.yml and prometheus-local.yml', () => {
  for (const config of ['prometheus.yml', 'prometheus-local.yml']) {
    const out = promtool('check', 'config', join(PROMETHEUS_DIR, config));
    assert.match(out, /SUCCESS: 1 rule files found/, `${config} must load rules.yml`);
  }
  assert.match(
    readFileSync(join(PROMETHEUS_DIR, 'prometheus-local.yml'), 'utf8'),
    /targets:\s*\[\s*"127\.0\.0\.1:9464"\s*\]/,
  );
  const compose = readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8');
  assert.match(compose, /names:\s*\[worker\]/, 'workers are discovered by their compose service name');
  assert.match(compose, /trainer:9464/);
});

test('promtool accepts rules.yml, and the reader sees every rule', () => {
  const out = promtool('check', 'rules', RULES_FILE);
  const count = Number(/SUCCESS: (\d+) rules found/.exec(out)?.[1]);
  const rules = ruleEntries();
  assert.equal(
    rules.length,
    count,
    'test/deploy/promql.ts must read as many expressions as promtool finds rules',
  );
  const alerts = rules.filter((r) => r.kind === 'alert').map((r) => r.name);
  for (const name of [
    'PdmConsumerLagGrowing',
    'PdmNoScores',
    'PdmAlertStorm',
    'PdmTrainingFailures',
    'PdmModelStale',
    'PdmDeadLetterRate',
  ]) {
    assert.ok(alerts.includes(name), `rules.yml has no ${name} alert`);
  }
});

test('every rule expression uses only contract metric names', () => {
  const allowed = allowedMetricNames();
  const used = new Set<string>();
  for (const { name, expr } of ruleEntries()) {
    const names = referencedMetrics(expr);
    assert.ok(names.length > 0, `${name}: ${expr} selects no metric`);
    for (const metric of names) {
      assert.ok(
        allowed.has(metric),
        `${name}: ${expr} uses "${metric}", which is not a contract metric name`,
      );
      used.add(metric);
    }
  }
  for (const metric of [
    'pdm_consumer_lag',
    'pdm_scores_total',
    'pdm_alerts_total',
    'pdm_training_runs_total',
    'pdm_model_age_seconds',
    'pdm_records_invalid_total',
  ]) {
    assert.ok(used.has(metric), `no rule watches ${metric}`);
  }
  assert.equal(ruleExpressions().length, ruleEntries().length);
});

/** One scenario for an alert: input series (promtool notation) and whether the alert's expression yields. */
interface Scenario {
  readonly alert: string;
  readonly when: string;
  readonly series: Record<string, string>;
  readonly fires: number; // how many series the expression returns at 20m; 0 = silent
}

const scenarios: readonly Scenario[] = [
  {
    alert: 'PdmTargetDown',
    when: 'a worker is down',
    series: { 'up{job="pdm-worker",instance="w1"}': '0x30' },
    fires: 1,
  },
  {
    alert: 'PdmTargetDown',
    when: 'all up',
    series: { 'up{job="pdm-worker",instance="w1"}': '1x30' },
    fires: 0,
  },
  {
    alert: 'PdmConsumerLagGrowing',
    when: 'lag rises',
    series: {
      'pdm_consumer_lag{topic="r",partition="0",instance="w1"}': '0+100x30',
      'pdm_consumer_lag{topic="l",partition="0",instance="w1"}': '10x30',
    },
    fires: 1,
  },
  {
    alert: 'PdmConsumerLagGrowing',
    when: 'lag is high but flat',
    series: { 'pdm_consumer_lag{topic="r",partition="0",instance="w1"}': '5000x30' },
    fires: 0,
  },
  {
    alert: 'PdmNoScores',
    when: 'records flow, nothing scored',
    series: {
      'pdm_records_consumed_total{topic="r",instance="w1"}': '0+600x30',
      'pdm_scores_total{instance="w1"}': '0x30',
    },
    fires: 1,
  },
  {
    alert: 'PdmNoScores',
    when: 'records flow, the scores series is absent',
    series: { 'pdm_records_consumed_total{topic="r",instance="w1"}': '0+600x30' },
    fires: 1,
  },
  {
    alert: 'PdmNoScores',
    when: 'records flow and are scored',
    series: {
      'pdm_records_consumed_total{topic="r",instance="w1"}': '0+600x30',
      'pdm_scores_total{instance="w1"}': '0+500x30',
    },
    fires: 0,
  },
  {
    alert: 'PdmNoScores',
    when: 'idle topics',
    series: {
      'pdm_records_consumed_total{topic="r",instance="w1"}': '100x30',
      'pdm_scores_total{instance="w1"}': '50x30',
    },
    fires: 0,
  },
  {
    alert: 'PdmAlertStorm',
    when: 'most of the fleet raises',
    series: {
      'pdm_alerts_total{state="raised",instance="w1"}': '0+5x30',
      'pdm_machines_tracked{instance="w1"}': '100x30',
    },
    fires: 1,
  },
  {
    alert: 'PdmAlertStorm',
    when: 'a few raise',
    series: {
      'pdm_alerts_total{state="raised",instance="w1"}': '0+0.2x30',
      'pdm_machines_tracked{instance="w1"}': '100x30',
    },
    fires: 0,
  },
  {
    alert: 'PdmDeadLetterRate',
    when: '10% invalid',
    series: {
      'pdm_records_consumed_total{topic="r",instance="w1"}': '0+600x30',
      'pdm_records_invalid_total{topic="r",code="schema",instance="w1"}': '0+60x30',
    },
    fires: 1,
  },
  {
    alert: 'PdmDeadLetterRate',
    when: '1% invalid',
    series: {
      'pdm_records_consumed_total{topic="r",instance="w1"}': '0+600x30',
      'pdm_records_invalid_total{topic="r",code="late",instance="w1"}': '0+6x30',
    },
    fires: 0,
  },
  {
    alert: 'PdmEventToAlertSlow',
    when: 'alerts take up to a minute',
    series: {
      'pdm_event_to_alert_seconds_bucket{le="1"}': '0x30',
      'pdm_event_to_alert_seconds_bucket{le="60"}': '0+10x30',
      'pdm_event_to_alert_seconds_bucket{le="+Inf"}': '0+10x30',
    },
    fires: 1,
  },
  {
    alert: 'PdmEventToAlertSlow',
    when: 'alerts take under a second',
    series: {
      'pdm_event_to_alert_seconds_bucket{le="1"}': '0+10x30',
      'pdm_event_to_alert_seconds_bucket{le="60"}': '0+10x30',
      'pdm_event_to_alert_seconds_bucket{le="+Inf"}': '0+10x30',
    },
    fires: 0,
  },
  {
    alert: 'PdmTrainingFailures',
    when: 'a run failed',
    series: {
      'pdm_training_runs_total{outcome="failed"}': '0 0 0 0 0 1x25',
      'pdm_training_runs_total{outcome="promoted"}': '1x30',
    },
    fires: 1,
  },
  {
    alert: 'PdmTrainingFailures',
    when: 'runs succeed',
    series: {
      'pdm_training_runs_total{outcome="failed"}': '0x30',
      'pdm_training_runs_total{outcome="promoted"}': '0+1x30',
    },
    fires: 0,
  },
  {
    alert: 'PdmModelStale',
    when: 'a four-day-old model',
    series: { 'pdm_model_age_seconds{job="pdm-worker",instance="w1"}': '345600+60x30' },
    fires: 1,
  },
  {
    alert: 'PdmModelStale',
    when: 'an hour-old model',
    series: { 'pdm_model_age_seconds{job="pdm-worker",instance="w1"}': '3600+60x30' },
    fires: 0,
  },
  {
    alert: 'PdmLiveRecallBelowHoldout',
    when: 'live recall 0.5 against holdout 0.8 over 12 failures',
    series: {
      'pdm_live_recall{version="v3"}': '0.5x30',
      'pdm_live_holdout_recall{version="v3"}': '0.8x30',
      'pdm_live_failures_total{version="v3",outcome="detected"}': '6x30',
      'pdm_live_failures_total{version="v3",outcome="missed"}': '6x30',
    },
    fires: 1,
  },
  {
    alert: 'PdmLiveRecallBelowHoldout',
    when: 'the same recall over only 4 failures',
    series: {
      'pdm_live_recall{version="v3"}': '0.5x30',
      'pdm_live_holdout_recall{version="v3"}': '0.8x30',
      'pdm_live_failures_total{version="v3",outcome="detected"}': '2x30',
      'pdm_live_failures_total{version="v3",outcome="missed"}': '2x30',
    },
    fires: 0,
  },
  {
    alert: 'PdmLiveRecallBelowHoldout',
    when: 'live recall near the holdout',
    series: {
      'pdm_live_recall{version="v3"}': '0.75x30',
      'pdm_live_holdout_recall{version="v3"}': '0.8x30',
      'pdm_live_failures_total{version="v3",outcome="detected"}': '15x30',
      'pdm_live_failures_total{version="v3",outcome="missed"}': '5x30',
    },
    fires: 0,
  },
  {
    alert: 'PdmSensorDrift',
    when: 'one sensor shifted',
    series: {
      'pdm_drift_psi{sensor="volt"}': '0.6x30',
      'pdm_drift_psi{sensor="pressure"}': '0.02x30',
      'pdm_drift_window_samples{sensor="volt"}': '500x30',
      'pdm_drift_window_samples{sensor="pressure"}': '500x30',
    },
    fires: 1,
  },
  {
    alert: 'PdmSensorDrift',
    when: 'a high PSI on too few values',
    series: { 'pdm_drift_psi{sensor="volt"}': '0.6x30', 'pdm_drift_window_samples{sensor="volt"}': '20x30' },
    fires: 0,
  },
  {
    alert: 'PdmVocabularyDrift',
    when: 'a third of the words unknown',
    series: { pdm_vocab_oov_ratio: '0.33x30' },
    fires: 1,
  },
  {
    alert: 'PdmVocabularyDrift',
    when: 'few unknown words',
    series: { pdm_vocab_oov_ratio: '0.02x30' },
    fires: 0,
  },
];

test('alert expressions fire on their symptom and stay silent otherwise (promtool test rules)', () => {
  const exprs = new Map(ruleEntries().map((r) => [r.name, r.expr]));
  const alerts = ruleEntries()
    .filter((r) => r.kind === 'alert')
    .map((r) => r.name);
  for (const alert of alerts) {
    assert.ok(
      scenarios.some((s) => s.alert === alert && s.fires > 0),
      `no firing scenario for ${alert}`,
    );
    assert.ok(
      scenarios.some((s) => s.alert === alert && s.fires === 0),
      `no silent scenario for ${alert}`,
    );
  }
  // count(expr) turns "which series" into "how many", so the scenarios need not repeat the exact values.
  const tests = scenarios.map((s) => {
    const expr = exprs.get(s.alert);
    assert.ok(expr, `rules.yml has no ${s.alert}`);
    return {
      name: `${s.alert}: ${s.when}`,
      interval: '1m',
      input_series: Object.entries(s.series).map(([series, values]) => ({ series, values })),
      promql_expr_test: [
        {
          expr: `count(${expr})`,
          eval_time: '20m',
          exp_samples: s.fires ? [{ labels: '{}', value: s.fires }] : [],
        },
      ],
    };
  });
  const file = writeYaml('rules.test.yml', { rule_files: [RULES_FILE], evaluation_interval: '1m', tests });
  promtool('test', 'rules', file);
});

// ---------------------------------------------------------------------------------------------- Compose

function composeCommand(): readonly string[] {
  if (!run('docker-compose', ['version']).missing) return ['docker-compose'];
  const plugin = run('docker', ['compose', 'version']);
  if (!plugin.missing && plugin.status === 0) return ['docker', 'compose'];
  assert.fail(
    'docker-compose not found: run `bash scripts/setup/compose.sh` (installs Debian docker-compose to validate docker-compose.yml)',
  );
}

test('docker-compose.yml is valid (docker-compose config -q) once a Grafana password is given', () => {
  const [cmd = 'docker-compose', ...pre] = composeCommand();
  const env = { ...process.env, PDM_GRAFANA_PASSWORD: 'a-test-password' };
  const result = run(cmd, [...pre, '-f', COMPOSE_FILE, 'config', '-q'], REPO_ROOT, env);
  assert.equal(result.status, 0, `${cmd} ${pre.join(' ')} config -q failed:\n${result.output}`);
});

test('docker-compose.yml refuses to start without a Grafana password and publishes ports on loopback only', () => {
  const [cmd = 'docker-compose', ...pre] = composeCommand();
  const env = { ...process.env };
  delete env.PDM_GRAFANA_PASSWORD;
  delete env.PDM_BIND_ADDRESS;
  const refused = run(cmd, [...pre, '-f', COMPOSE_FILE, 'config', '-q'], REPO_ROOT, env);
  assert.notEqual(refused.status, 0, 'compose must refuse to start Grafana with no password');
  assert.match(refused.output, /PDM_GRAFANA_PASSWORD/);
  const resolved = run(cmd, [...pre, '-f', COMPOSE_FILE, 'config'], REPO_ROOT, {
    ...env,
    PDM_GRAFANA_PASSWORD: 'x',
  });
  assert.equal(resolved.status, 0, resolved.output);
  // docker-compose 1.x prints the short syntax (`- 127.0.0.1:9092:9092/tcp`), the compose plugin the long one.
  const short = [...resolved.output.matchAll(/^\s*- (?:(\S+):)?\d+:\d+(?:\/tcp)?$/gm)].map(
    (m) => m[1] ?? '0.0.0.0',
  );
  const long = [...resolved.output.matchAll(/host_ip: (\S+)/g)].map((m) => m[1] ?? '');
  const hosts = short.length > 0 ? short : long;
  const published = hosts.length;
  const onLoopback = hosts.filter((h) => h === '127.0.0.1').length;
  assert.ok(published >= 3, `expected Kafka, Prometheus and Grafana to be published:\n${resolved.output}`);
  assert.equal(onLoopback, published, 'every published port binds to 127.0.0.1 by default');
  assert.match(resolved.output, /GF_AUTH_ANONYMOUS_ENABLED: ['"]false['"]/);
});

test('docker-compose.yml has the whole stack, started in order, with container-friendly settings', () => {
  const text = readFileSync(COMPOSE_FILE, 'utf8');
  // The same release as the local stack's default (deploy/kafka/pom.xml).
  assert.ok(
    text.includes(`image: apache/kafka:${DEFAULT_KAFKA_VERSION}`),
    `compose runs apache/kafka:${DEFAULT_KAFKA_VERSION}`,
  );
  assert.match(text, /KAFKA_PROCESS_ROLES:\s*broker,controller/);
  assert.match(text, /--partitions", "\$\{PDM_PARTITIONS:-4\}"/);
  assert.match(text, /--requirepass/);
  // Every PDM_* key given to a container is one the config schema knows (typos would be silently ignored).
  for (const [, key] of text.matchAll(/^\s+(PDM_[A-Z0-9_]+):/gm)) {
    assert.ok(
      key && CONFIG_KEYS.includes(key),
      `docker-compose.yml sets ${key}, which src/config does not know`,
    );
  }
  const doc = yamlAvailable
    ? (loadYaml([COMPOSE_FILE])?.get(COMPOSE_FILE)?.[0] as ComposeFile | undefined)
    : undefined;
  if (!doc) return; // textual checks above only
  const services = doc.services;
  for (const name of [
    'kafka',
    'redis',
    'topics',
    'worker',
    'trainer',
    'simulator',
    'prometheus',
    'grafana',
  ]) {
    assert.ok(services[name], `docker-compose.yml has no ${name} service`);
  }
  for (const name of ['kafka', 'redis', 'worker', 'trainer', 'prometheus', 'grafana']) {
    assert.ok(services[name]?.healthcheck, `${name} needs a healthcheck`);
  }
  assert.equal(services.worker?.deploy?.replicas, 2);
  assert.equal(services.topics?.depends_on?.kafka?.condition, 'service_healthy');
  for (const name of ['worker', 'trainer', 'simulator']) {
    assert.equal(
      services[name]?.depends_on?.topics?.condition,
      'service_completed_successfully',
      `${name} must wait for the topics`,
    );
    assert.equal(
      services[name]?.environment?.PDM_HTTP_HOST,
      '0.0.0.0',
      `${name} must listen on all interfaces`,
    );
  }
  assert.notEqual(
    services.trainer?.environment?.PDM_GROUP_ID,
    services.worker?.environment?.PDM_GROUP_ID,
    'the trainer needs its own group',
  );
  assert.ok(
    services.prometheus?.volumes?.some((v) => v.startsWith('./deploy/prometheus:')),
    'prometheus mounts deploy/prometheus',
  );
});

interface ComposeService {
  healthcheck?: unknown;
  deploy?: { replicas?: number };
  depends_on?: Record<string, { condition?: string }>;
  environment?: Record<string, string>;
  volumes?: string[];
}
interface ComposeFile {
  services: Record<string, ComposeService | undefined>;
}

// ---------------------------------------------------------------------------------------------- Image

test('the Dockerfile is multi-stage, non-root, native backend from npm ci, listening on 0.0.0.0:9464', () => {
  const text = readFileSync(resolve(REPO_ROOT, 'deploy/Dockerfile'), 'utf8');
  const stages = [...text.matchAll(/^FROM\s+(\S+)/gm)].map((m) => m[1]);
  assert.ok(
    stages.length >= 2 && stages.every((s) => s === 'node:20-bookworm-slim'),
    `stages: ${stages.join(', ')}`,
  );
  assert.match(text, /npm ci --omit=dev/);
  assert.match(text, /COPY --from=build \/app\/node_modules/);
  assert.match(text, /^USER\s+(?!root\b|0\b)\S+/m);
  assert.match(text, /^EXPOSE\s+9464\b/m);
  assert.match(text, /PDM_HTTP_HOST=0\.0\.0\.0/);
  assert.match(text, /ENTRYPOINT \["node", "bin\/pdm\.js"\]/);
  // Compiled JavaScript only: dist/ from the compile stage, no src/ (bin/pdm.js then never loads tsx).
  assert.match(text, /RUN npm run build/);
  assert.match(text, /COPY --from=compile \/app\/dist \.\/dist/);
  assert.doesNotMatch(text.slice(text.indexOf('AS runtime')), /COPY src/);
  const ignored = readFileSync(resolve(REPO_ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim());
  for (const entry of ['node_modules', '.git', '.cache', '.pdm'])
    assert.ok(ignored.includes(entry), `.dockerignore must list ${entry}`);
});

// ---------------------------------------------------------------------------------------------- Kubernetes

interface K8sObject {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    replicas?: number;
    strategy?: { type?: string };
    selector?: Record<string, unknown>; // Deployment/PDB: { matchLabels }, Service: the labels themselves
    maxUnavailable?: number;
    minAvailable?: number;
    ports?: { port?: number }[];
    template?: { metadata?: { labels?: Record<string, string> }; spec?: PodSpec };
  };
}
interface Probe {
  httpGet?: { path?: string; port?: number | string };
}
interface PodSpec {
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean };
  containers?: {
    args?: string[];
    ports?: { name?: string; containerPort?: number }[];
    readinessProbe?: Probe;
    livenessProbe?: Probe;
    resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
    envFrom?: { configMapRef?: { name?: string }; secretRef?: { name?: string } }[];
  }[];
}

const k8sFiles = readdirSync(K8S_DIR).filter((f) => /\.ya?ml$/.test(f));

test('k8s manifests parse and carry the fields that keep workers healthy', (t) => {
  const texts = new Map(k8sFiles.map((f) => [f, readFileSync(join(K8S_DIR, f), 'utf8')]));
  const shutdownMs = parseDuration(
    /PDM_SHUTDOWN_TIMEOUT:\s*"?([^"\s]+)"?/.exec(texts.get('configmap.yaml') ?? '')?.[1] ?? '20s',
  );
  for (const f of ['worker-deployment.yaml', 'trainer-deployment.yaml']) {
    const grace = Number(/terminationGracePeriodSeconds:\s*(\d+)/.exec(texts.get(f) ?? '')?.[1]);
    assert.ok(
      grace * 1000 > shutdownMs,
      `${f}: terminationGracePeriodSeconds ${grace}s must exceed PDM_SHUTDOWN_TIMEOUT ${shutdownMs} ms`,
    );
  }
  if (!yamlAvailable) {
    t.diagnostic('python3 with PyYAML not found: k8s manifests checked textually only');
    const worker = texts.get('worker-deployment.yaml') ?? '';
    assert.match(worker, /readinessProbe:\s*\n\s*httpGet:\s*\n\s*path:\s*\/readyz/);
    assert.match(worker, /livenessProbe:\s*\n\s*httpGet:\s*\n\s*path:\s*\/healthz/);
    assert.match(worker, /resources:\s*\n\s*requests:/);
    assert.match(texts.get('worker-pdb.yaml') ?? '', /kind:\s*PodDisruptionBudget/);
    assert.match(texts.get('trainer-deployment.yaml') ?? '', /replicas:\s*1\b/);
    return;
  }
  const parsed = loadYaml(k8sFiles.map((f) => join(K8S_DIR, f)));
  assert.ok(parsed, 'python3 with PyYAML stopped working');
  const objects = k8sFiles.flatMap((f) =>
    (parsed.get(join(K8S_DIR, f)) ?? []).map((o) => ({ file: f, o: o as K8sObject })),
  );
  const find = (kind: string, name: string) =>
    objects.find(({ o }) => o.kind === kind && o.metadata?.name === name)?.o;
  for (const { file, o } of objects) {
    if (file === 'kustomization.yaml') continue;
    assert.ok(
      o.apiVersion && o.kind && o.metadata?.name,
      `${file}: every object needs apiVersion, kind and metadata.name`,
    );
    if (o.kind !== 'Namespace')
      assert.equal(
        o.metadata?.namespace,
        'pdm',
        `${file}: ${o.kind}/${o.metadata?.name} must be in namespace pdm`,
      );
  }
  assert.ok(find('Namespace', 'pdm'));
  const config = find('ConfigMap', 'pdm-config');
  assert.equal(config?.data?.PDM_HTTP_HOST, '0.0.0.0');
  const secret = find('Secret', 'pdm-secrets');
  for (const key of [...Object.keys(config?.data ?? {}), ...Object.keys(secret?.stringData ?? {})]) {
    assert.ok(CONFIG_KEYS.includes(key), `k8s config sets ${key}, which src/config does not know`);
  }

  const worker = find('Deployment', 'pdm-worker');
  const podLabels = worker?.spec?.template?.metadata?.labels ?? {};
  const container = worker?.spec?.template?.spec?.containers?.[0];
  assert.deepEqual(container?.args, ['worker']);
  assert.equal(container?.readinessProbe?.httpGet?.path, '/readyz');
  assert.equal(container?.livenessProbe?.httpGet?.path, '/healthz');
  assert.ok(container?.ports?.some((p) => p.containerPort === 9464 && p.name === 'metrics'));
  assert.ok(
    container?.resources?.requests?.cpu &&
      container.resources.requests.memory &&
      container.resources.limits?.memory,
    'worker resources',
  );
  assert.equal(worker?.spec?.template?.spec?.securityContext?.runAsNonRoot, true);
  assert.deepEqual(
    container?.envFrom?.map((e) => e.configMapRef?.name ?? e.secretRef?.name),
    ['pdm-config', 'pdm-secrets'],
  );

  const matches = (selector: unknown, labels: Record<string, string> | undefined): boolean => {
    const entries = Object.entries((selector ?? {}) as Record<string, string>);
    return entries.length > 0 && entries.every(([k, v]) => labels?.[k] === v);
  };
  assert.ok(
    matches(worker?.spec?.selector?.matchLabels, podLabels),
    'the worker Deployment selects its own pods',
  );
  const pdb = find('PodDisruptionBudget', 'pdm-worker');
  assert.ok(matches(pdb?.spec?.selector?.matchLabels, podLabels), 'the PDB selects the worker pods');
  assert.ok(pdb?.spec?.maxUnavailable !== undefined || pdb?.spec?.minAvailable !== undefined);
  const service = find('Service', 'pdm-worker-metrics');
  assert.ok(matches(service?.spec?.selector, podLabels), 'the metrics Service selects the worker pods');
  assert.ok(service?.spec?.ports?.some((p) => p.port === 9464));

  const trainer = find('Deployment', 'pdm-trainer');
  assert.equal(trainer?.spec?.replicas, 1);
  assert.equal(trainer?.spec?.strategy?.type, 'Recreate');
  assert.deepEqual(trainer?.spec?.template?.spec?.containers?.[0]?.args, ['trainer']);
  const trainerLabels = trainer?.spec?.template?.metadata?.labels;
  assert.ok(
    matches(trainer?.spec?.selector?.matchLabels, trainerLabels),
    'the trainer Deployment selects its own pods',
  );
  // A trainer pod counted as a worker would skew the PDB and the worker metrics Service.
  assert.ok(
    !matches(worker?.spec?.selector?.matchLabels, trainerLabels),
    'trainer pods must not match the worker selector',
  );
  assert.ok(
    !matches(pdb?.spec?.selector?.matchLabels, trainerLabels),
    'trainer pods must not match the worker PDB',
  );

  // The evaluator, like the trainer, is one replica replaced with Recreate (its Redis state is not partitioned),
  // and its pods must not count as workers.
  const evaluator = find('Deployment', 'pdm-evaluator');
  assert.equal(evaluator?.spec?.replicas, 1);
  assert.equal(evaluator?.spec?.strategy?.type, 'Recreate');
  const evaluatorContainer = evaluator?.spec?.template?.spec?.containers?.[0];
  assert.deepEqual(evaluatorContainer?.args, ['evaluator']);
  assert.equal(evaluatorContainer?.livenessProbe?.httpGet?.path, '/healthz');
  const evaluatorLabels = evaluator?.spec?.template?.metadata?.labels;
  assert.ok(
    matches(evaluator?.spec?.selector?.matchLabels, evaluatorLabels),
    'the evaluator Deployment selects its own pods',
  );
  assert.ok(
    !matches(worker?.spec?.selector?.matchLabels, evaluatorLabels) &&
      !matches(pdb?.spec?.selector?.matchLabels, evaluatorLabels),
    'evaluator pods must not match the worker selector or PDB',
  );
  assert.ok(
    matches(find('Service', 'pdm-evaluator-metrics')?.spec?.selector, evaluatorLabels),
    'the evaluator metrics Service selects the evaluator pods',
  );

  const kustomization = objects.find(({ file }) => file === 'kustomization.yaml')?.o as
    { resources?: string[] } | undefined;
  const resources = kustomization?.resources ?? [];
  for (const resource of resources)
    assert.ok(k8sFiles.includes(resource), `kustomization.yaml lists ${resource}, which does not exist`);
  for (const resource of [
    'namespace.yaml',
    'configmap.yaml',
    'worker-deployment.yaml',
    'worker-pdb.yaml',
    'service.yaml',
    'trainer-deployment.yaml',
    'evaluator-deployment.yaml',
  ]) {
    assert.ok(resources.includes(resource), `kustomization.yaml must list ${resource}`);
  }
  assert.ok(
    !resources.includes('secret.example.yaml'),
    'the example Secret must never be applied by kustomize',
  );
});
