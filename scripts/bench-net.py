#!/usr/bin/env python3
"""Helpers of the socket and HTTP benchmark drivers (scripts/bench-tcp.sh, scripts/bench-http.sh).

  bench-net.py port [HOST]             print a TCP port that was free a moment ago (bound to 0)
  bench-net.py table RAW --cols SPEC --ratio KEY [--lower-is-better] [--title T]
                                       RAW has one line per run: ROUND<TAB>CONTENDER<TAB>k=v k=v...
                                       prints the runs, then per contender the median and the
                                       spread (min-max) of each column, then the ratios of every
                                       'sluice...' contender to every other one: the ratio of
                                       the medians and the spread of the per-round ratios
                                       SPEC: key:heading:format,...  e.g. mbps:MB/s:.0f
  bench-net.py idle HOST PORT PATH N [--parallel 256]
                                       open N connections, send one keep-alive GET on each, read
                                       each response, print 'ready OPEN FAILED', then keep them
                                       open, idle, until SIGTERM or SIGINT
"""
import asyncio
import signal
import socket
import statistics
import sys


def free_port(host="127.0.0.1"):
    s = socket.socket()
    s.bind((host, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def table(argv):
    import argparse
    ap = argparse.ArgumentParser(prog="bench-net.py table")
    ap.add_argument("raw")
    ap.add_argument("--cols", required=True)
    ap.add_argument("--ratio", required=True)
    ap.add_argument("--lower-is-better", action="store_true")
    ap.add_argument("--title", default="")
    a = ap.parse_args(argv)
    cols = [c.split(":") for c in a.cols.split(",")]
    runs = []  # (round, contender, {key: value})
    for line in open(a.raw):
        if not line.strip():
            continue
        rnd, who, rest = (line.rstrip("\n").split("\t") + [""])[:3]
        kv = {}
        for item in rest.split():
            k, _, v = item.partition("=")
            try:
                kv[k] = float(v)
            except ValueError:
                kv[k] = v
        runs.append((rnd, who, kv))
    if not runs:
        print("(no runs)")
        return
    contenders = list(dict.fromkeys(who for _, who, _ in runs))
    w = max(12, max(len(c) for c in contenders) + 2)

    def fmt(v, f):
        return format(v, f) if isinstance(v, float) else str(v)

    if a.title:
        print(f"== {a.title}")
    print("per run:")
    print(f"  {'round':<6}{'contender':<{w}}" + "".join(f" {h:>16}" for _, h, _ in cols))
    for rnd, who, kv in runs:
        print(f"  {rnd:<6}{who:<{w}}" + "".join(f" {fmt(kv.get(k, '-'), f):>16}" for k, _, f in cols))
    print("median (min-max) per contender:")
    print(f"  {'contender':<{w}}{'n':>3}" + "".join(f"{h:>26}" for _, h, _ in cols))
    med = {}
    for who in contenders:
        cells = []
        n = 0
        for k, _, f in cols:
            vals = sorted(kv[k] for _, c, kv in runs if c == who and isinstance(kv.get(k), float))
            n = max(n, len(vals))
            if not vals:  # a word (yes/NO): how often each
                words = [kv[k] for _, c, kv in runs if c == who and k in kv]
                n = max(n, len(words))
                counts = dict.fromkeys(words, 0)
                for x in words:
                    counts[x] += 1
                cells.append(" ".join(f"{x} {m}/{len(words)}" for x, m in counts.items()) or "-")
                continue
            m = statistics.median(vals)
            med[(who, k)] = m
            cells.append(f"{m:{f}} ({vals[0]:{f}}-{vals[-1]:{f}})")
        print(f"  {who:<{w}}{n:>3}" + "".join(f"{c:>26}" for c in cells))
    subjects = [c for c in contenders if c.startswith("sluice")]
    bases = [c for c in contenders if not c.startswith("sluice")]
    if not subjects:
        print("ratios sluice/baseline: none (sluice side not measured)")
        return
    better = "lower" if a.lower_is_better else "higher"
    print(f"ratios sluice/baseline of {a.ratio} ({better} is better for sluice when the ratio is "
          f"{'below' if a.lower_is_better else 'above'} 1): ratio of medians (per-round min-max)")
    for s in subjects:
        for b in bases:
            if (s, a.ratio) not in med or (b, a.ratio) not in med or med[(b, a.ratio)] == 0:
                print(f"  {s} / {b}: -")
                continue
            per = []
            by_round = {}
            for rnd, who, kv in runs:
                if isinstance(kv.get(a.ratio), float):
                    by_round.setdefault(rnd, {})[who] = kv[a.ratio]
            for r in by_round.values():
                if s in r and b in r and r[b]:
                    per.append(r[s] / r[b])
            per.sort()
            spread = f" ({per[0]:.2f}-{per[-1]:.2f})" if per else ""
            print(f"  {s} / {b}: {med[(s, a.ratio)] / med[(b, a.ratio)]:.2f}x{spread}")


async def idle(host, port, path, n, parallel):
    sem = asyncio.Semaphore(parallel)
    conns, failed = [], 0
    request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: keep-alive\r\n\r\n".encode()

    async def one():
        nonlocal failed
        async with sem:
            try:
                r, w = await asyncio.wait_for(asyncio.open_connection(host, port), 30)
                w.write(request)
                head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                if not head.startswith(b"HTTP/1.1 200"):
                    raise RuntimeError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
                await asyncio.wait_for(r.readexactly(length), 30)
                conns.append((r, w))
            except Exception as e:  # counted, the first one reported
                if failed == 0:
                    print(f"idle: first failure: {type(e).__name__}: {e}", file=sys.stderr)
                failed += 1

    await asyncio.gather(*(one() for _ in range(n)))
    print(f"ready {len(conns)} {failed}", flush=True)
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))
    await stop
    for _, w in conns:
        w.transport.abort()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "port":
        print(free_port(*args[:1]))
    elif cmd == "table":
        table(args)
    elif cmd == "idle":
        parallel = 256
        if "--parallel" in args:
            i = args.index("--parallel")
            parallel = int(args[i + 1])
            del args[i:i + 2]
        host, port, path, n = args
        asyncio.run(idle(host, int(port), path, int(n), parallel))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
