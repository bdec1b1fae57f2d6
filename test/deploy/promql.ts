import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * The PromQL of the shipped dashboard and alert rules, read from the files, plus the metric names they may
 * use. The static deploy test checks names and syntax; an integration test can evaluate every expression
 * against a live Prometheus scraping a real worker.
 */

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const DASHBOARD_FILE = resolve(REPO_ROOT, 'deploy/grafana/dashboards/pdm.json');
export const RULES_FILE = resolve(REPO_ROOT, 'deploy/prometheus/rules.yml');

/** The metric names the dashboard and rules may use (a subset of docs/metrics.md), without histogram suffixes. */
export const CONTRACT_METRICS: readonly string[] = [
  'pdm_records_consumed_total',
  'pdm_records_invalid_total',
  'pdm_scores_total',
  'pdm_score_batch_size',
  'pdm_score_duration_seconds',
  'pdm_event_to_alert_seconds',
  'pdm_alerts_total',
  'pdm_machines_tracked',
  'pdm_consumer_lag',
  'pdm_model_info',
  'pdm_model_metric',
  'pdm_training_duration_seconds',
  'pdm_training_runs_total',
  'pdm_model_age_seconds',
  'pdm_alert_flaps_total',
  'pdm_shadow_scores_total',
  // pdm evaluator (src/evaluate/metrics.ts)
  'pdm_live_recall',
  'pdm_live_precision',
  'pdm_live_holdout_recall',
  'pdm_live_false_alarms_per_machine_day',
  'pdm_live_false_alarms_total',
  'pdm_live_true_alarms_total',
  'pdm_live_failures_total',
  'pdm_live_records_ignored_total',
  'pdm_live_pending',
  'pdm_alert_lead_time_seconds',
  'pdm_drift_psi',
  'pdm_drift_mean_shift',
  'pdm_drift_window_samples',
  'pdm_vocab_oov_ratio',
];

export const CONTRACT_HISTOGRAMS: readonly string[] = [
  'pdm_score_batch_size',
  'pdm_score_duration_seconds',
  'pdm_event_to_alert_seconds',
  'pdm_training_duration_seconds',
  'pdm_alert_lead_time_seconds',
];

/** prom-client 15's collectDefaultMetrics() on Linux. */
export const DEFAULT_PROCESS_METRICS: readonly string[] = [
  'process_cpu_user_seconds_total',
  'process_cpu_system_seconds_total',
  'process_cpu_seconds_total',
  'process_start_time_seconds',
  'process_resident_memory_bytes',
  'process_virtual_memory_bytes',
  'process_heap_bytes',
  'process_open_fds',
  'process_max_fds',
  'nodejs_eventloop_lag_seconds',
  'nodejs_eventloop_lag_min_seconds',
  'nodejs_eventloop_lag_max_seconds',
  'nodejs_eventloop_lag_mean_seconds',
  'nodejs_eventloop_lag_stddev_seconds',
  'nodejs_eventloop_lag_p50_seconds',
  'nodejs_eventloop_lag_p90_seconds',
  'nodejs_eventloop_lag_p99_seconds',
  'nodejs_active_resources',
  'nodejs_active_resources_total',
  'nodejs_active_handles',
  'nodejs_active_handles_total',
  'nodejs_active_requests',
  'nodejs_active_requests_total',
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
  'nodejs_heap_space_size_total_bytes',
  'nodejs_heap_space_size_used_bytes',
  'nodejs_heap_space_size_available_bytes',
  'nodejs_version_info',
  'nodejs_gc_duration_seconds_bucket',
  'nodejs_gc_duration_seconds_sum',
  'nodejs_gc_duration_seconds_count',
];

/** Series Prometheus writes itself for every target (the `PdmTargetDown` alert uses `up`). */
export const SCRAPE_SERIES: readonly string[] = ['up'];

/** Every series name an expression may select: the contract's, histogram `_bucket/_sum/_count`, defaults, `up`. */
export function allowedMetricNames(): ReadonlySet<string> {
  const names = new Set<string>([...CONTRACT_METRICS, ...DEFAULT_PROCESS_METRICS, ...SCRAPE_SERIES]);
  for (const histogram of CONTRACT_HISTOGRAMS) {
    for (const suffix of ['_bucket', '_sum', '_count']) names.add(histogram + suffix);
  }
  return names;
}

// Words that can stand where a metric name could, but are PromQL syntax.
const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'atan2',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'bool',
  'offset',
  'inf',
  'nan',
]);

/**
 * The metric names an expression selects, in order of first use. Not a full parser, but enough for the
 * expressions we write: strings, label matchers, range selectors, grouping label lists and Grafana variables
 * are removed first; what remains is a name unless it is a keyword, a number/duration or a function call.
 */
export function referencedMetrics(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""')
    .replace(/#.*$/gm, '')
    .replace(/\$\{?\w+\}?/g, '')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/gi, ' ');
  const names: string[] = [];
  const token =
    /(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?:(?:ms|[smhdwy])(?:\d+(?:ms|[smhdwy]))*)?)|([A-Za-z_:][A-Za-z0-9_:]*)/g;
  for (let match = token.exec(stripped); match; match = token.exec(stripped)) {
    const name = match[2];
    if (name === undefined || KEYWORDS.has(name.toLowerCase())) continue;
    if (/^\s*\(/.test(stripped.slice(token.lastIndex))) continue; // a function or aggregation
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

interface GrafanaPanel {
  readonly title?: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly GrafanaPanel[];
}

export interface DashboardQuery {
  readonly panel: string;
  readonly expr: string;
}

/**
 * Every query of the dashboard, with Grafana's interval variables replaced by `interval` so Prometheus can
 * evaluate it as is (`raw: true` keeps them).
 */
export function dashboardQueries(opts: { interval?: string; raw?: boolean } = {}): DashboardQuery[] {
  const interval = opts.interval ?? '1m';
  const dashboard = JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8')) as { panels?: readonly GrafanaPanel[] };
  const out: DashboardQuery[] = [];
  const visit = (panels: readonly GrafanaPanel[] | undefined): void => {
    for (const panel of panels ?? []) {
      for (const target of panel.targets ?? []) {
        if (typeof target.expr !== 'string' || target.expr.trim() === '') continue;
        const expr = opts.raw
          ? target.expr
          : target.expr.replace(/\$\{?(?:__rate_interval|__interval|__range)\}?/g, interval);
        out.push({ panel: panel.title ?? '(untitled)', expr });
      }
      visit(panel.panels);
    }
  };
  visit(dashboard.panels);
  return out;
}

export function dashboardExpressions(opts: { interval?: string; raw?: boolean } = {}): string[] {
  return dashboardQueries(opts).map((q) => q.expr);
}

export interface RuleExpression {
  readonly kind: 'alert' | 'record';
  readonly name: string;
  readonly expr: string;
}

/**
 * The rules of deploy/rules.yml with their expressions. A small reader for the YAML we write there:
 * `expr:` as a plain or quoted one-line scalar, or a `|`/`>` block scalar; `test/deploy/deploy.test.ts`
 * cross-checks the count against `promtool check rules`.
 */
export function ruleEntries(file = RULES_FILE): RuleExpression[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const out: RuleExpression[] = [];
  let current: { kind: 'alert' | 'record'; name: string } | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const named = /^\s*(?:- )?\s*(alert|record):\s*(.+?)\s*$/.exec(line);
    if (named) {
      current = { kind: named[1] as 'alert' | 'record', name: unquote(named[2] ?? '') };
      continue;
    }
    const keyed = /^(\s*(?:- )?\s*)expr:\s*(.*?)\s*$/.exec(line);
    if (!keyed) continue;
    if (!current) throw new Error(`${file}:${i + 1}: expr before any alert/record`);
    const keyColumn = (keyed[1] ?? '').length;
    const value = keyed[2] ?? '';
    let expr: string;
    if (/^[|>][+-]?$/.test(value)) {
      const block: string[] = [];
      while (i + 1 < lines.length) {
        const next = lines[i + 1] ?? '';
        if (next.trim() !== '' && next.length - next.trimStart().length <= keyColumn) break;
        block.push(next);
        i++;
      }
      const indent = Math.min(
        ...block.filter((l) => l.trim() !== '').map((l) => l.length - l.trimStart().length),
      );
      expr = block
        .map((l) => l.slice(indent))
        .join('\n')
        .trim();
    } else {
      expr = unquote(value);
    }
    out.push({ ...current, expr });
    current = undefined;
  }
  return out;
}

export function ruleExpressions(file = RULES_FILE): string[] {
  return ruleEntries(file).map((r) => r.expr);
}

function unquote(text: string): string {
  if (text.startsWith('"')) return JSON.parse(text) as string;
  if (text.startsWith("'")) return text.slice(1, -1).replace(/''/g, "'");
  return text;
}
