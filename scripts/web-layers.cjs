// Holds the web client's shape (ARCHITECTURE.md, "The web client"), read from the parsed modules:
//   - nothing imports web/app.js (the entry, the composition root);
//   - web/views/<name>.js is imported only by web/router.js, and web/views/<name>/* only by its
//     view (web/views/<name>.js or its siblings in that folder);
//   - web/components/ and the modules beside app.js import no view and not the router or app.js;
//   - no function is longer than 150 lines.
// JSDoc `import("…")` types count as imports here, so a type cannot hide an upward dependency.
// Prints every function over 80 lines (`--list N` for another threshold). Needs acorn and
// acorn-walk (scripts/check-web.sh installs them under target/web-tools and sets NODE_PATH).
"use strict";
const fs = require("fs");
const path = require("path");
const acorn = require("acorn");
const walk = require("acorn-walk");

const WEB = path.join(__dirname, "..", "web");
const MAX_LINES = 150;
const listAt = process.argv.includes("--list") ? Number(process.argv[process.argv.indexOf("--list") + 1]) : 80;

/** Every module of the client, relative to web/ (the API reference's starter excluded). */
function modules(dir = WEB) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "docs" && dir === WEB ? [] : modules(full);
    return entry.name.endsWith(".js") ? [path.relative(WEB, full).split(path.sep).join("/")] : [];
  });
}

/** The name a function is known by: its own, its variable's, its property's, or where it is passed. */
function nameOf(node, ancestors) {
  if (node.id) return node.id.name;
  const parent = ancestors[ancestors.length - 2];
  if (!parent) return "<anonymous>";
  if (parent.type === "VariableDeclarator" && parent.id.type === "Identifier") return parent.id.name;
  if ((parent.type === "Property" || parent.type === "MethodDefinition") && parent.key) return parent.key.name || parent.key.value;
  if (parent.type === "AssignmentExpression") return source(parent.left);
  if (parent.type === "CallExpression" || parent.type === "NewExpression") return `<callback of ${source(parent.callee)}>`;
  return "<anonymous>";
}

function source(node) {
  if (node.type === "Identifier") return node.name;
  if (node.type === "MemberExpression") return `${source(node.object)}.${node.property.name || "[…]"}`;
  if (node.type === "ThisExpression") return "this";
  return "…";
}

const problems = [];
/** @type {{file: string, name: string, line: number, lines: number}[]} */
const functions = [];
/** @type {Map<string, Set<string>>} importer -> imported modules (relative to web/) */
const imports = new Map();

for (const file of modules()) {
  const text = fs.readFileSync(path.join(WEB, file), "utf8");
  /** @type {string[]} */
  const specifiers = [];
  const comments = [];
  const ast = acorn.parse(text, { ecmaVersion: "latest", sourceType: "module", locations: true, onComment: comments });
  for (const c of comments) for (const m of c.value.matchAll(/import\(\s*["']([^"']+)["']\s*\)/g)) specifiers.push(m[1]);
  walk.fullAncestor(ast, (node, _state, ancestors) => {
    if ((node.type === "ImportDeclaration" || node.type === "ExportAllDeclaration" || node.type === "ExportNamedDeclaration") && node.source) {
      specifiers.push(node.source.value);
    } else if (node.type === "ImportExpression" && node.source.type === "Literal") {
      specifiers.push(node.source.value);
    } else if (node.type === "FunctionDeclaration" || node.type === "FunctionExpression" || node.type === "ArrowFunctionExpression") {
      const outer = ancestors.slice(0, -1).filter((a) => a.type.includes("Function")).map((a) => nameOf(a, ancestors.slice(0, ancestors.indexOf(a) + 1)));
      const name = [...outer, nameOf(node, ancestors)].join(" > ");
      functions.push({ file, name, line: node.loc.start.line, lines: node.loc.end.line - node.loc.start.line + 1 });
    }
  });
  const targets = new Set();
  for (const spec of specifiers) {
    if (!spec.startsWith(".")) continue;
    targets.add(path.posix.normalize(path.posix.join(path.posix.dirname(file), spec)));
  }
  imports.set(file, targets);
}

const isView = (m) => /^views\/[^/]+\.js$/.test(m);
const viewPart = (m) => /^views\/([^/]+)\/.+\.js$/.exec(m)?.[1];
for (const [importer, targets] of imports) {
  for (const target of targets) {
    const edge = `web/${importer} imports web/${target}`;
    if (target === "app.js") problems.push(`${edge}: nothing imports the entry`);
    if (isView(target) && importer !== "router.js") problems.push(`${edge}: views are imported only by web/router.js`);
    const part = viewPart(target);
    if (part && importer !== `views/${part}.js` && viewPart(importer) !== part) problems.push(`${edge}: web/views/${part}/ belongs to web/views/${part}.js`);
    const low = !importer.startsWith("views/") && importer !== "router.js" && importer !== "app.js";
    if (low && (target.startsWith("views/") || target === "router.js")) problems.push(`${edge}: ${importer.startsWith("components/") ? "components" : "shared modules"} import no view and not the router`);
  }
}

for (const f of functions.filter((f) => f.lines > MAX_LINES)) {
  problems.push(`web/${f.file}:${f.line} ${f.name} is ${f.lines} lines (at most ${MAX_LINES}): split it by concern`);
}

const long = functions.filter((f) => f.lines > listAt).sort((a, b) => b.lines - a.lines);
console.log(`functions over ${listAt} lines in web/: ${long.length}`);
for (const f of long) console.log(`  ${String(f.lines).padStart(4)}  web/${f.file}:${f.line}  ${f.name}`);
if (problems.length) {
  console.error(problems.map((p) => `web client shape: ${p}`).join("\n"));
  process.exit(1);
}
console.log("web client shape: layers hold, no function over 150 lines");
