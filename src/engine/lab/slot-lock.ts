// Mutual exclusion per runner slot ('base', 'v1', …). A runner keeps per-call state (KV cache,
// activation buffers), so a generation and an evaluation must not interleave on one runner; work
// on different runners may. A slot is held for a whole generation, or one evaluation pass.
export class SlotLocks {
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier holder of `slot` is done; holders run in arrival order. */
  async use<T>(slot: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(slot) ?? Promise.resolve();
    let release!: () => void;
    const tail = prev.then(() => new Promise<void>((r) => (release = r)));
    this.tails.set(slot, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(slot) === tail) this.tails.delete(slot);
    }
  }

  /** Holds several slots at once, taken in sorted order so two holders never wait on each other. */
  useAll<T>(slots: readonly string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(slots)].sort();
    const step = (i: number): Promise<T> => (i === sorted.length ? fn() : this.use(sorted[i], () => step(i + 1)));
    return step(0);
  }

  /** True while some holder has or waits for `slot`. */
  busy(slot: string): boolean {
    return this.tails.has(slot);
  }
}
