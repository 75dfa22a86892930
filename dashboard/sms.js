// SMS length accounting, the same rules as chalicelib/sms_segments.py (tests/test_dashboard_case_page.py
// compares the two on a table of samples): GSM-7 when every character is in the GSM 03.38 alphabet (an
// extension character costs two septets), else UCS-2 counted in UTF-16 code units (an emoji costs two).

const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
  + "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM7_EXTENDED = new Set("^{}\\[~]|€\f");

// Look-alike characters that would force a whole message into UCS-2 (sms_segments.plain).
const PLAIN = new Map([
  ["\u2018", "'"], ["\u2019", "'"], ["\u201c", '"'], ["\u201d", '"'], ["\u2013", "-"], ["\u2014", "-"],
  ["\u2026", "..."], ["\u00a0", " "], ["\u202f", " "], ["\u2022", "-"], ["\u00ab", '"'], ["\u00bb", '"'],
]);

export function plain(text) {
  return Array.from(text, (c) => PLAIN.get(c) ?? c).join("");
}

export function isGsm7(text) {
  for (const c of text) if (!GSM7_BASIC.has(c) && !GSM7_EXTENDED.has(c)) return false;
  return true;
}

// { encoding: "GSM-7" | "UCS-2", units, segments, perSegment, left }: "left" is what the last segment
// still holds, in the encoding's units.
export function measure(text) {
  const gsm = isGsm7(text);
  let units = 0;
  if (gsm) for (const c of text) units += GSM7_EXTENDED.has(c) ? 2 : 1;
  else units = text.length; // a JavaScript string's length is in UTF-16 code units
  const [single, multi] = gsm ? [160, 153] : [70, 67];
  const segments = units <= single ? 1 : Math.ceil(units / multi);
  const perSegment = segments === 1 ? single : multi;
  return { encoding: gsm ? "GSM-7" : "UCS-2", units, segments, perSegment, left: segments * perSegment - units };
}

export const segments = (text) => measure(text).segments;
