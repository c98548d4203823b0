"""Prints the comparison table of scripts/compare/run.sh from its result files.

Usage: python3 table.py ORDERS CLIENTS RESULT.json... (missing files are skipped)."""
import json
import os
import sys

n, clients = int(sys.argv[1]), sys.argv[2]
rows = [json.load(open(p)) for p in sys.argv[3:] if os.path.exists(p)]


def per_order(kib):
    return "%.1f KB" % ((kib[1] - kib[0]) * 1024 / n / 1000)


print("| %s realistic orders, one run | writes/s (%s clients) | catch-up → empty replica "
      "| bytes on the wire per order | disk per order, sender / receiver "
      "| peak resident memory, sender / receiver |" % (format(n, ","), clients))
print("|---|---|---|---|---|---|")
for r in rows:
    w = r["wire"]
    print("| %s | %d (p99 %.0f ms) | %.2f s | %.0f B | %s / %s | %d / %d MiB |" % (
        r["name"], r["writes"]["per_second"], r["writes"]["p99_ms"], r["catchup_s"],
        (w["up"] + w["down"]) / n, per_order(r["sender_kib"]), per_order(r["receiver_kib"]),
        r["sender_hwm_mib"], r["receiver_hwm_mib"]))
print("| Issue 12 targets (Switchboard) | ≥ 2× the disk's fsync rate (64 clients) | < 3 s "
      "(10,000 orders) | ≤ 281 B | ≤ 2 KB / ≤ 2 KB | HQ < 300 MiB (100,000 orders) |")
print()
for r in rows:
    w = r["wire"]
    line = ("- %s: %d writes in %.1f s (p50 %s ms), %.0f orders/s; catch-up CPU (user+sys) "
            "receiver %.2f s, sender %.2f s; on the wire %d B to the answering server and %d B "
            "back over %d new connection(s)" % (
                r["name"], r["writes"].get("count", r["writes"].get("writes", 0)),
                r["writes"]["seconds"], r["writes"]["p50_ms"],
                r["writes"].get("orders_per_second", r["writes"]["per_second"] / 9),
                r["receiver_cpu_s"], r["sender_cpu_s"], w["up"], w["down"], w["connections"]))
    if "fsync" in r:
        line += ("; the disk's own fsync rate in the same run (write 128 B + fdatasync, one at "
                 "a time): %.0f/s" % r["fsync"]["per_second"])
    if "session" in r:
        s = r["session"]
        line += "; HQ's own count: %d B out, %d B in (frame bodies), %d documents received" % (
            s["bytes_out"], s["bytes_in"], s["received_docs"])
        if s.get("sessions", 1) > 1:
            line += (" in %d sessions (each cut at the node's 50 s session limit went on in the "
                     "next)" % s["sessions"])
    if "replication" in r:
        line += "; docs_written %s" % r["replication"].get("docs_written", "?")
    if "doc_bytes" in r["writes"]:
        line += "; mean document JSON %d B" % r["writes"]["doc_bytes"]
    print(line + ".")
