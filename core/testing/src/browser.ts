/**
 * Render a local HTML file in headless Chromium (Debian's `chromium`), for report tests: the DOM
 * after rendering and a PNG screenshot. The flags are those that work offline and as root.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

export function chromiumPath(): string | null {
  for (const p of [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser']) {
    if (p && existsSync(p)) return p;
  }
  return null;
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--hide-scrollbars',
];

export interface Rendered {
  dom: string;
  png: Buffer;
}

export async function renderInChromium(htmlFile: string, width = 1200, height = 1600): Promise<Rendered> {
  const bin = chromiumPath();
  if (!bin) throw new Error('chromium is not installed (Debian package `chromium`; .ci/run installs it)');
  const profile = mkdtempSync(join(tmpdir(), 'peftkit-chromium-'));
  try {
    const url = pathToFileURL(htmlFile).href;
    const common = [...FLAGS, `--user-data-dir=${profile}`, `--window-size=${width},${height}`];
    const { stdout } = await run(bin, [...common, '--dump-dom', url], {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    });
    const shot = join(profile, 'shot.png');
    await run(bin, [...common, `--screenshot=${shot}`, url], { timeout: 60_000 });
    return { dom: stdout, png: readFileSync(shot) };
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/** Fraction of sampled pixels that are not (near) white in a PNG: a rendered page is not blank. */
export async function inkFraction(png: Buffer): Promise<number> {
  const { inflateSync } = await import('node:zlib');
  // Minimal PNG decoder for 8-bit RGB/RGBA non-interlaced images (what Chromium writes).
  let pos = 8;
  let width = 0;
  let height = 0;
  let channels = 4;
  const idat: Buffer[] = [];
  while (pos < png.length) {
    const len = png.readUInt32BE(pos);
    const type = png.toString('ascii', pos + 4, pos + 8);
    const data = png.subarray(pos + 8, pos + 8 + len);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      channels = data[9] === 6 ? 4 : data[9] === 2 ? 3 : 0;
      if (data[8] !== 8 || channels === 0 || data[12] !== 0) throw new Error('unsupported PNG format');
    } else if (type === 'IDAT') idat.push(data);
    pos += 12 + len;
  }
  const raw = inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  const prev = Buffer.alloc(stride);
  const row = Buffer.alloc(stride);
  let ink = 0;
  let total = 0;
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)]!;
    const src = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const a = i >= channels ? row[i - channels]! : 0;
      const b = prev[i]!;
      const c = i >= channels ? prev[i - channels]! : 0;
      let v = src[i]!;
      if (filter === 1) v += a;
      else if (filter === 2) v += b;
      else if (filter === 3) v += (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        v += pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      }
      row[i] = v & 255;
    }
    if (y % 4 === 0) {
      for (let x = 0; x < width; x += 4) {
        const o = x * channels;
        total++;
        if (row[o]! < 235 || row[o + 1]! < 235 || row[o + 2]! < 235) ink++;
      }
    }
    row.copy(prev);
  }
  return total ? ink / total : 0;
}
