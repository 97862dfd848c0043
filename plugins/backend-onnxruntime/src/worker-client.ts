/** Request/response plumbing to the session worker thread. */
import { Worker } from 'node:worker_threads';
import { BackendError } from './errors.js';
import type { Request, Response } from './protocol.js';

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void; what: string };

/** Distributive Omit, so that each request variant keeps its own fields. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export class WorkerError extends Error {
  constructor(
    message: string,
    /** True when the worker itself failed (crash, exit), not the request. */
    readonly fatal: boolean,
  ) {
    super(message);
  }
}

export class WorkerClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: string | null = null;

  constructor() {
    this.worker = new Worker(new URL('./worker.js', import.meta.url));
    // An idle backend must not keep the process alive; a pending request does (see request()).
    this.worker.unref();
    this.worker.on('message', (res: Response) => {
      const p = this.pending.get(res.id);
      if (!p) return;
      this.settle(res.id);
      if (res.ok) p.resolve(res.result);
      else p.reject(new WorkerError(res.error, false));
    });
    this.worker.on('error', (e) => this.fail(`the onnxruntime worker thread crashed: ${e.message}`));
    this.worker.on('exit', (code) => this.fail(`the onnxruntime worker thread exited (code ${code})`));
  }

  request<T>(req: WithoutId<Request>, transfer: ArrayBuffer[] = [], what: string = req.op): Promise<T> {
    if (this.dead) return Promise.reject(new BackendError(this.dead));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, what });
      this.worker.postMessage({ ...req, id }, transfer);
    });
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) this.worker.unref();
  }

  private fail(message: string): void {
    if (this.dead) return;
    this.dead = message;
    for (const [id, p] of this.pending) {
      this.settle(id);
      p.reject(new WorkerError(`${p.what}: ${message}`, true));
    }
  }

  async terminate(): Promise<void> {
    this.dead ??= 'the backend was disposed';
    await this.worker.terminate();
  }
}
