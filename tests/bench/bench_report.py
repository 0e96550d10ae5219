#!/usr/bin/env python3
"""The report of `make bench` (tests/bench/bench.sh): medians, ratios, the issue-10 targets.

    bench_report.py RESULTS META OUT_DIR

RESULTS: lines "round<TAB>system<TAB>metric<TAB>value" (value "n/a" when a run failed);
META: lines "key<TAB>value" (machine, versions, parameters).  Prints the table, the ratios and
each target as "met" / "not met"; writes OUT_DIR/performance.md and, with gnuplot,
OUT_DIR/performance.png (throughput and CPU per GB per system).  Exit status 0 whatever the
numbers say; 1 only on unreadable input.
"""
import os
import subprocess
import sys

# Display order and labels; "peers" are the other tunnels the targets compare against.
ORDER = ["veth", "tunneld", "baseline", "wireguard-go", "tinc", "nebula", "openvpn"]
PEERS = ["wireguard-go", "tinc", "nebula", "openvpn"]
LABEL = {
    "veth": "bare veth (the limit)",
    "tunneld": "tunneld (this build)",
    "baseline": "tunneld (baseline)",
    "wireguard-go": "wireguard-go",
    "tinc": "tinc (AES-256-CBC + HMAC-SHA256)",
    "nebula": "nebula (AES-256-GCM)",
    "openvpn": "openvpn (AES-256-GCM, no DCO)",
}
# metric -> (column heading, format, larger is better)
COLS = [
    ("tcp1", "TCP 1 stream Gbit/s", "%.2f", True),
    ("tcp4", "TCP 4 streams Gbit/s", "%.2f", True),
    ("udp_pps", "UDP 64 B delivered pkt/s", "%.0f", True),
    ("udp_loss", "UDP loss %", "%.1f", False),
    ("ping_idle", "ping avg idle ms", "%.3f", False),
    ("ping_load", "ping avg under load ms", "%.3f", False),
    ("cpu_gb", "daemon CPU s per GB", "%.1f", False),
    ("rss", "RSS MiB", "%.1f", False),
]
ROUND_COLS = COLS + [("threads4", "tcp4 busy threads", "%.0f", True),
                     ("cores4", "tcp4 cores", "%.2f", True)]


def median(values):
    """The median of the numbers among VALUES (the lower one of an even count), None if none."""
    v = sorted(x for x in values if x is not None)
    return v[(len(v) - 1) // 2] if v else None


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def fmt(fmt_, v):
    return "—" if v is None else fmt_ % v


def load(results, meta):
    rounds = {}  # (system, metric) -> [values by round]
    with open(results) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            _, system, metric, value = parts
            rounds.setdefault((system, metric), []).append(num(value))
    info = {}
    with open(meta) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("\t")
            info[k] = v
    return rounds, info


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    rounds, info = load(sys.argv[1], sys.argv[2])
    out_dir = sys.argv[3]
    systems = [s for s in ORDER if s in info.get("systems", "").split()]
    med = {(s, m): median(rounds.get((s, m), [])) for s in systems for m, *_ in ROUND_COLS}

    def label(s):
        v = info.get("version:" + s, "")
        return "%s — %s" % (LABEL[s], v) if v else LABEL[s]

    lines = []  # markdown, also printed
    lines.append("| system | " + " | ".join(c[1] for c in COLS) + " |")
    lines.append("|---" * (len(COLS) + 1) + "|")
    for s in systems:
        lines.append("| %s | %s |" % (label(s), " | ".join(fmt(f, med[(s, m)]) for m, _, f, _ in COLS)))
    table = lines

    # Ratios: tunneld against the veth, the best peer per column, and the baseline.
    peers = [s for s in PEERS if s in systems]
    best = {}
    for m, _, _, larger in COLS:
        vals = [(med[(s, m)], s) for s in peers if med[(s, m)] is not None]
        if vals:
            best[m] = (max if larger else min)(vals)
    ratio_lines = ["| column | tunneld | ÷ bare veth | best peer | ÷ best peer |" +
                   (" baseline | ÷ baseline |" if "baseline" in systems else ""),
                   "|---|---|---|---|---|" + ("---|---|" if "baseline" in systems else "")]
    have_tunneld = "tunneld" in systems
    for m, head, f, _ in COLS:
        t = med.get(("tunneld", m))
        v = med.get(("veth", m))
        bp = best.get(m)
        row = "| %s | %s | %s | %s | %s |" % (
            head, fmt(f, t), fmt("%.2f", ratio(t, v)),
            "—" if bp is None else "%s %s" % (fmt(f, bp[0]), bp[1]),
            fmt("%.2f", ratio(t, bp[0] if bp else None)))
        if "baseline" in systems:
            b = med.get(("baseline", m))
            row += " %s | %s |" % (fmt(f, b), fmt("%.2f", ratio(t, b)))
        ratio_lines.append(row)

    # The targets.
    def met(ok):
        return "—" if ok is None else ("met" if ok else "not met")

    def both(*oks):
        return None if any(o is None for o in oks) else all(oks)

    def t(m):
        return med.get(("tunneld", m))

    def b(m):
        return best[m][0] if m in best else None

    def ge(a, bnd):
        return None if a is None or bnd is None else a >= bnd

    def le(a, bnd):
        return None if a is None or bnd is None else a <= bnd

    veth = {m: med.get(("veth", m)) for m, *_ in COLS}
    best_pps_peer = best["udp_pps"][1] if "udp_pps" in best else None
    loss_of_best = med.get((best_pps_peer, "udp_loss")) if best_pps_peer else None
    targets = []
    if have_tunneld:
        r1v, r1p = ratio(t("tcp1"), veth["tcp1"]), ratio(t("tcp1"), b("tcp1"))
        targets.append(("TCP single stream >= 30% of the bare veth and >= 5x the best peer",
                        "%s of veth, %sx best peer" % (fmt("%.0f%%", r1v and r1v * 100), fmt("%.2f", r1p)),
                        both(ge(r1v, 0.30), ge(r1p, 5.0))))
        r4v = ratio(t("tcp4"), veth["tcp4"])
        targets.append(("TCP 4 streams >= 30% of the bare veth; the second core is used",
                        "%s of veth; one daemon: %s busy threads, %s cores" % (
                            fmt("%.0f%%", r4v and r4v * 100), fmt("%.0f", t("threads4")), fmt("%.2f", t("cores4"))),
                        both(ge(r4v, 0.30), ge(t("threads4"), 2))))
        rp = ratio(t("udp_pps"), b("udp_pps"))
        targets.append(("UDP 64 B at a rate the veth sustains: pkt/s >= 2x the best peer's, no more loss",
                        "%sx %s; loss %s%% vs %s%%" % (fmt("%.2f", rp), best_pps_peer or "—",
                                                        fmt("%.1f", t("udp_loss")), fmt("%.1f", loss_of_best)),
                        both(ge(rp, 2.0), le(t("udp_loss"), loss_of_best))))
        targets.append(("ping average <= the best peer's, idle and under a bulk transfer",
                        "idle %s vs %s ms, loaded %s vs %s ms" % (
                            fmt("%.3f", t("ping_idle")), fmt("%.3f", b("ping_idle")),
                            fmt("%.3f", t("ping_load")), fmt("%.3f", b("ping_load"))),
                        both(le(t("ping_idle"), b("ping_idle")), le(t("ping_load"), b("ping_load")))))
        rc = ratio(t("cpu_gb"), b("cpu_gb"))
        targets.append(("CPU per GB (both daemons) <= 1/3 of the best peer's",
                        "%s s vs %s s (%s)" % (fmt("%.1f", t("cpu_gb")), fmt("%.1f", b("cpu_gb")), fmt("%.2f", rc)),
                        le(rc, 1 / 3)))
        targets.append(("RSS per daemon under load <= 8 MiB",
                        "%s MiB (the larger of the two)" % fmt("%.1f", t("rss")), le(t("rss"), 8.0)))
    target_lines = ["| target | measured | |", "|---|---|---|"]
    for what, seen, ok in targets:
        target_lines.append("| %s | %s | %s |" % (what, seen, met(ok)))
    target_lines.append("| handshakes >= 5,000/s on one core | in-process benchmark, not this table | — |")
    target_lines.append("| 10,000-node roster in `wg show` within 1 s, RSS < 64 MiB | `bench_roster.sh` (after this table) | — |")

    # Every round.
    n_rounds = int(info.get("rounds", "0") or 0)
    round_lines = ["| system | round | " + " | ".join(c[1] for c in ROUND_COLS) + " |",
                   "|---|---|" + "---|" * len(ROUND_COLS)]
    for s in systems:
        for r in range(n_rounds):
            vals = []
            for m, _, f, _ in ROUND_COLS:
                v = rounds.get((s, m), [])
                vals.append(fmt(f, v[r] if r < len(v) else None))
            round_lines.append("| %s | %d | %s |" % (s, r + 1, " | ".join(vals)))
    spread = []
    for s in systems:
        v = [x for x in rounds.get((s, "tcp1"), []) if x is not None]
        if len(v) > 1 and median(v):
            spread.append("%s %.0f%%" % (s, (max(v) - min(v)) / median(v) * 100))

    text = ["warren benchmark: %s CPU (%s), kernel %s, %s" % (info.get("nproc"), info.get("cpu"),
                                                            info.get("kernel"), info.get("date")),
            "medians of %s interleaved rounds" % info.get("rounds"), ""]
    text += table + [""] + ratio_lines + [""] + target_lines
    text += ["", "TCP 1 stream spread over the rounds, (max - min) / median: " + (", ".join(spread) or "—")]
    print("\n".join(text))

    png = chart(out_dir, systems, med)
    veth_loss = med.get(("veth", "udp_loss"))
    if veth_loss is not None:
        spread.append("the bare veth itself lost %.1f%% of the UDP packets at the offered rate "
                      "(median of the rounds)" % veth_loss)
    write_md(out_dir, info, table, ratio_lines, target_lines, round_lines, spread, png)
    print("\nwrote %s/performance.md%s" % (out_dir, " and performance.png" if png else " (no chart: gnuplot failed or missing)"))


def chart(out_dir, systems, med):
    """OUT_DIR/performance.png: Gbit/s (1 and 4 streams) and CPU s per GB per system."""
    data = os.path.join(out_dir, ".performance.dat")
    png = os.path.join(out_dir, "performance.png")
    with open(data, "w") as f:
        for s in systems:
            vals = [med[(s, m)] for m in ("tcp1", "tcp4", "cpu_gb")]
            f.write('"%s" %s\n' % (s, " ".join("NaN" if v is None else "%g" % v for v in vals)))
    script = """
set terminal pngcairo size 1400,560 font ",11" noenhanced
set output '%s'
set multiplot layout 1,2 title "warren bench: medians of interleaved rounds (docs/performance.md)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics
set xtics rotate by -30
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
set key top right
set title "TCP throughput through the tunnel, Gbit/s"
# bars of a 2-column cluster with gap 1 sit at x = row -/+ 1/6
plot '%s' using 2:xtic(1) title "1 stream", '' using 3 title "4 streams", \
     '' using ($0 - 1/6.):2:(sprintf("%%.2f", $2)) with labels offset 0,0.6 font ",8" notitle, \
     '' using ($0 + 1/6.):3:(sprintf("%%.2f", $3)) with labels offset 0,0.6 font ",8" notitle
set title "CPU of both daemons per GB carried, seconds (lower is better)"
plot '%s' using 4:xtic(1) title "CPU s / GB" lc rgb "#c0504d", \
     '' using 0:4:(sprintf("%%.1f", $4)) with labels offset 0,0.6 font ",8" notitle
unset multiplot
""" % (png, data, data)
    try:
        subprocess.run(["gnuplot"], input=script.encode(), check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except (OSError, subprocess.SubprocessError) as e:
        print("bench_report: gnuplot: %s" % e, file=sys.stderr)
        return None
    finally:
        os.unlink(data)
    return png


def write_md(out_dir, info, table, ratio_lines, target_lines, round_lines, spread, png):
    r, secs, udp_secs, pings = (info.get(k) for k in ("rounds", "secs", "udp_secs", "pings"))
    pps, plen = info.get("udp_pps"), info.get("udp_len")
    baseline = info.get("baseline") or ""
    md = []
    md.append("# Performance\n")
    md.append("Generated by `make bench` (`tests/bench/bench.sh`, `tests/bench/bench_report.py`) on %s. "
              "Every system ran in the same run on the same machine, each between two network namespaces "
              "joined by a direct veth; %s interleaved rounds (each round visits every system in turn); the "
              "tables give medians. Nothing here is a pass/fail test: the targets below are issue 10's, "
              "stated next to what was measured.\n" % (info.get("date"), r))
    if png:
        md.append("![TCP throughput and CPU per GB per system](performance.png)\n")
    md.append("## Results\n")
    md += table
    md.append("")
    md.append("Columns: iperf3 TCP for %s s with one stream and with `-P 4` (Gbit/s received); UDP with "
              "%s-byte payloads offered at %s packets/s for %s s (the highest rate the bare veth "
              "sustained with at most 1%% loss, found at the start of the run), packets per second delivered and loss; ping average "
              "rtt of %s pings at 10 ms, idle and during the single-stream transfer; utime + stime of both "
              "daemons (`/proc/PID/stat`) over the two TCP runs divided by the gigabytes (1e9 bytes) they "
              "delivered; the larger daemon's largest VmRSS sampled every 0.25 s during the TCP and UDP "
              "runs. Every overlay runs with MTU 1420.\n" % (secs, plen, pps, udp_secs, pings))
    md.append("## Ratios\n")
    md.append("tunneld's median divided by the bare veth's, by the best peer's in that column (peers: "
              "wireguard-go, tinc, nebula, openvpn; best = highest throughput or packet rate, lowest "
              "loss, latency, CPU, memory)%s.\n" % (
                  ", and by the baseline build's (before → after, same run)" if baseline else ""))
    md += ratio_lines
    md.append("")
    md.append("## Issue 10's targets\n")
    md += target_lines
    md.append("")
    md.append("\"The second core is used\": at least two threads of one tunneld each took at least 10% of a "
              "core during the 4-stream run. Loss is compared with the loss of the peer that delivered "
              "the most packets.\n")
    md.append("## Every round\n")
    md += round_lines
    md.append("")
    md.append("## Machine, versions, noise\n")
    md.append("- machine: %s CPU (`nproc`), %s, kernel %s, %s" % (
        info.get("nproc"), info.get("cpu"), info.get("kernel"), info.get("os")))
    md.append("- %s" % info.get("iperf3"))
    for s in ORDER:
        if "version:" + s in info:
            md.append("- %s: %s" % (s, info["version:" + s]))
    md.append("- tunneld and the baseline ran with their defaults (no options; "
              "`TUNNELD_CRYPTO_WORKERS` %s; crypto workers: tunneld(8), performance-design.md, "
              "Threads)" % info.get("tunneld_workers", "unset"))
    md.append("- load average (1, 5, 15 min) at the start %s, at the end %s; the measuring took %s s" % (
        info.get("load_start"), info.get("load_end"), info.get("duration_s")))
    md.append("- noise: this machine is a 2-core VM that other jobs may share (the load average "
              "above says how busy it was), so absolute figures move from run "
              "to run; interleaving the rounds spreads that noise over every system alike, and the ratios "
              "are steadier than the figures. TCP single-stream spread over the rounds, (max - min) / "
              "median: %s." % ("; ".join([", ".join(x for x in spread if "veth itself" not in x)] +
                                         [x for x in spread if "veth itself" in x]) or "—"))
    md.append("")
    md.append("## Reproduce\n")
    md.append("<!-- readme-test: skip (about 15 minutes as root; test_bench_smoke runs bench.sh at its smallest) -->")
    md.append("```sh")
    md.append("make deps     # iperf3, wireguard-go, tinc, nebula, openvpn, gnuplot-nox (Debian 12)")
    md.append("make bench%s  # as root; writes docs/performance.md and docs/performance.png" % (
        " BASELINE=" + baseline if baseline else ""))
    md.append("# the same, directly, with every parameter:")
    md.append("BUILD=build ROUNDS=%s SECS=%s UDP_SECS=%s PINGS=%s%s tests/bench/bench.sh" % (
        r, secs, udp_secs, pings, " BASELINE=" + baseline if baseline else ""))
    md.append("# a quick run without the roster, bastion and flood benchmarks:")
    md.append("ROUNDS=1 SECS=2 EXTRAS=0 OUT_DIR=/tmp/bench tests/bench/bench.sh")
    md.append("```\n")
    md.append("What each measurement runs, client namespace to server namespace (`ADDR` is the server's "
              "overlay address, its underlay address for the bare veth; the server is a fresh "
              "`iperf3 -s -1` each time):\n")
    md.append("<!-- readme-test: skip (what bench.sh runs inside the namespaces it makes) -->")
    md.append("```sh")
    md.append("ping -n -q -c %s -i 0.01 -W 1 ADDR                 # idle, then again during the next" % pings)
    md.append("iperf3 -c ADDR -t %s -J                             # TCP, 1 stream" % secs)
    md.append("iperf3 -c ADDR -t %s -J -P 4                        # TCP, 4 streams" % secs)
    md.append("iperf3 -c ADDR -t %s -J -u -l %s -b %s            # UDP, %s pkt/s offered" % (
        udp_secs, plen, int(pps or 0) * int(plen or 0) * 8, pps))
    md.append("```\n")
    md.append("The tunnels' configurations (ciphers, modes, keys) are in `tests/bench/bench_systems.sh`.")
    with open(os.path.join(out_dir, "performance.md"), "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
