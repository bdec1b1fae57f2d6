export { alertId, applyScore } from './policy';
export type { AlertMessage, AlertPolicy, Transition } from './policy';
