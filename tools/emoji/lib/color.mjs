// Colour maths shared by build.mjs (night transform) and measure.mjs (statistics).
// Every formula here is written out in docs/emoji-data.md so a C++ test can reimplement it.

/** Rec.709 / sRGB luminance weights for linear-light R, G, B (ITU-R BT.709-6, table 3, item 3.3). */
export const REC709 = Object.freeze([0.2126, 0.7152, 0.0722]);

/** sRGB electro-optical transfer (IEC 61966-2-1): encoded value u in [0,1] -> linear light in [0,1]. */
export function srgbDecode(u) {
  return u <= 0.04045 ? u / 12.92 : Math.pow((u + 0.055) / 1.055, 2.4);
}

/** Inverse of srgbDecode: linear light v in [0,1] -> encoded value in [0,1]. */
export function srgbEncode(v) {
  return v <= 0.0031308 ? 12.92 * v : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

/** DECODE[b] = srgbDecode(b / 255) for the 256 8-bit codes. */
export const DECODE = Float64Array.from({ length: 256 }, (_, b) => srgbDecode(b / 255));

// ENCODE_EDGE[i] = linear value at which round(255 * srgbEncode(v)) steps from i to i + 1.
const ENCODE_EDGE = Float64Array.from({ length: 255 }, (_, i) => srgbDecode((i + 0.5) / 255));

/**
 * Linear light v -> 8-bit sRGB code, equal to round(255 * srgbEncode(clamp(v, 0, 1))).
 * Done by binary search over precomputed edges so the result does not depend on Math.pow
 * rounding at run time (byte-stable output).
 */
export function encode8(v) {
  let lo = 0, hi = 255; // answer in [lo, hi]: number of edges <= v
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ENCODE_EDGE[mid] <= v) lo = mid + 1; else hi = mid;
  }
  return lo;
}

/** HSV saturation (max - min) / max of encoded 8-bit r, g, b; 0 for black. */
export function saturation8(r, g, b) {
  const mx = Math.max(r, g, b);
  return mx === 0 ? 0 : (mx - Math.min(r, g, b)) / mx;
}
