/** Errors of the ONNX Runtime backend, with ONNX Runtime's messages cleaned for users. */
import { PeftkitError } from '@peftkit/api';

/** A compile or run failure; the message names the program key and carries ORT's cleaned text. */
export class BackendError extends PeftkitError {
  override name = 'BackendError';
}

// ESC [ ... letter: colour and cursor codes ORT's logger and some messages carry.
// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;?]*[ -/]*[@-~]/g;

// A C++ source location (`/onnxruntime_src/onnxruntime/core/graph/model.cc:202`), optionally followed
// by the function signature ORT prints after it (`void onnxruntime::X::Y(ptrdiff_t, ptrdiff_t)`).
const SOURCE_LOCATION =
  /(?:\b[A-Za-z]:)?(?:[\\/][\w.+@-]+)+\.(?:h|hpp|hh|c|cc|cpp|cxx|cu|cuh|inc):\d+(?:\s+[^\s()]*(?:\s+[^\s()]+)*::[^\s()]+\([^()]*\)(?:\s*const)?)?/g;

/**
 * ONNX Runtime's message without ANSI escape codes, C++ source paths and function signatures,
 * with runs of whitespace collapsed.
 */
export function cleanOrtMessage(message: string): string {
  return message
    .replace(ANSI, '')
    .replace(SOURCE_LOCATION, '')
    .replace(/[ \t]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{2,}/g, '\n')
    .replace(/ ([:.,])(?=\s|$)/g, '$1')
    .trim();
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
