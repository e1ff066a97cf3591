// SVG -> RGB rasterisation through Debian's librsvg command-line tool (package librsvg2-bin).
import { execFile } from 'node:child_process';
import { decodePng } from './image.mjs';

export const RSVG = process.env.RSVG_CONVERT || 'rsvg-convert';

/**
 * Renders an SVG file to size x size pixels with `rsvg-convert -w size -h size -f png` (aspect kept,
 * transparent background) and composites it onto bg like any PNG (image.mjs decodePng).
 * @param {string} svg path of the SVG file
 * @param {number} size output width and height in pixels
 * @param {number[]} bg background [r, g, b], 0..255
 * @returns {Promise<import('./image.mjs').RgbImage>}
 * @throws {Error} "<svg>: rsvg-convert failed (...)" or a missing-tool message naming librsvg2-bin
 */
export function renderSvg(svg, size, bg) {
  return new Promise((resolve, reject) => {
    execFile(RSVG, ['-w', String(size), '-h', String(size), '-f', 'png', svg],
      { encoding: 'buffer', maxBuffer: 1 << 24 }, (err, stdout, stderr) => {
        if (err && err.code === 'ENOENT') {
          reject(new Error(`${RSVG}: not found; install Debian package librsvg2-bin (tools/install-deps.sh)`));
        } else if (err) {
          reject(new Error(`${svg}: rsvg-convert failed (${String(stderr).trim() || err.message})`));
        } else {
          try {
            const img = decodePng(stdout, bg, svg);
            if (img.width !== size || img.height !== size) throw new Error(`${svg}: rendered ${img.width}x${img.height}, expected ${size}x${size}`);
            resolve(img);
          } catch (e) {
            reject(e);
          }
        }
      });
  });
}

/** Version line of rsvg-convert ("rsvg-convert version 2.54.7"), or throws the missing-tool error. */
export function rsvgVersion() {
  return new Promise((resolve, reject) => {
    execFile(RSVG, ['--version'], (err, stdout) => {
      if (err) reject(new Error(`${RSVG}: not found; install Debian package librsvg2-bin (tools/install-deps.sh)`));
      else resolve(String(stdout).trim());
    });
  });
}
