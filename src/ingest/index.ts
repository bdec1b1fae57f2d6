export { decodeFailure, decodeLog, decodeReading } from './decode';
export type { DecodeLimits, Decoded, InvalidCode } from './decode';
export type { Failure, LogEntry, Reading } from './schemas';
