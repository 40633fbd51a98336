#!/usr/bin/env python3
"""Reads the module graph that `cargo modules dependencies` prints (DOT, functions, types and
traits filtered out) on standard input and fails if its "uses" edges form a cycle.

cargo-modules' own `--acyclic` flag checks the graph before that filtering, where every type
and a method that names the type form a "cycle" (a six-line crate with `impl Scope { fn key(&self)
{ match self { Scope::One => … } } }` fails it), so the modules are checked here instead.
"""
import re
import sys

EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[label="uses"')

def main() -> int:
    graph: dict[str, set[str]] = {}
    for line in sys.stdin:
        m = EDGE.match(line)
        if m and m.group(1) != m.group(2):
            graph.setdefault(m.group(1), set()).add(m.group(2))
            graph.setdefault(m.group(2), set())
    if not graph:
        print("module_cycles: no 'uses' edges read; is cargo-modules' output empty?", file=sys.stderr)
        return 2
    # Tarjan's strongly connected components, iteratively.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    modules = len(graph)
    edges = sum(len(v) for v in graph.values())
    if components:
        for component in components:
            inside = set(component)
            print(f"cycle among {len(component)} modules:")
            for module in component:
                uses = sorted(graph[module] & inside)
                print(f"  {module} -> {', '.join(uses)}")
        return 1
    print(f"no cycle among {modules} modules ({edges} 'uses' edges)")
    return 0

if __name__ == "__main__":
    sys.exit(main())
