#!/usr/bin/env python3
"""check_includes: reads the #include "..." lines of src/ and drivers/ and fails on
 - a cycle between modules (a module is a .c with its .h: util.c + util.h),
 - a subsystem (src/<name>/) that includes another subsystem's header; subsystems meet only
   through src/core/ (and the store). core/ includes only core/ (and the drivers.def table);
   drivers/ include only core/ and drivers/. src/main.c and src/cli.c put the parts together and
   may include anything.
Known problems still to fix are listed, one per line and without the line number, in
tests/tools/include-waivers.txt: they are
printed as "waived" and do not fail the check; a waiver that no longer matches a problem does
(remove it once its problem is fixed).
Usage: check_includes.py [ROOT]   (exit 1 and one line per problem)
       check_includes.py --self-test   (proves on a small tree that both kinds are caught)"""
import os
import re
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def resolve(root, src_file, name):
    for base in (os.path.dirname(src_file), os.path.join(root, "src"), root):
        p = os.path.normpath(os.path.join(base, name))
        if os.path.exists(p):
            return os.path.relpath(p, root)
    return None


def module_of(rel):
    return os.path.splitext(rel)[0]


def area_of(rel):
    """'core', 'alarm', ... for src/<area>/x; 'drivers'; 'top' for src/main.c and src/cli.c."""
    parts = rel.split(os.sep)
    if parts[0] == "drivers":
        return "drivers"
    if parts[0] == "src":
        return parts[1] if len(parts) > 2 else "top"
    return None


def allowed(src_area, dst_rel, dst_area):
    if src_area == "top" or src_area == dst_area:
        return True
    if dst_area == "core":
        return True
    if src_area == "core":
        return dst_rel.endswith(".def") and dst_area == "drivers"
    return False


def check(root):
    problems = []
    edges = {}
    for top in ("src", "drivers"):
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith((".c", ".h", ".def")):
                    continue
                path = os.path.join(d, f)
                rel = os.path.relpath(path, root)
                text = open(path, encoding="utf-8", errors="replace").read()
                mod = module_of(rel)
                for m in INCLUDE.finditer(text):
                    lineno = text.count("\n", 0, m.start()) + 1
                    dst = resolve(root, path, m.group(1))
                    if dst is None:
                        problems.append("%s:%d: cannot find \"%s\"" % (rel, lineno, m.group(1)))
                        continue
                    sa, da = area_of(rel), area_of(dst)
                    if da is None:
                        problems.append("%s:%d: includes %s, outside src/ and drivers/"
                                        % (rel, lineno, dst))
                        continue
                    if not allowed(sa, dst, da):
                        problems.append("%s:%d: %s includes %s: %s may not call into %s"
                                        % (rel, lineno, sa, dst, sa, da))
                    if dst.endswith(".def"):
                        continue
                    dmod = module_of(dst)
                    if dmod != mod:
                        edges.setdefault(mod, set()).add(dmod)
    problems += ["include cycle: " + " -> ".join(c) for c in cycles(edges)]
    return problems


def cycles(edges):
    """Every strongly connected component of more than one module, as one cycle path each."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(path_in(sorted(comp), edges))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def path_in(comp, edges):
    """A cycle through comp[0] that stays inside comp (breadth-first back to the start)."""
    start, members = comp[0], set(comp)
    prev, queue = {start: None}, [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(edges.get(v, ())):
            if w == start:
                path = [v]
                while prev[path[-1]] is not None:
                    path.append(prev[path[-1]])
                return list(reversed(path)) + [start]
            if w in members and w not in prev:
                prev[w] = v
                queue.append(w)
    return comp


def self_test():
    tree = {
        "src/core/log.c": '#include "log.h"\n#include "util.h"\n',
        "src/core/log.h": "",
        "src/core/util.c": '#include "util.h"\n#include "log.h"\n',
        "src/core/util.h": "",
        "src/alarm/alarm.c": '#include "core/log.h"\n#include "history/rrd.h"\n',
        "src/history/rrd.h": '#include "core/util.h"\n',
        "src/main.c": '#include "alarm/alarm.h"\n#include "history/rrd.h"\n',
        "src/alarm/alarm.h": "",
        "drivers/x.c": '#include "core/log.h"\n',
    }
    with tempfile.TemporaryDirectory() as root:
        for rel, text in tree.items():
            os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
            open(os.path.join(root, rel), "w").write(text)
        got = check(root)
    want_cycle = [p for p in got if p.startswith("include cycle: src/core/log")]
    want_cross = [p for p in got if p.startswith("src/alarm/alarm.c:2: alarm includes")]
    if len(got) != 2 or not want_cycle or not want_cross:
        print("check_includes self-test FAILED, got:\n  " + "\n  ".join(got))
        return 1
    print("check_includes self-test: a cycle and a cross-subsystem include are both caught")
    return 0


def main():
    if sys.argv[1:] == ["--self-test"]:
        sys.exit(self_test())
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    problems = check(root)
    waivers_path = os.path.join(root, "tests", "tools", "include-waivers.txt")
    waivers = []
    if os.path.exists(waivers_path):
        waivers = [l.strip() for l in open(waivers_path)
                   if l.strip() and not l.lstrip().startswith("#")]
    for w in waivers:
        hit = [p for p in problems if re.sub(r"^([^:]+):\d+:", r"\1:", p) == w]
        if hit:
            problems.remove(hit[0])
            print("waived (still to fix): " + hit[0])
        else:
            problems.append("%s: waiver matches no problem, remove it: %s" % (waivers_path, w))
    for p in problems:
        print(p)
    print("check_includes: %d problem%s" % (len(problems), "" if len(problems) == 1 else "s"))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
