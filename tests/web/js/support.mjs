// Shared by the client's property tests (`node --test`, run by scripts/check-web.sh): a seeded
// random generator, so that a failure reproduces, and a minimal DOM, so that the renderers run
// outside a browser exactly as they are.

/** The run's seed: DOCKET_JS_SEED to repeat a run, else a fresh one (printed on failure). */
export const SEED = process.env.DOCKET_JS_SEED !== undefined
  ? Number(process.env.DOCKET_JS_SEED) >>> 0
  : (Date.now() ^ (process.pid << 16)) >>> 0;

/**
 * mulberry32: small, fast, and good enough to explore inputs.
 * @param {number} seed
 */
export function random(seed = SEED) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    /** @param {number} n an integer in [0, n) */
    below: (n) => Math.floor(next() * n),
    /** @template T @param {T[]} items */
    pick: (items) => items[Math.floor(next() * items.length)],
  };
}

/**
 * A string of `length` pieces drawn from `pieces` (single characters or words).
 * @param {ReturnType<typeof random>} rng
 * @param {string[]} pieces
 * @param {number} length
 */
export function drawn(rng, pieces, length) {
  let out = "";
  for (let i = 0; i < length; i++) out += rng.pick(pieces);
  return out;
}

/** A full collection when node runs with --expose-gc (check-web.sh does): less noise. */
const collect = /** @type {any} */ (globalThis).gc ?? (() => {});

/**
 * The fastest of `runs` calls of `fn`, in milliseconds (the least disturbed by the machine).
 * @param {() => unknown} fn
 */
export function fastest(fn, runs = 5) {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    collect();
    const t0 = performance.now();
    fn();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

/**
 * The time budget of work on a text of `size` characters, in milliseconds: linear in the size
 * (`perChar` microseconds a character, generous for a busy machine). At the sizes the tests
 * use, quadratic work takes seconds to minutes, linear work tens to hundreds of milliseconds.
 * @param {number} size
 * @param {number} perChar
 */
export function linearBudget(size, perChar) {
  return (size * perChar) / 1000;
}

// --- a minimal DOM: what dom.js's `h` and the renderers use ----------------------------------

class FakeNode {
  constructor() {
    /** @type {FakeNode[]} */
    this.childNodes = [];
    /** @type {FakeNode | null} */
    this.parentNode = null;
  }

  /** @param {FakeNode} child */
  appendChild(child) {
    if (child instanceof FakeFragment) {
      for (const moved of child.childNodes.splice(0)) this.appendChild(moved);
      return child;
    }
    if (child.parentNode) {
      const siblings = child.parentNode.childNodes;
      siblings.splice(siblings.indexOf(child), 1);
    }
    child.parentNode = this;
    this.childNodes.push(child);
    return child;
  }

  /** @param {...(FakeNode | string)} children */
  append(...children) {
    for (const child of children) this.appendChild(typeof child === "string" ? new FakeText(child) : child);
  }

  replaceChildren(...children) {
    this.childNodes = [];
    this.append(...children);
  }

  get textContent() {
    let out = "";
    const stack = [this];
    while (stack.length) {
      const node = /** @type {FakeNode} */ (stack.pop());
      if (node instanceof FakeText) out += node.data;
      else for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i]);
    }
    return out;
  }
}

class FakeText extends FakeNode {
  /** @param {string} data */
  constructor(data) {
    super();
    this.data = String(data);
  }
}

class FakeElement extends FakeNode {
  /** @param {string} tag */
  constructor(tag) {
    super();
    this.tagName = tag.toUpperCase();
    /** @type {Map<string, string>} */
    this.attributes = new Map();
    this.dataset = {};
  }

  /** @param {string} name @param {string} value */
  setAttribute(name, value) {
    this.attributes.set(name, String(value));
  }

  /** @param {string} name */
  getAttribute(name) {
    return this.attributes.get(name) ?? null;
  }

  addEventListener() {}
}

class FakeFragment extends FakeNode {}

/** Installs the fake DOM as `document` and `Node`. */
export function installDom() {
  Object.assign(globalThis, {
    Node: FakeNode,
    document: {
      createElement: (/** @type {string} */ tag) => new FakeElement(tag),
      createTextNode: (/** @type {string} */ data) => new FakeText(data),
      createDocumentFragment: () => new FakeFragment(),
    },
  });
}

/**
 * Every element under `root` with its depth (elements only), without recursion.
 * @param {FakeNode} root
 * @returns {{element: FakeElement, depth: number}[]}
 */
export function elements(root) {
  const out = [];
  const stack = root.childNodes.map((node) => ({ node, depth: 1 }));
  while (stack.length) {
    const { node, depth } = /** @type {{node: FakeNode, depth: number}} */ (stack.pop());
    if (!(node instanceof FakeElement)) continue;
    out.push({ element: node, depth });
    for (const child of node.childNodes) stack.push({ node: child, depth: depth + 1 });
  }
  return out;
}
