import type { MachineState } from './machine';
import { newMachineState } from './machine';

/** How long a pin protects a machine at most: a batch applies its records right after looking them up. */
const PIN_MS = 60_000;

/**
 * The in-memory machine states of this process: bounded in count (least recently touched evicted first)
 * and evicting machines idle for `idleEvictMs` of processing time. Evicted state is not lost: the
 * checkpoint in Redis stays and is loaded again on the machine's next record.
 *
 * The count bound holds on insert: a new machine evicts the least recently touched machine that is
 * neither dirty (changed by a batch whose checkpoint is not written yet) nor pinned (a batch has looked it
 * up and is about to apply records to it: evicting it would make that batch start from an empty state).
 * When every machine is dirty or pinned, the store grows past the bound until the batches in flight
 * checkpoint (`clean`), which enforces it again. Over the bound at most: the machines of the batches in
 * flight.
 */
export class MachineStore {
  private readonly states = new Map<string, { state: MachineState; touchedAt: number }>();
  private readonly dirty = new Set<string>();
  /** Pinned machines and when: a pin protects for PIN_MS at most (a batch applies right after its lookup). */
  private readonly pinned = new Map<string, number>();

  constructor(
    private readonly maxMachines: number,
    private readonly idleEvictMs: number,
    private readonly now: () => number = Date.now,
    /** Told of every machine evicted on insert or after a checkpoint (the periodic sweep returns its own). */
    private readonly onEvict: (machineId: string) => void = () => undefined,
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
    // A restored state is looked up for a batch that has yet to apply its records: pinned until it does.
    if (restored) this.pinned.set(machineId, this.now());
    this.enforceBound(machineId);
    return state;
  }

  /** Protects a machine from eviction on insert until it is marked dirty (a batch is about to apply to it). */
  pin(machineId: string): void {
    if (this.states.has(machineId)) this.pinned.set(machineId, this.now());
  }

  markDirty(machineId: string): void {
    this.dirty.add(machineId);
    this.pinned.delete(machineId);
  }

  private isPinned(machineId: string): boolean {
    const at = this.pinned.get(machineId);
    if (at === undefined) return false;
    if (this.now() - at < PIN_MS) return true;
    this.pinned.delete(machineId); // a batch that looked it up and applied nothing (all its records invalid)
    return false;
  }

  /** Evicts the least recently touched evictable machines while over the count bound. */
  private enforceBound(inserted?: string): void {
    if (this.states.size <= this.maxMachines) return;
    for (const id of this.states.keys()) {
      if (this.states.size <= this.maxMachines) return;
      // The machine just inserted is about to be applied to (its batch marks it dirty next).
      if (id === inserted || this.dirty.has(id) || this.isPinned(id)) continue;
      this.states.delete(id);
      this.onEvict(id);
    }
  }

  /** Dirty states to checkpoint; the caller clears them with `clean` once the write succeeded. */
  dirtyStates(): MachineState[] {
    return [...this.dirty]
      .map((id) => this.states.get(id)?.state)
      .filter((s): s is MachineState => s !== undefined);
  }

  clean(machineIds: Iterable<string>): void {
    for (const id of machineIds) this.dirty.delete(id);
    this.enforceBound();
  }

  /** Evicts idle machines and, over the bound, the least recently touched clean ones. Returns the evicted ids. */
  evict(): string[] {
    const evicted: string[] = [];
    const idleBefore = this.now() - this.idleEvictMs;
    for (const [id, entry] of this.states) {
      const overBound = this.states.size > this.maxMachines;
      if (entry.touchedAt >= idleBefore && !overBound) break; // Map order = touch order: the rest are newer
      if (this.dirty.has(id) || this.isPinned(id)) continue; // never drop state a batch has not checkpointed
      this.states.delete(id);
      this.pinned.delete(id);
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
        this.pinned.delete(id);
      }
    }
  }

  ids(): IterableIterator<string> {
    return this.states.keys();
  }
}
