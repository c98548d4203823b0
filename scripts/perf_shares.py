#!/usr/bin/env python3
"""Inclusive CPU shares of the node's parts in a perf profile (e.g. bench_node.sh's BENCH_PROFILE).

Usage: scripts/perf_shares.py PERF_DATA

Reads the profile's call stacks (`perf report -g folded`) and gives each sample to the innermost
frame of its stack that belongs to one of the parts below (an allocation made by automerge counts
for the allocator, automerge's own work under the writer for automerge); the shares add up to
100 % with "other".
"""
import re
import subprocess
import sys

PARTS = {
    "kernel: futex, scheduling": r"futex|schedule|sched_yield|finish_task_switch|try_to_wake_up",
    "kernel: other system calls": r"entry_SYSCALL|do_syscall|\[k\]",
    "allocator (mimalloc)": r"\bmi_|_mi_",
    "memory copies": r"memmove|memcpy|memcmp",
    "automerge: loading documents": r"Automerge::load|load_incremental|OpSet::load",
    "automerge: saving documents and increments": r"Automerge::save|save_nocompress|save_after",
    "automerge: writing the event, and the rest": r"automerge::|hexane::",
    "reading the order from its document": r"doc::order::read_order|rw::Rd",
    "sled": r"sled::",
    "read model and projection": r"read_model|project",
    "serde_json": r"serde_json::",
    "bincode": r"bincode::",
    "request validation": r"api::validate",
    "authentication": r"switchboard_node::auth",
    "tracing": r"tracing::|tracing_core|tracing_subscriber",
    "metrics": r"metrics::|metrics_exporter",
    "tokio runtime": r"tokio::",
    "HTTP (hyper, axum)": r"hyper::|axum::|http::",
    "the node's own code": r"switchboard_",
}

# Checked in this order on the whole stack of a sample that ends in automerge.
AUTOMERGE_CALLS = [
    "automerge: loading documents",
    "automerge: saving documents and increments",
    "reading the order from its document",
]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = subprocess.run(
        ["perf", "report", "-i", sys.argv[1], "--no-children", "--sort", "sym", "--stdio",
         "-g", "folded,0,caller,count"],
        check=True, capture_output=True, text=True).stdout
    stacks = []
    for line in out.splitlines():
        m = re.match(r"^\s*(\d+)\s+(\S.*)$", line)
        if m:
            stacks.append((int(m.group(1)), m.group(2)))
    total = sum(n for n, _ in stacks)
    if not total:
        sys.exit("no call stacks in the profile")
    shares = {name: 0 for name in PARTS}
    other = 0
    for n, stack in stacks:
        for frame in reversed(stack.split(";")):
            part = next((name for name, pat in PARTS.items() if re.search(pat, frame)), None)
            if part:
                # automerge's inner frames are alike: what it was doing shows further out.
                if part.startswith("automerge"):
                    part = next((name for name in AUTOMERGE_CALLS
                                 if re.search(PARTS[name], stack)), part)
                shares[part] += n
                break
        else:
            other += n
    print(f"{total} samples, each given to the innermost part on its stack")
    for name, n in sorted(shares.items(), key=lambda kv: -kv[1]) + [("other", other)]:
        print(f"{100 * n / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
