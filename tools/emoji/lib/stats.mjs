// Image statistics for the emoji data sets and for generated images (issue #9 measures).
// Each function is a plain loop over 8-bit RGB pixels; docs/emoji-data.md states every formula and
// constant so a C++ test can compute the same numbers.
import { DECODE, REC709, saturation8 } from './color.mjs';

/** A pixel is foreground when max_c |c - background_c| > FG_THRESHOLD (8-bit codes). */
export const FG_THRESHOLD = 32;
/** A foreground pixel counts as achromatic (line art) when its HSV saturation < ACHROMATIC_SAT. */
export const ACHROMATIC_SAT = 0.2;
/** A Sobel magnitude on encoded luma in [0,1] above EDGE_THRESHOLD marks an edge pixel. */
export const EDGE_THRESHOLD = 0.5;
/** Histogram bins per channel (top 2 bits of each 8-bit code): 4 * 4 * 4 = 64 bins. */
export const HIST_BINS = 64;

/**
 * Background colour: per-channel median of the 4W-4 border pixels (the value at index floor(n/2)
 * of the sorted channel values).
 * @param {import('./image.mjs').RgbImage} img
 * @returns {number[]} [r, g, b], 0..255
 */
export function background(img) {
  const { width: w, height: h, rgb } = img;
  const idx = [];
  for (let x = 0; x < w; x++) idx.push(x, (h - 1) * w + x);
  for (let y = 1; y < h - 1; y++) idx.push(y * w, y * w + w - 1);
  return [0, 1, 2].map((c) => {
    const v = idx.map((i) => rgb[3 * i + c]).sort((a, b) => a - b);
    return v[Math.floor(v.length / 2)];
  });
}

/** Foreground mask (Uint8Array of 0/1, row-major): max_c |c - bg_c| > FG_THRESHOLD. */
export function foregroundMask(img, bg = background(img)) {
  const n = img.width * img.height;
  const m = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    let d = 0;
    for (let c = 0; c < 3; c++) d = Math.max(d, Math.abs(img.rgb[3 * i + c] - bg[c]));
    m[i] = d > FG_THRESHOLD ? 1 : 0;
  }
  return m;
}

/**
 * Statistics of one image.
 * @param {import('./image.mjs').RgbImage} img 8-bit sRGB-encoded RGB
 * @returns {{luminance: number, saturation: number, edgeDensity: number, foreground: number,
 *   lineArt: number, meanLinear: number[], background: number[], hist: Float64Array, mask: Uint8Array}}
 *   luminance   mean Rec.709 Y = 0.2126 R + 0.7152 G + 0.0722 B of sRGB-decoded (linear) values, in [0,1]
 *   saturation  mean HSV saturation (max - min) / max of the encoded values (0 where max = 0)
 *   edgeDensity fraction of interior pixels whose Sobel magnitude on encoded luma exceeds EDGE_THRESHOLD
 *   foreground  fraction of pixels in the foreground mask
 *   lineArt     fraction of foreground pixels with saturation < ACHROMATIC_SAT (0 if no foreground)
 *   meanLinear  mean linear [R, G, B]
 *   hist        foreground colour counts in HIST_BINS bins, bin = (r >> 6) * 16 + (g >> 6) * 4 + (b >> 6)
 */
export function imageStats(img) {
  const { width: w, height: h, rgb } = img;
  const n = w * h;
  const bg = background(img);
  const mask = foregroundMask(img, bg);
  const hist = new Float64Array(HIST_BINS);
  const luma = new Float64Array(n);
  const lin = [0, 0, 0];
  let lum = 0, sat = 0, fg = 0, achromatic = 0;
  for (let i = 0; i < n; i++) {
    const r = rgb[3 * i], g = rgb[3 * i + 1], b = rgb[3 * i + 2];
    const R = DECODE[r], G = DECODE[g], B = DECODE[b];
    lin[0] += R; lin[1] += G; lin[2] += B;
    lum += REC709[0] * R + REC709[1] * G + REC709[2] * B;
    const s = saturation8(r, g, b);
    sat += s;
    luma[i] = (REC709[0] * r + REC709[1] * g + REC709[2] * b) / 255;
    if (mask[i]) {
      fg++;
      if (s < ACHROMATIC_SAT) achromatic++;
      hist[(r >> 6) * 16 + (g >> 6) * 4 + (b >> 6)] += 1;
    }
  }
  let edges = 0;
  for (let y = 1; y < h - 1; y++) {
    for (let x = 1; x < w - 1; x++) {
      const p = (dx, dy) => luma[(y + dy) * w + x + dx];
      const gx = p(1, -1) + 2 * p(1, 0) + p(1, 1) - p(-1, -1) - 2 * p(-1, 0) - p(-1, 1);
      const gy = p(-1, 1) + 2 * p(0, 1) + p(1, 1) - p(-1, -1) - 2 * p(0, -1) - p(1, -1);
      if (Math.sqrt(gx * gx + gy * gy) > EDGE_THRESHOLD) edges++;
    }
  }
  return {
    luminance: lum / n,
    saturation: sat / n,
    edgeDensity: w > 2 && h > 2 ? edges / ((w - 2) * (h - 2)) : 0,
    foreground: fg / n,
    lineArt: fg ? achromatic / fg : 0,
    meanLinear: lin.map((v) => v / n),
    background: bg,
    hist,
    mask,
  };
}

/** Histogram counts -> probabilities (all zeros stay zeros). */
export function normalize(hist) {
  const s = hist.reduce((a, b) => a + b, 0);
  return Float64Array.from(hist, (v) => (s ? v / s : 0));
}

/** Total-variation distance 0.5 * sum_i |p_i - q_i| between two normalised histograms, in [0,1]. */
export function histDistance(p, q) {
  let d = 0;
  for (let i = 0; i < p.length; i++) d += Math.abs(p[i] - q[i]);
  return 0.5 * d;
}

/**
 * Reference silhouette of a set: pixel on when it is foreground in at least half of the images
 * (count * 2 >= N). All images must share one size.
 */
export function referenceMask(masks) {
  const out = new Uint8Array(masks[0].length);
  for (let i = 0; i < out.length; i++) {
    let c = 0;
    for (const m of masks) c += m[i];
    out[i] = 2 * c >= masks.length ? 1 : 0;
  }
  return out;
}

/** Intersection over union of two 0/1 masks (1 when both are empty). */
export function maskIoU(a, b) {
  let inter = 0, uni = 0;
  for (let i = 0; i < a.length; i++) {
    inter += a[i] & b[i];
    uni += a[i] | b[i];
  }
  return uni ? inter / uni : 1;
}

const SCALARS = ['luminance', 'saturation', 'edgeDensity', 'foreground', 'lineArt'];

/**
 * Set statistics: mean and population standard deviation of each per-image scalar, the pooled
 * foreground histogram (sum of counts, normalised) and, with a reference set, the histogram distance of
 * the pooled histograms and the mean silhouette IoU of each image against the reference mask.
 * @param {ReturnType<typeof imageStats>[]} stats per-image statistics (same image size within a set)
 * @param {ReturnType<typeof imageStats>[]} [ref] reference set
 */
export function setStats(stats, ref) {
  const out = { count: stats.length };
  for (const k of SCALARS) {
    const v = stats.map((s) => s[k]);
    const mean = v.reduce((a, b) => a + b, 0) / v.length;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) * (b - mean), 0) / v.length);
    out[k] = { mean, sd };
  }
  out.meanLinear = [0, 1, 2].map((c) => stats.reduce((a, s) => a + s.meanLinear[c], 0) / stats.length);
  const pooled = new Float64Array(HIST_BINS);
  for (const s of stats) for (let i = 0; i < HIST_BINS; i++) pooled[i] += s.hist[i];
  out.hist = normalize(pooled);
  if (ref && ref.length) {
    const refSet = setStats(ref);
    out.histDistance = histDistance(out.hist, refSet.hist);
    const rm = referenceMask(ref.map((s) => s.mask));
    out.maskIoU = stats.reduce((a, s) => a + maskIoU(s.mask, rm), 0) / stats.length;
  }
  return out;
}
