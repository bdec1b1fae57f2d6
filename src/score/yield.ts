export { yieldToLoop } from '../loop';
