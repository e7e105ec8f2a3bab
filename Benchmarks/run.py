#!/usr/bin/env python3
"""Side-by-side benchmarks: certstore against the peers in ../shared/bench on the same corpora.

usage: Benchmarks/run.py [--sizes 100,1000,10000] [--big 100000] [--work DIR] [--out FILE]
                         [--sections inventory,import,audit,big,scale] [--baseline OLD_CERTSTORE] [--timeout S]

Builds certstore in release mode, generates each corpus once with gen_corpus.py (kept in --work), imports
it, and times: inventory (list --format json, first run without the index and warm runs with it) against
peer_inventory.py (pyca/cryptography); bulk import against peer_openssl_loop.sh (openssl CLI); `show` and
importing one more certificate on a small and a big store; audit; peak memory of list. Prints a markdown
report (also written to --out). Timings are medians of repeated runs on this machine; nothing is asserted.

The scale section (issue 13) runs at the largest of --sizes and at --big: import in one call (certificates/s,
peak memory), then on that store (the corpus CA in Root, two send connectors: one naming a keyless
certificate by TLSCertificateName, one by FQDN) `list`, `list --view exchange`, `check` (each cold: no
.cache, and warm) and `prune --keyless --dry-run`, with wall time and peak memory from /usr/bin/time. With
--baseline, the same operations run with that binary too (the "before" column), on the same store.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
shared = os.path.join(os.path.dirname(repo), "shared", "bench")
binary = os.path.join(repo, ".build", "release", "certstore")


def run(cmd, ok=(0,), **kw):
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, **kw)
    if r.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {r.returncode}")
    return r


def timed(cmd, repeat=1, setup=None, ok=(0,), **kw):
    times = []
    for _ in range(repeat):
        if setup:
            setup()
        start = time.perf_counter()
        run(cmd, ok=ok, **kw)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_kb(cmd):
    return time_and_peak_kb(cmd)[1]


def time_and_peak_kb(cmd):
    """Wall time (s) and peak resident memory (KiB) of one run, as /usr/bin/time reports them."""
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, check=True)
    seconds, kb = r.stderr.strip().splitlines()[-1].split()
    return float(seconds), int(kb)


def measure(cmd, timeout=None, ok=(0,)):
    """(wall seconds, peak KiB, CPU seconds: user + system) of one run via /usr/bin/time; (None, None, None) when
    it ran past `timeout` (then its whole process group is stopped, so nothing keeps running behind the next
    measurement). CPU time is the steadier figure on a shared machine: wall time grows with the load."""
    p = subprocess.Popen(["/usr/bin/time", "-f", "%e %M %U %S"] + cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, start_new_session=True)
    try:
        _, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, 9)
        p.communicate()
        return None, None, None
    if p.returncode not in ok:
        raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}: {err.strip()[-500:]}")
    seconds, kb, user, system = err.strip().splitlines()[-1].split()
    return float(seconds), int(kb), float(user) + float(system)


def thumbprint_of(pem):
    out = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha1"], capture_output=True, text=True, check=True).stdout
    return out.strip().split("=")[1].replace(":", "")


def scale_store(work, n, c):
    """Corpus n imported in one call (timed), the corpus CA imported into Root, two send connectors. Kept in --work."""
    root = os.path.join(work, f"scale-{n}")
    marker = os.path.join(root, "import-measured")
    if not os.path.exists(marker):
        shutil.rmtree(root, ignore_errors=True)
        t, kb, cpu = measure([binary, "import", "--root", root, os.path.join(c, "certs"), os.path.join(c, "keys")])
        run([binary, "import", "--root", root, "--store", "LocalMachine/Root", os.path.join(c, "ca.pem")])
        # Certificate 1 is keyless (every second one has a key), certificate 2 has one.
        run([binary, "connector", "add", "Bench keyless", "--root", root, "--from-certificate", thumbprint_of(os.path.join(c, "certs", "00001.pem"))])
        run([binary, "connector", "add", "Bench fqdn", "--root", root, "--fqdn", "host00002.bench.example"])
        with open(marker, "w") as f:
            f.write(f"{t} {kb} {cpu}\n")
    with open(marker) as f:
        fields = f.read().split()
    return root, float(fields[0]), int(fields[1]), float(fields[2]) if len(fields) > 2 else None


def drop_cache(root):
    shutil.rmtree(os.path.join(root, "LocalMachine", ".cache"), ignore_errors=True)


def scale_operations(exe, root, repeat, timeout, prune_timeout=None, skip_prune=False):
    """name -> (seconds, peak KiB) for one binary on one store; warm figures are medians of `repeat` runs.
    (None, None): ran past its timeout; missing: not run."""
    results = {}

    def cold(name, cmd, ok=(0,)):
        drop_cache(root)
        results[name] = measure(cmd, timeout=timeout, ok=ok)

    def warm(name, cmd, ok=(0,)):
        # Always right after the cold run (or a listing) that filled the cache.
        runs = [measure(cmd, timeout=timeout, ok=ok) for _ in range(repeat)]
        if any(r[0] is None for r in runs):
            results[name] = (None, None, None)
        else:
            results[name] = (statistics.median(r[0] for r in runs), max(r[1] for r in runs), statistics.median(r[2] for r in runs))

    base = ["--root", root]
    cold("list, cold", [exe, "list"] + base)
    warm("list, warm", [exe, "list"] + base)
    cold("list --view exchange, cold", [exe, "list", "--view", "exchange"] + base)
    warm("list --view exchange, warm", [exe, "list", "--view", "exchange"] + base)
    # The corpus holds keyless certificates no binding uses and keys of expired certificates: check may warn.
    cold("check, cold", [exe, "check"] + base, ok=(0, 1, 2))
    run([exe, "list"] + base)  # check never writes the index
    warm("check, warm", [exe, "check"] + base, ok=(0, 1, 2))
    run([exe, "list"] + base)
    if not skip_prune:
        results["prune --keyless --dry-run"] = measure([exe, "prune", "--keyless", "--dry-run"] + base, timeout=prune_timeout or timeout)
    return results


def corpus(work, n):
    path = os.path.join(work, f"corpus-{n}")
    if not os.path.exists(os.path.join(path, "done")):
        shutil.rmtree(path, ignore_errors=True)
        run([sys.executable, os.path.join(shared, "gen_corpus.py"), path, str(n)])
        open(os.path.join(path, "done"), "w").close()
    return path


def store_for(work, n, c):
    """A store holding corpus c (certificates and keys), imported once and reused."""
    root = os.path.join(work, f"store-{n}")
    if not os.path.exists(os.path.join(root, "done")):
        shutil.rmtree(root, ignore_errors=True)
        run([binary, "import", "--root", root, os.path.join(c, "certs"), os.path.join(c, "keys")])
        open(os.path.join(root, "done"), "w").close()
    return root


def drop_index(root):
    shutil.rmtree(os.path.join(root, "LocalMachine", ".cache"), ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100,1000,10000")
    ap.add_argument("--big", type=int, default=0, help="also measure lookup/import/memory at this size (e.g. 100000)")
    ap.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "certstore-bench"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--sections", default="inventory,import,audit,big,scale")
    ap.add_argument("--baseline", default=None, help="another certstore binary: the scale section's 'before' column")
    ap.add_argument("--timeout", type=float, default=900, help="seconds before a scale measurement is given up")
    args = ap.parse_args()
    sections = set(args.sections.split(","))
    os.makedirs(args.work, exist_ok=True)
    run(["swift", "build", "-c", "release", "--product", "certstore"], cwd=repo)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    lines = [f"certstore benchmarks — {time.strftime('%Y-%m-%d %H:%M')} — {os.cpu_count()} cores — "
             + subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.strip(), ""]

    if "inventory" in sections:
        lines += ["## Inventory: `list --format json` against peer_inventory.py (pyca/cryptography)", "",
                  "| certificates | peer | certstore first run (no index) | ratio | certstore warm, all 28 properties | ratio | certstore warm, the peer's 5 fields | ratio | table, warm |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        inventory = {}
        for n in sizes:
            c = corpus(args.work, n)
            root = store_for(args.work, n, c)
            peer = timed([sys.executable, os.path.join(shared, "peer_inventory.py"), c], repeat=max(1, args.repeat // 2))
            cold = timed([binary, "list", "--root", root, "--format", "json"], repeat=3, setup=lambda: drop_index(root))
            run([binary, "list", "--root", root])  # writes the index
            warm = timed([binary, "list", "--root", root, "--format", "json"], repeat=args.repeat)
            warm5 = timed([binary, "list", "--root", root, "--format", "json", "--property", "thumbprint,subject,issuer,notafter,hasprivatekey"], repeat=args.repeat)
            table = timed([binary, "list", "--root", root], repeat=args.repeat)
            inventory[n] = (peer, cold, warm, warm5, table)
            lines.append(f"| {n:,} | {peer:.2f} s | {cold:.2f} s | {peer / cold:.1f}× | {warm:.3f} s | {peer / warm:.1f}× | {warm5:.3f} s | {peer / warm5:.1f}× | {table:.3f} s |")

    if "import" in sections:
        lines += ["", "## Bulk import against peer_openssl_loop.sh (openssl CLI, one process per question)", "",
                  "| certificates (+ keys) | certstore import (one call) | certificates/s | peer loop on the first 200 | certificates/s |",
                  "|---:|---:|---:|---:|---:|"]
        for n in sizes:
            c = corpus(args.work, n)
            root = os.path.join(args.work, f"import-{n}")
            t = timed([binary, "import", "--root", root, os.path.join(c, "certs"), os.path.join(c, "keys")],
                      setup=lambda: shutil.rmtree(root, ignore_errors=True))
            limit = min(n, 200)
            peer = timed(["bash", os.path.join(shared, "peer_openssl_loop.sh"), c, str(limit)])
            lines.append(f"| {n:,} (+{n // 2:,}) | {t:.2f} s | {n / t:,.0f} | {peer:.2f} s | {limit / peer:,.0f} |")
            shutil.rmtree(root, ignore_errors=True)

    if "audit" in sections:
        lines += ["", "## audit (all stores, bindings, connectors, key files)", "", "| certificates | audit |", "|---:|---:|"]
        for n in sizes:
            root = store_for(args.work, n, corpus(args.work, n))
            # The corpus stores hold keyless certificates nothing uses: audit answers WARNING (1) there.
            t = timed([binary, "audit", "--root", root], repeat=3, ok=(0, 1, 2))
            lines.append(f"| {n:,} | {t:.2f} s |")

    if args.big and "big" in sections:
        small_n, big_n = min(sizes), args.big
        small = store_for(args.work, small_n, corpus(args.work, small_n))
        bigc = corpus(args.work, big_n)
        big = store_for(args.work, big_n, bigc)
        run([binary, "list", "--root", big])
        thumb_small = subprocess.run([binary, "list", "--root", small, "--property", "thumbprint", "--format", "csv"], capture_output=True, text=True).stdout.splitlines()[1]
        thumb_big = subprocess.run([binary, "list", "--root", big, "--property", "thumbprint", "--format", "csv"], capture_output=True, text=True).stdout.splitlines()[1]
        show_small = timed([binary, "show", thumb_small, "--root", small], repeat=21)
        show_big = timed([binary, "show", thumb_big, "--root", big], repeat=21)
        extra = os.path.join(args.work, "extra")
        if not os.path.exists(os.path.join(extra, "done")):
            run([sys.executable, os.path.join(shared, "gen_corpus.py"), extra, "2"])
            open(os.path.join(extra, "done"), "w").close()
        one = [os.path.join(extra, "certs", "00000.pem"), os.path.join(extra, "keys", "00000.key")]
        empty = os.path.join(args.work, "empty")
        imp_empty = timed([binary, "import", "--root", empty] + one, repeat=5, setup=lambda: shutil.rmtree(empty, ignore_errors=True))

        def remove_extra():
            subprocess.run([binary, "remove", "--root", big, "--delete-key", "--force",
                            subprocess.run(["openssl", "x509", "-in", one[0], "-noout", "-fingerprint", "-sha1"], capture_output=True, text=True)
                            .stdout.strip().split("=")[1].replace(":", "")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run([binary, "trash", "empty", "--all", "--root", big], stdout=subprocess.DEVNULL)
        imp_big = timed([binary, "import", "--root", big] + one, repeat=5, setup=remove_extra)
        remove_extra()
        mem_table = peak_kb([binary, "list", "--root", big])
        mem_json = peak_kb([binary, "list", "--root", big, "--format", "json"])
        drop_index(big)
        cold_big, mem_cold_big = time_and_peak_kb([binary, "list", "--root", big, "--format", "json"])
        lines += ["", f"## Scale: {small_n:,} against {big_n:,} certificates", "",
                  "| measure | small store | big store | big / small |", "|---|---:|---:|---:|",
                  f"| `show THUMBPRINT` (median of 21) | {show_small * 1000:.1f} ms | {show_big * 1000:.1f} ms | {show_big / show_small:.2f} |",
                  f"| import one more certificate + key (median of 5) | {imp_empty * 1000:.1f} ms (empty store) | {imp_big * 1000:.1f} ms | {imp_big / imp_empty:.2f} |",
                  f"| peak memory of `list`, warm (table / json) | | {mem_table / 1024:.0f} MiB / {mem_json / 1024:.0f} MiB | |",
                  f"| `list --format json`, first run (no index): time, peak memory | | {cold_big:.1f} s, {mem_cold_big / 1024:.0f} MiB | |"]
    if "scale" in sections:
        scale_sizes = sorted({max(sizes)} | ({args.big} if args.big else set()))
        lines += ["", "## Scale (issue 13): one store per size, the corpus CA in Root, two send connectors", "",
                  "Wall time and CPU time (user + system; warm: median of 3 at 10,000, one run above, right after the "
                  "run that filled the cache) and peak resident memory (/usr/bin/time). Cold: no `.cache`.", ""]
        header = "| operation | certificates | " + ("before: time, peak | " if args.baseline else "") + "time, peak |"
        lines += [header, "|---|---:|" + ("---:|" if args.baseline else "") + "---:|"]

        def cell(result, limit):
            if result is None:
                return "not run (stopped at a smaller size)"
            t, kb, cpu = result
            return f"> {limit:.0f} s (stopped)" if t is None else f"{t:.2f} s ({cpu:.2f} s CPU), {kb / 1024:.0f} MiB"

        baseline_prune_stopped = False
        for n in scale_sizes:
            c = corpus(args.work, n)
            root, t, kb, cpu = scale_store(args.work, n, c)
            repeat = 3 if n <= 10000 else 1
            # The quadratic prune of older builds ran for over 10 minutes at 10,000: given 4 at most, and not
            # run again at a bigger size once it was stopped.
            before = scale_operations(args.baseline, root, repeat, args.timeout, prune_timeout=min(args.timeout, 240),
                                      skip_prune=baseline_prune_stopped) if args.baseline else {}
            if before.get("prune --keyless --dry-run", (0, 0))[0] is None:
                baseline_prune_stopped = True
            after = scale_operations(binary, root, repeat, args.timeout)
            lines.append(f"| import, one call ({n / t:,.0f} certificates/s) | {n:,} (+{n // 2:,} keys) | "
                         + ("| " if args.baseline else "") + f"{t:.1f} s" + (f" ({cpu:.1f} s CPU)" if cpu else "") + f", {kb / 1024:.0f} MiB |")
            for name in after:
                limit = min(args.timeout, 240) if name.startswith("prune") else args.timeout
                lines.append(f"| `{name}` | {n:,} | " + (f"{cell(before.get(name), limit)} | " if args.baseline else "") + f"{cell(after[name], args.timeout)} |")
            print("\n".join(lines[-(len(after) + 1):]), flush=True)

    report = "\n".join(lines) + "\n"
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    main()
