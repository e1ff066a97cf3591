// Licences and attribution of every image source; the model-metadata snippet the trainer embeds.
// ATTRIBUTION.md shows the output of metadataFor() for each set; test/emoji.test.mjs checks they agree.
import { NIGHT_DEFAULTS } from './night.mjs';

/** Image designs and the name data, with their licences (SPDX ids) and credit lines. */
export const SOURCES = Object.freeze({
  twemoji: {
    what: 'Twemoji 64x64 PNG images from npm emoji-datasource-twitter',
    license: 'CC-BY-4.0',
    credit: 'Twemoji graphics (c) Twitter, Inc. and other contributors (https://github.com/jdecked/twemoji), licensed under CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)',
  },
  noto: {
    what: 'Noto Emoji 64x64 PNG images from npm emoji-datasource-google',
    license: 'Apache-2.0',
    credit: 'Noto Emoji (c) Google LLC (https://github.com/googlefonts/noto-emoji), licensed under the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0)',
  },
  openmoji: {
    what: 'OpenMoji SVG images from npm openmoji, rasterised with librsvg',
    license: 'CC-BY-SA-4.0',
    credit: 'All emojis designed by OpenMoji (https://openmoji.org/) - the open-source emoji and icon project. License: CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)',
  },
  datasource: {
    what: 'emoji lists, categories and image packaging from npm emoji-datasource (iamcal/emoji-data)',
    license: 'MIT',
    credit: 'emoji-data (c) 2013 Cal Henderson (https://github.com/iamcal/emoji-data), MIT licence',
  },
  names: {
    what: 'emoji short names (captions) from Unicode CLDR, read from openmoji data/openmoji.json',
    license: 'Unicode-3.0',
    credit: 'Emoji short names from the Unicode Common Locale Data Repository (https://cldr.unicode.org/), Unicode License v3',
  },
});

/** Which sources each set draws on (the style set depends on --style-source). */
export function sourcesOf(set, styleSource) {
  if (set === 'style') return [styleSource === 'noto' ? 'noto' : 'openmoji', 'datasource', 'names'];
  return ['twemoji', 'datasource', 'names'];
}

/** Build options the metadata depends on (defaults = build.mjs defaults). */
export const METADATA_DEFAULTS = Object.freeze({ styleSource: 'openmoji-line', night: NIGHT_DEFAULTS, background: Object.freeze([255, 255, 255]) });

/** What the builder changed in the images (CC BY 4.0 section 3(a)(1)(B) asks to indicate changes). */
export function changesOf(set, opt = METADATA_DEFAULTS) {
  const { styleSource, night: p, background: bg } = { ...METADATA_DEFAULTS, ...opt };
  const onto = bg.every((v) => v === 255) ? 'white' : `#${bg.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  const base = `${set === 'style' && styleSource.startsWith('openmoji') ? 'SVG rasterised to 64x64 with librsvg, ' : ''}`
    + `transparency composited onto ${onto}, saved as 8-bit RGB PNG`;
  if (set !== 'lighting') return base;
  return `${base}; night transform in linear light: luminance x${p.luminance}, ${p.desaturate} mix toward a grey of equal luminance tinted (${p.tint.join(', ')}) (lorastack tools/emoji/lib/night.mjs)`;
}

/**
 * safetensors __metadata__ entries (all values strings) naming a set's training data, sources,
 * licences and changes, for the trainer to copy into the model / LoRA file.
 * @param {string} set base | style | character | lighting
 * @param {{styleSource?: string, night?: object, background?: number[]}} [opt] build options (METADATA_DEFAULTS)
 * @returns {Record<string, string>}
 */
export function metadataFor(set, opt = METADATA_DEFAULTS) {
  const o = { ...METADATA_DEFAULTS, ...opt };
  const src = sourcesOf(set, o.styleSource).map((k) => SOURCES[k]);
  return {
    ls_data_set: set === 'style' ? `emoji-${set}-${o.styleSource}` : `emoji-${set}`,
    ls_data_source: src.map((s) => s.what).join('; '),
    ls_data_license: src.map((s) => s.license).join(', '),
    ls_data_attribution: src.map((s) => s.credit).join('. '),
    ls_data_changes: changesOf(set, o),
  };
}
