import type { MachineState } from './machine';
import { newMachineState } from './machine';

/**
 * The in-memory machine states of this process: bounded in count (least recently touched evicted first)
 * and evicting machines idle for `idleEvictMs` of processing time. Evicted state is not lost: the
 * checkpoint in Redis stays and is loaded again on the machine's next record.
 */
export class MachineStore {
  private readonly states = new Map<string, { state: MachineState; touchedAt: number }>();
  private readonly dirty = new Set<string>();

  constructor(
    private readonly maxMachines: number,
    private readonly idleEvictMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  get size(): number {
    return this.states.size;
  }

  get(machineId: string): MachineState | undefined {
    return this.states.get(machineId)?.state;
  }

  has(machineId: string): boolean {
    return this.states.has(machineId);
  }

  /** The state for `machineId`, created empty when absent. Touching moves it to the back of the LRU order. */
  touch(machineId: string, restored?: MachineState): MachineState {
    const entry = this.states.get(machineId);
    if (entry) {
      // Re-inserting keeps Map order = touch order (evict() relies on it); the entry object is reused.
      entry.touchedAt = this.now();
      this.states.delete(machineId);
      this.states.set(machineId, entry);
      return entry.state;
    }
    const state = restored ?? newMachineState(machineId);
    this.states.set(machineId, { state, touchedAt: this.now() });
    return state;
  }

  markDirty(machineId: string): void {
    this.dirty.add(machineId);
  }

  /** Dirty states to checkpoint; the caller clears them with `clean` once the write succeeded. */
  dirtyStates(): MachineState[] {
    return [...this.dirty]
      .map((id) => this.states.get(id)?.state)
      .filter((s): s is MachineState => s !== undefined);
  }

  clean(machineIds: Iterable<string>): void {
    for (const id of machineIds) this.dirty.delete(id);
  }

  /** Evicts idle machines and, over the bound, the least recently touched clean ones. Returns the evicted ids. */
  evict(): string[] {
    const evicted: string[] = [];
    const idleBefore = this.now() - this.idleEvictMs;
    for (const [id, entry] of this.states) {
      const overBound = this.states.size > this.maxMachines;
      if (entry.touchedAt >= idleBefore && !overBound) break; // Map order = touch order: the rest are newer
      if (this.dirty.has(id)) continue; // never drop state that is not checkpointed yet
      this.states.delete(id);
      evicted.push(id);
    }
    return evicted;
  }

  /** Drops machines (all of them when no filter) without checkpointing: used after a partition is revoked. */
  drop(filter: (machineId: string) => boolean = () => true): void {
    for (const id of [...this.states.keys()]) {
      if (filter(id)) {
        this.states.delete(id);
        this.dirty.delete(id);
      }
    }
  }

  ids(): IterableIterator<string> {
    return this.states.keys();
  }
}
