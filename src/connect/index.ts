export { ConnectionSetupError, speaksTls, untrustedCertificate } from './errors';
export type { ConnectionSetupCode } from './errors';
export { KafkaConnectGuard } from './kafka';
export { RedisConnectGuard } from './redis';
