import { readFileSync } from 'node:fs';
import type { KafkaConfig } from 'kafkajs';
import type { Config } from '../config';

/** kafkajs `ssl` and `sasl` options from config: TLS with an optional CA, SASL SCRAM-SHA-256/512 or PLAIN. */
export function kafkaSecurity(config: Config): Pick<KafkaConfig, 'ssl' | 'sasl'> {
  const k = config.kafka;
  const out: Pick<KafkaConfig, 'ssl' | 'sasl'> = {};
  if (k.tls.enabled)
    out.ssl = {
      rejectUnauthorized: k.tls.rejectUnauthorized,
      ...(k.tls.caFile ? { ca: [readFileSync(k.tls.caFile, 'utf8')] } : {}),
    };
  if (k.sasl)
    out.sasl = {
      mechanism: k.sasl.mechanism,
      username: k.sasl.username,
      password: k.sasl.password,
    } as KafkaConfig['sasl'];
  return out;
}
