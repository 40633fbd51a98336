// Fuzzy matching for the command menu: each word of the query as characters in order, anywhere
// in the text ("brd" finds "Board", "my tsk" finds "My tasks", "dep 99" finds "#99 Deploy"),
// scored so that matches at word starts, runs of consecutive characters and whole words come
// first. A word is tried from its first possible start and from a few word starts (each try
// linear in the text), so the cost stays linear.

/**
 * @typedef {{score: number, positions: number[]}} Match `positions`: the matched characters of the text
 */

/** @param {string | undefined} c */
const isWordChar = (c) => c !== undefined && /[\p{L}\p{N}]/u.test(c);

/** How many starts of a word are tried. */
const TRIES = 8;

/**
 * How well `query` matches `text`, or null when it does not (every word of the query, each one's
 * characters in order). The empty query matches everything with score 0.
 * @param {string} query
 * @param {string} text
 * @returns {Match | null}
 */
export function fuzzy(query, text) {
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!terms.length) return { score: 0, positions: [] };
  const t = text.toLowerCase();
  let score = 0;
  /** @type {Set<number>} */
  const positions = new Set();
  for (const term of terms) {
    const m = best(term, t);
    if (!m) return null;
    score += m.score;
    for (const p of m.positions) positions.add(p);
  }
  // The text starting with the whole query, and shorter texts, rank higher.
  if (t.startsWith(query.toLowerCase().trim())) score += 8;
  score -= text.length * 0.01;
  return { score, positions: [...positions].sort((a, b) => a - b) };
}

/**
 * The best match of one word: from its first possible start, and from later word starts.
 * @param {string} term
 * @param {string} t lower-cased text
 * @returns {Match | null}
 */
function best(term, t) {
  /** @type {Match | null} */
  let found = null;
  let tries = 0;
  for (let i = t.indexOf(term[0]); i >= 0 && tries < TRIES; i = t.indexOf(term[0], i + 1)) {
    if (found && isWordChar(t[i - 1])) continue;
    tries += 1;
    const m = attempt(term, t, i);
    // A later start leaves less text: if this one fails, so do they.
    if (!m) break;
    if (!found || m.score > found.score) found = m;
  }
  return found;
}

/**
 * The word matched from `start`, each next character at its next occurrence.
 * @param {string} term
 * @param {string} t
 * @param {number} start
 * @returns {Match | null}
 */
function attempt(term, t, start) {
  const positions = [start];
  let from = start + 1;
  for (let k = 1; k < term.length; k++) {
    const i = t.indexOf(term[k], from);
    if (i < 0) return null;
    positions.push(i);
    from = i + 1;
  }
  let score = 0;
  let previous = -2;
  for (const p of positions) {
    score += 1;
    if (p === previous + 1) score += 4;
    if (!isWordChar(t[p - 1])) score += 6;
    previous = p;
  }
  // The word whole, as a word of the text.
  const last = positions[positions.length - 1];
  if (last - start === term.length - 1 && !isWordChar(t[start - 1]) && !isWordChar(t[last + 1])) score += 3;
  score -= Math.min(start, 20) * 0.05;
  return { score, positions };
}

/**
 * The items that match, best first (ties keep their order).
 * @template T
 * @param {string} query
 * @param {T[]} items
 * @param {(item: T) => string} textOf
 * @param {number} [limit]
 * @returns {{item: T, match: Match}[]}
 */
export function rank(query, items, textOf, limit = 50) {
  /** @type {{item: T, match: Match, i: number}[]} */
  const found = [];
  items.forEach((item, i) => {
    const match = fuzzy(query, textOf(item));
    if (match) found.push({ item, match, i });
  });
  found.sort((a, b) => b.match.score - a.match.score || a.i - b.i);
  return found.slice(0, limit).map(({ item, match }) => ({ item, match }));
}
