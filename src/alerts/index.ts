export { alertId, applyScore, isFlap } from './policy';
export type { AlertMessage, AlertPolicy, Transition } from './policy';
