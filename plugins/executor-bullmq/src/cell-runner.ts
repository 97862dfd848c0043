/**
 * The coordinator's side of comparison cells: each cell becomes a BullMQ job whose id is the
 * cell's stable id (queue-client.ts). Jobs are kept in Redis after they finish until the
 * coordinator has written the cell (`settled`), so a coordinator killed in between finds the result
 * when it resumes.
 */
import type { CellOutput, CellRunner, CellSpec, CellStatus, Logger } from '@peftkit/api';
import type { BullmqOptions } from './options.js';
import { QueueClient } from './queue-client.js';
import { decodeOutput, encodeSpec } from './wire.js';

export class BullmqCellRunner implements CellRunner {
  private readonly client: QueueClient;

  constructor(
    private readonly options: BullmqOptions,
    log: Logger,
    ca?: string,
  ) {
    this.client = new QueueClient(options, log, ca);
  }

  async run(
    spec: CellSpec,
    onStatus: (status: CellStatus) => void,
    opts: { retryFailed?: boolean } = {},
  ): Promise<CellOutput> {
    const value = await this.client.result(
      'cell',
      spec.id,
      encodeSpec(spec, this.options.maxJobMB),
      onStatus,
      opts,
    );
    return decodeOutput(value, this.options.maxResultMB);
  }

  async settled(cellId: string): Promise<void> {
    await this.client.remove(cellId);
  }

  async dispose(): Promise<void> {
    await this.client.dispose();
  }
}
