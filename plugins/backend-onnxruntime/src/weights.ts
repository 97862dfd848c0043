/**
 * Bookkeeping, on the caller's thread, of the frozen weights the worker holds for its sessions.
 *
 * ONNX Runtime copies in-memory external data into every session it creates (a BERT-base search
 * with four programs held its 353 MB of weights four times over), and onnxruntime-node exposes
 * none of the C API's ways of sharing initializers (AddInitializer, a prepacked-weights container,
 * shared allocators). A CPU tensor fed to `run` is used in place, though. So frozen weights are
 * graph inputs (`serialize(g, { frozenWeights: 'inputs' })`); the worker receives each distinct
 * weight once, keeps it as an ONNX Runtime tensor and adds it to the feeds of every session that
 * takes it; it drops it when the last such program is released.
 *
 * A weight is identified by the bytes it views (buffer, offset, length) and its dtype and shape, so
 * programs built at different times from the same backbone share it whatever view objects they got.
 */
import type { TensorData, WeightInput } from '@peftkit/graph';

/** A weight input of one program: the graph input's name and the worker's id of its tensor. */
export interface WeightRef {
  input: string;
  id: number;
}

/** A weight the worker does not hold yet, sent with the compile request that needs it first. */
export interface NewWeight {
  id: number;
  tensor: TensorData;
}

export class WeightRegistry {
  private readonly ids = new WeakMap<ArrayBufferLike, Map<string, number>>();
  /** Programs using each weight the worker holds. */
  private readonly users = new Map<number, number>();
  private nextId = 1;

  private idOf(t: TensorData): number {
    const d = t.data;
    let byRange = this.ids.get(d.buffer);
    if (!byRange) this.ids.set(d.buffer, (byRange = new Map()));
    const range = `${d.byteOffset}:${d.byteLength}:${t.dtype}:${t.shape.join('x')}`;
    let id = byRange.get(range);
    if (id === undefined) byRange.set(range, (id = this.nextId++));
    return id;
  }

  /** Count one more program using `weights`; returns its refs and the weights to send along. */
  acquire(weights: readonly WeightInput[]): { refs: WeightRef[]; fresh: NewWeight[] } {
    const refs: WeightRef[] = [];
    const fresh: NewWeight[] = [];
    const seen = new Set<number>();
    for (const w of weights) {
      const id = this.idOf(w.data);
      refs.push({ input: w.name, id });
      if (seen.has(id)) continue;
      seen.add(id);
      const n = this.users.get(id) ?? 0;
      if (n === 0) fresh.push({ id, tensor: w.data });
      this.users.set(id, n + 1);
    }
    return { refs, fresh };
  }

  /** Count one program less using `refs`; returns the ids no program uses any more. */
  release(refs: readonly WeightRef[]): number[] {
    const dropped: number[] = [];
    for (const id of new Set(refs.map((r) => r.id))) {
      const n = (this.users.get(id) ?? 0) - 1;
      if (n > 0) this.users.set(id, n);
      else {
        this.users.delete(id);
        dropped.push(id);
      }
    }
    return dropped;
  }

  /** Weights held for programs now (ids). */
  held(): number {
    return this.users.size;
  }
}
