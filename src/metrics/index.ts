import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * Every metric of the contract (docs/metrics.md), created on a registry passed in so that each test
 * and each worker instance gets its own. Names are part of the contract: change them only with docs/metrics.md.
 */
export function createMetrics(registry: Registry = new Registry(), withDefaults = true) {
  if (withDefaults) collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  const r = [registry];
  return {
    registry,
    recordsConsumed: new Counter({
      name: 'pdm_records_consumed_total',
      help: 'Records consumed, by topic',
      labelNames: ['topic'],
      registers: r,
    }),
    recordsInvalid: new Counter({
      name: 'pdm_records_invalid_total',
      help: 'Records dead-lettered, by topic and reason code',
      labelNames: ['topic', 'code'],
      registers: r,
    }),
    recordsDropped: new Counter({
      name: 'pdm_records_dropped_total',
      help: 'Valid records deliberately ignored (duplicate ts), by topic and reason',
      labelNames: ['topic', 'reason'],
      registers: r,
    }),
    sensorsImputed: new Counter({
      name: 'pdm_sensor_imputed_total',
      help: 'Sensor values missing from a reading and imputed with the training mean',
      labelNames: ['sensor'],
      registers: r,
    }),
    scores: new Counter({ name: 'pdm_scores_total', help: 'Windows scored', registers: r }),
    scoreBatchSize: new Histogram({
      name: 'pdm_score_batch_size',
      help: 'Windows per scoring batch',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
      registers: r,
    }),
    scoreDuration: new Histogram({
      name: 'pdm_score_duration_seconds',
      help: 'Model time per scoring batch',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    eventToAlert: new Histogram({
      name: 'pdm_event_to_alert_seconds',
      help: 'From the Kafka timestamp of the triggering reading to the acknowledged alert',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: r,
    }),
    alerts: new Counter({
      name: 'pdm_alerts_total',
      help: 'Alerts published, by state',
      labelNames: ['state'],
      registers: r,
    }),
    alertFlaps: new Counter({
      name: 'pdm_alert_flaps_total',
      help: "Alerts raised within PDM_ALERT_FLAP_MULTIPLE cooldowns (event time) of the same machine's previous clear",
      registers: r,
    }),
    machinesTracked: new Gauge({
      name: 'pdm_machines_tracked',
      help: 'Machines whose state is held in memory',
      registers: r,
    }),
    consumerLag: new Gauge({
      name: 'pdm_consumer_lag',
      help: 'High watermark minus the next offset to process, per assigned partition',
      labelNames: ['topic', 'partition'],
      registers: r,
    }),
    modelInfo: new Gauge({
      name: 'pdm_model_info',
      help: 'The serving model version and the TensorFlow backend (value 1)',
      labelNames: ['version', 'backend'],
      registers: r,
    }),
    modelMetric: new Gauge({
      name: 'pdm_model_metric',
      help: 'Holdout metrics of the serving model',
      labelNames: ['version', 'metric'],
      registers: r,
    }),
    modelAge: new Gauge({
      name: 'pdm_model_age_seconds',
      help: 'Seconds since the serving model was created',
      registers: r,
    }),
    shadowScores: new Counter({
      name: 'pdm_shadow_scores_total',
      help: 'Windows scored by the shadow version (champion/challenger), published to the scores topic only',
      labelNames: ['version'],
      registers: r,
    }),
    shadowFailures: new Counter({
      name: 'pdm_shadow_score_failures_total',
      help: "Batches whose shadow scoring failed (logged; the champion's outputs went out regardless)",
      registers: r,
    }),
    modelLoadFailures: new Counter({
      name: 'pdm_model_load_failures_total',
      help: 'Models refused at load (corrupt, incompatible)',
      labelNames: ['reason'],
      registers: r,
    }),
    tensors: new Gauge({
      name: 'pdm_tf_tensors',
      help: 'Live TensorFlow tensors (tf.memory().numTensors)',
      registers: r,
    }),
    trainingDuration: new Histogram({
      name: 'pdm_training_duration_seconds',
      help: 'Wall time of a training run',
      buckets: [10, 30, 60, 120, 300, 600, 1200, 3600],
      registers: r,
    }),
    trainingRuns: new Counter({
      name: 'pdm_training_runs_total',
      help: 'Training runs by outcome',
      labelNames: ['outcome'],
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
