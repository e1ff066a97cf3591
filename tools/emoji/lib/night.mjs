// The "night" lighting transform of the lighting set (formula stated in docs/emoji-data.md).
import { DECODE, REC709, encode8 } from './color.mjs';

/**
 * Default parameters. luminance: factor k applied to Rec.709 luminance in linear light;
 * desaturate: mix m of each pixel toward a tinted grey of the same luminance; tint: moonlight
 * colour before normalisation to unit luminance.
 */
export const NIGHT_DEFAULTS = Object.freeze({ luminance: 0.25, desaturate: 0.6, tint: Object.freeze([0.4, 0.7, 2.0]) });

/**
 * Checks night parameters: k in (0, 1], m in [0, 1], three positive tint entries.
 * @throws {Error} naming the build.mjs option and the value
 */
export function validateNight(p) {
  if (!(p.luminance > 0 && p.luminance <= 1)) throw new Error(`--night-luminance: expected 0 < k <= 1, got ${p.luminance}`);
  if (!(p.desaturate >= 0 && p.desaturate <= 1)) throw new Error(`--night-desaturate: expected 0 <= m <= 1, got ${p.desaturate}`);
  if (p.tint.length !== 3 || !p.tint.every((v) => v > 0)) throw new Error(`--night-tint: expected three positive numbers, got ${p.tint.join(',')}`);
}

/**
 * Night look, per pixel, on linear light c = DECODE[code] (sRGB-decoded):
 *   Y  = 0.2126 R + 0.7152 G + 0.0722 B
 *   t  = tint / (0.2126 tint_r + 0.7152 tint_g + 0.0722 tint_b)      (so Rec.709 luminance of t is 1)
 *   c' = k * ((1 - m) * c + m * Y * t)
 *   out = round(255 * srgbEncode(clamp(c', 0, 1)))
 * Luminance of c' is exactly k * Y (before clamping and 8-bit rounding), so mean linear luminance of the
 * set scales by k; chroma moves a fraction m toward a blue grey (night vision is desaturated and bluish).
 * With the defaults no channel exceeds 0.25 * (0.4 + 0.6 * 2.7394) = 0.51, so the clamp never acts.
 * @param {import('./image.mjs').RgbImage} img 8-bit sRGB RGB
 * @param {{luminance: number, desaturate: number, tint: number[]}} [p]
 * @returns {import('./image.mjs').RgbImage} new image, same size
 * @throws {Error} when a parameter is outside its range (k in (0,1], m in [0,1], tint entries > 0)
 */
export function night(img, p = NIGHT_DEFAULTS) {
  validateNight(p);
  const k = p.luminance, m = p.desaturate;
  const ty = REC709[0] * p.tint[0] + REC709[1] * p.tint[1] + REC709[2] * p.tint[2];
  const t = p.tint.map((v) => v / ty);
  const out = new Uint8Array(img.rgb.length);
  for (let i = 0; i < img.rgb.length; i += 3) {
    const c = [DECODE[img.rgb[i]], DECODE[img.rgb[i + 1]], DECODE[img.rgb[i + 2]]];
    const y = REC709[0] * c[0] + REC709[1] * c[1] + REC709[2] * c[2];
    for (let j = 0; j < 3; j++) {
      const v = k * ((1 - m) * c[j] + m * y * t[j]);
      out[i + j] = encode8(Math.min(1, Math.max(0, v)));
    }
  }
  return { width: img.width, height: img.height, rgb: out };
}
