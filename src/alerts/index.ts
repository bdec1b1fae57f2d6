export { alertId, applyScore, clearLevel, isFlap } from './policy';
export type { AlertMessage, AlertPolicy, Transition } from './policy';
