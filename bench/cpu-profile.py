"""bench/cpu-profile.sh's arithmetic: `summarize` turns `perf script` lines (comm, pid, ip, sym,
dso) into CPU µs per write by process and by PostgreSQL function; `report` prints the builds
side by side, medians over the rounds."""
import collections
import json
import re
import statistics
import sys

HZ = 1999.0  # perf record -F
# PostgreSQL reading stored expression trees back from their text (nodes/read.c, readfuncs.c):
# a table's CHECK constraints at every statement that writes it, column defaults at every
# rewrite of an INSERT.
NODE_TEXT = {"pg_strtok", "nodeRead", "parseNodeString", "readDatum", "nodeTokenType",
             "stringToNode", "stringToNodeInternal", "debackslash", "__GI_____strtoll_l_internal",
             "__GI_____strtoull_l_internal", "__GI_strtoll", "__GI_strtoul"}
LINE = re.compile(r"\s*(\S+)\s+(\d+)\s+[0-9a-f]+\s+(.*?)\s*\(([^)]*)\)\s*$")
PROCESSES = ("postgres", "docket", "client", "other", "idle")


def summarize(build, order, round_, rps, seconds):
    writes = float(rps) * float(seconds)
    samples = [m.groups() for m in map(LINE.match, sys.stdin) if m]
    # A process is Docket or the client by the executable its samples ran in.
    exe = {}
    for _, pid, _, dso in samples:
        name = dso.rsplit("/", 1)[-1]
        if name.startswith("docket"):
            exe[pid] = "client" if name == "docket-bench" else "docket"
    by_process, by_function = collections.Counter(), collections.Counter()
    for comm, pid, sym, _ in samples:
        who = exe.get(pid) or ("postgres" if comm.startswith("postgres")
                               else "idle" if comm == "swapper" else "other")
        by_process[who] += 1
        if who == "postgres":
            by_function[sym or "?"] += 1
    us = lambda n: n / HZ / writes * 1e6
    json.dump({"build": build, "order": int(order), "round": int(round_), "rps": float(rps),
               "process": {k: us(v) for k, v in by_process.items()},
               "postgres": {k: us(v) for k, v in by_function.items()}}, sys.stdout)


def report(top, paths):
    runs = [json.load(open(p)) for p in paths]
    builds = list(dict.fromkeys(r["build"] for r in sorted(runs, key=lambda r: r["order"])))
    of = lambda build: [r for r in runs if r["build"] == build]
    med = lambda values: statistics.median(values) if values else 0.0
    part = lambda build, kind, key: med([r[kind].get(key, 0.0) for r in of(build)])
    print("\n| build | writes/s | CPU µs/write: PostgreSQL | Docket | client | other | idle "
          "| of which PostgreSQL reading stored expressions |")
    print("|---|---|---|---|---|---|---|---|")
    for b in builds:
        rps = med([r["rps"] for r in of(b)])
        node = med([sum(v for k, v in r["postgres"].items() if k in NODE_TEXT) for r in of(b)])
        cells = " | ".join(f"{part(b, 'process', k):.0f}" for k in PROCESSES)
        print(f"| {b} | {rps:,.0f} | {cells} | {node:.1f} |")
    base = builds[0]
    names = {k for r in runs for k in r["postgres"]}
    for b in builds[1:]:
        diff = sorted(((part(b, "postgres", k) - part(base, "postgres", k), k) for k in names),
                      reverse=True)
        print(f"\nPostgreSQL functions, {b} against {base}, µs/write, most added first: "
              + ", ".join(f"{k} {d:+.1f}" for d, k in diff[:top]))


if __name__ == "__main__":
    if sys.argv[1] == "summarize":
        summarize(*sys.argv[2:7])
    else:
        report(int(sys.argv[2]), sys.argv[3:])
