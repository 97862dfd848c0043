/**
 * TensorBoard event files: TFRecord framing (length, masked CRC-32C of the length, the record,
 * masked CRC-32C of the record) around `tensorflow.Event` protobufs, each holding a `Summary` of
 * scalar values (`simple_value`, which TensorBoard reads as its scalars plugin's data). The message
 * definitions are the subset of tensorflow/core/util/event.proto and summary.proto that scalars
 * need, with their field numbers; encoding uses protobufjs (the library onnx-proto already uses).
 */
import protobuf from 'protobufjs';
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { maskedCrc32c } from './crc32c.js';

const SummaryValue = new protobuf.Type('Value')
  .add(new protobuf.Field('tag', 1, 'string'))
  .add(new protobuf.Field('simpleValue', 2, 'float'));
const Summary = new protobuf.Type('Summary')
  .add(SummaryValue)
  .add(new protobuf.Field('value', 1, 'Value', 'repeated'));
const Event = new protobuf.Type('Event')
  .add(new protobuf.Field('wallTime', 1, 'double'))
  .add(new protobuf.Field('step', 2, 'int64'))
  .add(new protobuf.Field('fileVersion', 3, 'string'))
  .add(new protobuf.Field('summary', 5, 'Summary'));
new protobuf.Root().define('tensorflow').add(Summary).add(Event);

export interface Scalar {
  tag: string;
  step: number;
  value: number;
}

/** One TFRecord: the framing TensorFlow's RecordWriter writes. */
export function tfRecord(data: Uint8Array): Buffer {
  const head = Buffer.alloc(12);
  head.writeBigUInt64LE(BigInt(data.length), 0);
  head.writeUInt32LE(maskedCrc32c(head.subarray(0, 8)), 8);
  const tail = Buffer.alloc(4);
  tail.writeUInt32LE(maskedCrc32c(data), 0);
  return Buffer.concat([head, data, tail]);
}

/** The encoded Event holding the scalars of one step (all at one wall time). */
export function scalarEvent(
  wallTimeSeconds: number,
  step: number,
  values: readonly { tag: string; value: number }[],
): Uint8Array {
  return Event.encode(
    Event.create({
      wallTime: wallTimeSeconds,
      step,
      summary: { value: values.map((v) => ({ tag: v.tag, simpleValue: v.value })) },
    }),
  ).finish();
}

/**
 * Writes one event file, `events.out.tfevents.<seconds>.<host>.<pid>.<n>` (TensorBoard finds files
 * by the `tfevents` in their name), starting with the file-version event TensorBoard expects.
 * Every write goes straight to the file, so TensorBoard sees a running job's events as they come.
 */
export class EventFileWriter {
  private fd: number | undefined;
  readonly file: string;
  private static count = 0;

  constructor(dir: string, wallTimeSeconds = Date.now() / 1000) {
    mkdirSync(dir, { recursive: true });
    this.file = join(
      dir,
      `events.out.tfevents.${Math.floor(wallTimeSeconds)}.${hostname()}.${process.pid}.${EventFileWriter.count++}`,
    );
    this.fd = openSync(this.file, 'w');
    this.writeRecord(
      Event.encode(Event.create({ wallTime: wallTimeSeconds, fileVersion: 'brain.Event:2' })).finish(),
    );
  }

  /** Scalars of one step at one wall time (seconds since the epoch). */
  write(wallTimeSeconds: number, step: number, values: readonly { tag: string; value: number }[]): void {
    if (values.length > 0) this.writeRecord(scalarEvent(wallTimeSeconds, step, values));
  }

  private writeRecord(data: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`event file ${this.file} is closed`);
    const rec = tfRecord(data);
    let done = 0;
    while (done < rec.length) done += writeSync(this.fd, rec, done, rec.length - done);
  }

  close(): void {
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

/**
 * The scalars of an event file written by EventFileWriter, in file order (for tests and tools; it
 * checks the framing's CRCs). TensorBoard itself is the reference reader.
 */
export function readEventFile(
  file: string,
): { wallTime: number; step: number; tag: string; value: number }[] {
  const bytes = readFileSync(file);
  const out: { wallTime: number; step: number; tag: string; value: number }[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const len = Number(bytes.readBigUInt64LE(pos));
    if (bytes.readUInt32LE(pos + 8) !== maskedCrc32c(bytes.subarray(pos, pos + 8)))
      throw new Error(`${file}: bad length CRC at byte ${pos}`);
    const data = bytes.subarray(pos + 12, pos + 12 + len);
    if (bytes.readUInt32LE(pos + 12 + len) !== maskedCrc32c(data))
      throw new Error(`${file}: bad data CRC at byte ${pos}`);
    const e = Event.toObject(Event.decode(data), { longs: Number }) as {
      wallTime: number;
      step?: number;
      summary?: { value?: { tag: string; simpleValue: number }[] };
    };
    for (const v of e.summary?.value ?? [])
      out.push({ wallTime: e.wallTime, step: e.step ?? 0, tag: v.tag, value: v.simpleValue });
    pos += 16 + len;
  }
  return out;
}
