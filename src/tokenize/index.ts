export { KERAS_FILTERS, KerasTokenizer, encodeForModel, padSequences, textToWordSequence } from './tokenizer';
export type { FitOptions, PadOptions, TokenizerSpec, WordSequenceOptions } from './tokenizer';
