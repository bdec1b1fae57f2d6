/**
 * Lets the event loop run timers, I/O and other partitions' batches before the caller continues: long
 * synchronous work (featurising, model calls) is cut into bounded slices with one of these between them.
 */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
