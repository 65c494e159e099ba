/** The pixels of one synthetic item image: its style's pattern and shape, jittered per item. */
import type { Rng } from '../../../engine/rng.js';
import type { Shape, Style } from './catalog.js';

/** RGB pixels (size² × 3) of one item's image: the style, jittered by `rng`. */
export function renderImage(
  style: Style,
  size: number,
  rng: Rng,
  band: [number, number, number] | null,
): Uint8Array {
  const hue = style.hue + (rng.uniform() - 0.5) * 12;
  const sat = clamp(style.sat + (rng.uniform() - 0.5) * 0.1, 0, 1);
  const light = clamp(style.light + (rng.uniform() - 0.5) * 0.08, 0.1, 0.9);
  const main = hslToRgb(hue, sat, light);
  const second = hslToRgb(hue, sat * 0.8, clamp(light + (light < 0.5 ? 0.28 : -0.28), 0, 1));
  const accent = hslToRgb(hue + 180, clamp(sat + 0.1, 0, 1), 0.5);
  const freq = style.freq * (0.8 + 0.45 * rng.uniform());
  const phase = rng.uniform() * 2 * Math.PI;
  const angle = rng.uniform() * 2 * Math.PI;
  const cx = size * (0.4 + 0.2 * rng.uniform());
  const cy = size * (0.4 + 0.2 * rng.uniform());
  const half = size * (0.16 + 0.08 * rng.uniform());
  const bandRows = band ? Math.max(2, Math.round(size / 10)) : 0;
  const px = new Uint8Array(size * size * 3);
  const noise = new Uint32Array(px.length);
  rng.fillU32(noise);
  const w = (2 * Math.PI * freq) / size;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      let mix: number; // 0 = main colour, 1 = second colour
      switch (style.pattern) {
        case 'hstripes':
          mix = Math.sin(w * y + phase) > 0 ? 1 : 0;
          break;
        case 'vstripes':
          mix = Math.sin(w * x + phase) > 0 ? 1 : 0;
          break;
        case 'diagonal':
          mix = Math.sin((w * (x + y)) / Math.SQRT2 + phase) > 0 ? 1 : 0;
          break;
        case 'checker':
          mix = (Math.floor((x * freq) / size + phase) + Math.floor((y * freq) / size)) & 1;
          break;
        case 'dots': {
          const cell = size / freq;
          const dx = ((x + phase * cell) % cell) - cell / 2;
          const dy = (y % cell) - cell / 2;
          mix = dx * dx + dy * dy < (cell * cell) / 10 ? 1 : 0;
          break;
        }
        case 'rings':
          mix = Math.sin((w / 2) * Math.hypot(x - size / 2, y - size / 2) + phase) > 0 ? 1 : 0;
          break;
        default: // gradient along a random direction
          mix = clamp(
            0.5 + ((x - size / 2) * Math.cos(angle) + (y - size / 2) * Math.sin(angle)) / size,
            0,
            1,
          );
      }
      let col: number[] | null = null;
      if (band && y < bandRows) col = band;
      else if (inShape(style.shape, x + 0.5 - cx, y + 0.5 - cy, half)) col = accent;
      const o = (y * size + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const v = col ? col[ch] : main[ch] + (second[ch] - main[ch]) * mix;
        // triangular pixel noise in ±8 from the two halves of one random word
        const u = noise[o + ch];
        px[o + ch] = clamp(Math.round(v + ((u & 0xffff) / 65535 + (u >>> 16) / 65535 - 1) * 8), 0, 255);
      }
    }
  }
  return px;
}

function inShape(shape: Shape, dx: number, dy: number, half: number): boolean {
  const ax = Math.abs(dx);
  const ay = Math.abs(dy);
  switch (shape) {
    case 'circle':
      return dx * dx + dy * dy <= half * half;
    case 'square':
      return ax <= half && ay <= half;
    case 'diamond':
      return ax + ay <= half * 1.3;
    case 'cross':
      return (ax <= half && ay <= half * 0.35) || (ay <= half && ax <= half * 0.35);
    default: // triangle, apex up
      return dy >= -half && dy <= half && ax <= ((dy + half) / (2 * half)) * half;
  }
}

export function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  h = (((h % 360) + 360) % 360) / 60;
  const c = (1 - Math.abs(2 * l - 1)) * s;
  const x = c * (1 - Math.abs((h % 2) - 1));
  const m = l - c / 2;
  const [r, g, b] =
    h < 1
      ? [c, x, 0]
      : h < 2
        ? [x, c, 0]
        : h < 3
          ? [0, c, x]
          : h < 4
            ? [0, x, c]
            : h < 5
              ? [x, 0, c]
              : [c, 0, x];
  return [(r + m) * 255, (g + m) * 255, (b + m) * 255];
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}
