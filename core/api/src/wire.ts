/**
 * The wire codec for job results that travel between processes (a search trial trained on a
 * worker): a value that may hold typed arrays (a train job's kept parameters) becomes plain JSON
 * text whose arrays are one base64 safetensors blob, and back, exactly (the checkpoint codec's
 * encoding, so NaN, ±Infinity and -0 survive too).
 */
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';
import { decodeState, encodeState } from './state.js';

interface WireValue {
  json: string;
  /** The typed arrays as one safetensors file, base64 (absent when there are none). */
  tensors?: string;
}

export function encodeWire(value: unknown): string {
  const { json, tensors } = encodeState(value);
  const wire: WireValue = { json };
  if (Object.keys(tensors).length > 0)
    wire.tensors = Buffer.from(encodeSafetensors(tensors)).toString('base64');
  return JSON.stringify(wire);
}

/** Decode what encodeWire produced; throws an error naming `what` when it is not that. */
export function decodeWire(text: string, what: string): unknown {
  let wire: Partial<WireValue>;
  try {
    wire = JSON.parse(text) as Partial<WireValue>;
  } catch (e) {
    throw new Error(`${what} is not JSON: ${(e as Error).message}`);
  }
  if (
    !wire ||
    typeof wire.json !== 'string' ||
    (wire.tensors !== undefined && typeof wire.tensors !== 'string')
  )
    throw new Error(`${what} is not an encoded value ({ json, tensors? })`);
  const tensors = wire.tensors
    ? decodeSafetensors(new Uint8Array(Buffer.from(wire.tensors, 'base64')), what).tensors
    : {};
  return decodeState(wire.json, tensors, what);
}
