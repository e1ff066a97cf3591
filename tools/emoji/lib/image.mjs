// PNG input/output for the emoji builder and the measurement tool (pngjs, 8-bit only).
import fs from 'node:fs';
import pngjs from 'pngjs';

const { PNG } = pngjs;

/**
 * An 8-bit RGB image: { width, height, rgb: Uint8Array(width * height * 3) }, rows top to bottom.
 * @typedef {{width: number, height: number, rgb: Uint8Array}} RgbImage
 */

/**
 * Decodes PNG bytes (any colour type / bit depth pngjs reads; 16-bit is reduced to 8-bit) and
 * composites alpha onto `bg` in encoded sRGB space, as browsers draw emoji on a page:
 *   out = round((a * c + (255 - a) * bg) / 255), integers 0..255 per channel.
 * @param {Buffer} bytes PNG file contents
 * @param {number[]} bg background [r, g, b], 0..255
 * @param {string} name file name for error messages
 * @returns {RgbImage}
 * @throws {Error} "<name>: not a readable PNG (...)"
 */
export function decodePng(bytes, bg, name) {
  let png;
  try {
    png = PNG.sync.read(bytes);
  } catch (err) {
    throw new Error(`${name}: not a readable PNG (${err.message})`);
  }
  return compositeRgba(png.data, png.width, png.height, bg);
}

/** Reads and decodes a PNG file; see decodePng. */
export function readPng(file, bg) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (err) {
    throw new Error(`${file}: cannot read (${err.code || err.message})`);
  }
  return decodePng(bytes, bg, file);
}

/**
 * RGBA (straight alpha, 4 bytes per pixel) -> RgbImage composited onto bg (formula in decodePng).
 * round(x / 255) is floor((x + 127) / 255) because x / 255 is never exactly k + 0.5 for integer x.
 */
export function compositeRgba(rgba, width, height, bg) {
  const n = width * height;
  const rgb = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    const a = rgba[4 * i + 3];
    for (let c = 0; c < 3; c++) {
      rgb[3 * i + c] = Math.floor((a * rgba[4 * i + c] + (255 - a) * bg[c] + 127) / 255);
    }
  }
  return { width, height, rgb };
}

/**
 * Encodes an RgbImage as an 8-bit RGB PNG (colour type 2, deflate level 9, adaptive filters).
 * Bytes are stable for a given Node.js / zlib; pixels are stable everywhere.
 * @param {RgbImage} img
 * @returns {Buffer}
 */
export function encodePng(img) {
  const png = new PNG({ width: img.width, height: img.height, colorType: 2, inputColorType: 2, inputHasAlpha: false });
  png.data = Buffer.from(img.rgb.buffer, img.rgb.byteOffset, img.rgb.byteLength);
  return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false, deflateLevel: 9 });
}

/** Parses "RRGGBB" (optionally with '#') into [r, g, b]; throws naming the option on bad input. */
export function parseHexColor(text, option) {
  const m = /^#?([0-9a-fA-F]{6})$/.exec(String(text));
  if (!m) throw new Error(`${option}: expected a colour as RRGGBB, got "${text}"`);
  const v = parseInt(m[1], 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
