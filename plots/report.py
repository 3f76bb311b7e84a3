#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""report.py: render the papers' figures from one results folder and write
the report (make figures; plots/figures.sh calls it).

    python3 plots/report.py RESULTS_DIR [MORE_DIR...] [--only KEY,...]

Reads RESULTS_DIR/results.json (results/SCHEMA.md), renders every figure
whose data is present into RESULTS_DIR/figures/ (PNG and SVG, with the .dat
data and .gp scripts under figures/data and figures/gp), and writes
RESULTS_DIR/report.md and a self-contained RESULTS_DIR/report.html (figures
embedded as data URIs). MORE_DIRs add their runs (for folders that
`allocscope merge` refused to merge, e.g. after a commit between configs);
the report names them and uses RESULTS_DIR's context. A figure whose data is absent is skipped with the
reason in the report. Exit 0 on success (skips included), 2 on bad input, 1
if gnuplot failed on a figure that had data."""

import base64
import html
import json
import os
import sys

sys.dont_write_bytecode = True  # keep plots/ free of __pycache__
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fig_frame  # noqa: E402
import fig_object  # noqa: E402
from figlib import Results  # noqa: E402

SECTIONS = fig_frame.SECTIONS + fig_object.SECTIONS


def log(msg):
    print("report: " + msg, file=sys.stderr, flush=True)


def md_table(header, rows):
    def cell(x):
        return str(x).replace("|", "\\|").replace("\n", " ")
    out = ["| " + " | ".join(cell(h) for h in header) + " |",
           "|" + "---|" * len(header)]
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(out)


CLAIM_HDR = ["claim", "source", "the claim, as its source states it", "claimed",
             "measured here", "ratio", "why it may differ"]


def claim_rows(sec):
    return [[c["id"], c["tag"], c["claim"], c["claimed"], c["measured"], c["ratio"], c["why"]]
            for c in sec["claims"]]


def commands(R, rdir):
    """The allocscope command lines behind the results: the parts of a
    merge (kept in parts/ by figures.sh) or the run itself."""
    out = []
    pdir = os.path.join(rdir, "parts")
    if R.ctx.get("merged_from") and os.path.isdir(pdir):
        for name in sorted(os.listdir(pdir)):
            try:
                with open(os.path.join(pdir, name, "results.json")) as f:
                    ctx = json.load(f).get("context", {})
                out.append((ctx.get("command"), ctx.get("date")))
            except (OSError, ValueError):
                continue
    if not out:
        out = [(R.ctx.get("command"), R.ctx.get("date"))]
        out += [(ctx.get("command"), "%s, commit %s" % (ctx.get("date"), ctx.get("commit")))
                for _, ctx in R.more]
    return out


def load_note(rdir, R):
    """Load average around the runs (figures.sh writes figures-load.txt)."""
    try:
        with open(os.path.join(rdir, "figures-load.txt")) as f:
            kv = dict(l.rstrip("\n").split(" ", 1) for l in f if " " in l)
    except OSError:
        return ""
    return ("Load average (1, 5, 15 min) when the runs started: %s; when they ended: %s; "
            "runs took %s s on %s cores. A load above the core count means other work "
            "shared the CPUs and the timings are noisier." % (
                kv.get("start"), kv.get("end"), kv.get("seconds"), R.ctx.get("cores")))


def skip_lines(secs):
    """Whole sections skipped and the figures or panels they left out."""
    out = []
    for s in secs:
        if s["skip"]:
            out.append("%s: %s" % (s["title"], s["skip"]))
        out += ["%s: %s" % (s["title"], n) for n in s["notes"] if n.startswith("skipped")]
        out += ["%s: figure %s failed to render" % (s["title"], n) for n, _ in s.get("failed", [])]
    return out


def summary_rows(secs):
    return [[c["id"], c["tag"], c["claimed"], c["measured"], c["ratio"], s["title"]]
            for s in secs for c in s["claims"]]


def write_md(path, R, secs, produced, skipped):
    c = R.ctx
    L = ["# allocscope: the papers' figures re-measured", ""]
    L.append("Commit %s%s. Runs:" % (c.get("commit"), ", dirty" if c.get("dirty") else ""))
    L.append("")
    for cmd, date in commands(R, os.path.dirname(path)):
        L.append("- `%s` (%s)" % (cmd, date))
    L.append("")
    L.append("Machine: %s." % R.machine())
    L.append("")
    load = load_note(os.path.dirname(path), R)
    if load:
        L.append(load)
        L.append("")
    if R.more:
        L.append("These runs come from %d folders that `allocscope merge` refused to merge "
                 "(their contexts differ, e.g. the tree was committed to between two "
                 "configs); the report reads them side by side: %s." % (
                     len(R.more) + 1, ", ".join("`%s`" % os.path.dirname(p) for p, _ in R.more)))
        L.append("")
    L.append("Compiler: %s. Runs: %d (%d ok)." % (
        c.get("compiler"), len(R.runs), sum(1 for r in R.runs if r.get("status") == "ok")))
    L.append("")
    L.append("Claims are quoted from `shared/reference/claims.md` with their source tags: "
             "[V] checked against the paper's own data or abstract, [U] commonly quoted but "
             "not confirmed, [none] no public source at all (an unsourced claim, tested here "
             "as a hypothesis, never a fact). Measured values are medians over the "
             "repetitions of this run; error bars in the figures span min..max. Timings on a "
             "small shared VM are noisy (other processes compete for the same cores): read "
             "the spread before the medians.")
    L.append("")
    L.append("Figures produced: %d (%s)." % (len(produced), ", ".join(produced) or "none"))
    L.append("")
    skips = skip_lines(secs)
    if skips:
        L.append("Skipped (details in each section):")
        L.append("")
        L += ["- " + x for x in skips]
        L.append("")
    L.append("## Summary: every claim beside its measurement")
    L.append("")
    L.append(md_table(["claim", "source", "claimed", "measured here", "ratio", "section"],
                      summary_rows(secs)))
    L.append("")
    for s in secs:
        L.append("## %s" % s["title"])
        L.append("")
        L.append(s["what"])
        L.append("")
        if s["skip"]:
            L.append("**Skipped:** %s" % s["skip"])
            L.append("")
        for name in s.get("rendered", []):
            L.append("![%s](figures/%s.png)" % (name, name))
            L.append("")
            L.append("Figure `%s` (figures/%s.png, .svg; data figures/data/%s.p*.dat)" % (
                name, name, name))
            L.append("")
        for name, why in s.get("failed", []):
            L.append("**Figure `%s` failed:** %s" % (name, why))
            L.append("")
        for header, rows in s["tables"]:
            L.append(md_table(header, rows))
            L.append("")
        if s["claims"]:
            L.append(md_table(CLAIM_HDR, claim_rows(s)))
            L.append("")
        for n in s["notes"]:
            L.append("- " + n)
        if s["notes"]:
            L.append("")
    fails = R.failures()
    if fails:
        L.append("## Runs that did not finish ok")
        L.append("")
        L += ["- " + f for f in fails[:60]]
        if len(fails) > 60:
            L.append("- ... and %d more" % (len(fails) - 60))
        L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def write_html(path, R, secs, figdir):
    c = R.ctx
    H = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
         "<title>allocscope figures</title><style>",
         "body{font-family:sans-serif;max-width:1300px;margin:2em auto;padding:0 1em;color:#222}",
         "table{border-collapse:collapse;margin:1em 0;font-size:90%}",
         "td,th{border:1px solid #bbb;padding:4px 8px;vertical-align:top;text-align:left}",
         "th{background:#eee}img{max-width:100%;border:1px solid #ddd}",
         ".skip{background:#fff4e0;padding:.5em;border-left:4px solid #e69500}",
         "</style></head><body>",
         "<h1>allocscope: the papers' figures re-measured</h1>",
         "<p>Commit %s%s. Runs:</p><ul>%s</ul>" % (
             html.escape(str(c.get("commit"))), ", dirty" if c.get("dirty") else "",
             "".join("<li><code>%s</code> (%s)</li>" % (html.escape(str(cmd)), html.escape(str(d)))
                     for cmd, d in commands(R, os.path.dirname(path)))),
         "<p>Machine: %s.</p>" % html.escape(R.machine()),
         "<p>%s</p>" % html.escape(load_note(os.path.dirname(path), R)),
         "<p>Claims are quoted from <code>shared/reference/claims.md</code> with their source "
         "tags: [V] checked against the paper's data or abstract, [U] commonly quoted but not "
         "confirmed, [none] no public source (an unsourced claim, tested as a hypothesis, "
         "never a fact). Measured values are medians over repetitions; error bars span "
         "min..max.</p>"]

    def table(header, rows):
        t = ["<table><tr>" + "".join("<th>%s</th>" % html.escape(str(h)) for h in header) + "</tr>"]
        for r in rows:
            t.append("<tr>" + "".join("<td>%s</td>" % html.escape(str(x)) for x in r) + "</tr>")
        return "".join(t) + "</table>"

    if skip_lines(secs):
        H.append("<p>Skipped (details in each section):</p><ul>" + "".join(
            "<li>%s</li>" % html.escape(x) for x in skip_lines(secs)) + "</ul>")
    H.append("<h2>Summary: every claim beside its measurement</h2>")
    H.append(table(["claim", "source", "claimed", "measured here", "ratio", "section"],
                   summary_rows(secs)))
    for s in secs:
        H.append("<h2>%s</h2><p>%s</p>" % (html.escape(s["title"]), html.escape(s["what"])))
        if s["skip"]:
            H.append("<p class='skip'><b>Skipped:</b> %s</p>" % html.escape(s["skip"]))
        for name in s.get("rendered", []):
            with open(os.path.join(figdir, name + ".png"), "rb") as f:
                b64 = base64.b64encode(f.read()).decode()
            H.append("<figure><img alt='%s' src='data:image/png;base64,%s'>"
                     "<figcaption>%s</figcaption></figure>" % (name, b64, name))
        for name, why in s.get("failed", []):
            H.append("<p class='skip'><b>Figure %s failed:</b> %s</p>" % (
                html.escape(name), html.escape(why)))
        for header, rows in s["tables"]:
            H.append(table(header, rows))
        if s["claims"]:
            H.append(table(CLAIM_HDR, claim_rows(s)))
        if s["notes"]:
            H.append("<ul>" + "".join("<li>%s</li>" % html.escape(n) for n in s["notes"]) + "</ul>")
    fails = R.failures()
    if fails:
        H.append("<h2>Runs that did not finish ok</h2><ul>" +
                 "".join("<li>%s</li>" % html.escape(f) for f in fails[:60]) + "</ul>")
    H.append("</body></html>")
    with open(path, "w") as f:
        f.write("\n".join(H))


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    args = argv[1:]
    only = None
    if "--only" in args:
        k = args.index("--only")
        if k + 1 >= len(args):
            print("report.py: --only needs a list of section keys", file=sys.stderr)
            return 2
        only = set(args[k + 1].split(","))
        del args[k:k + 2]
    rdir = args[0]
    paths = [os.path.join(d, "results.json") for d in args]
    for rj in paths:
        if not os.path.isfile(rj):
            print("report.py: %s: no results.json there" % os.path.dirname(rj), file=sys.stderr)
            return 2
    try:
        R = Results(paths[0], paths[1:])
    except (OSError, ValueError) as e:
        print("report.py: %s: cannot read: %s" % (rj, e), file=sys.stderr)
        return 2
    figdir = os.path.join(rdir, "figures")
    os.makedirs(figdir, exist_ok=True)
    secs, produced, skipped, failed = [], [], [], 0
    for build in SECTIONS:
        try:
            s = build(R)
        except Exception as e:  # a bug in one section must not lose the others
            log("section %s failed: %r" % (build.__name__, e))
            s = {"key": build.__name__, "title": build.__name__, "what": "",
                 "figures": [], "skip": "report bug: %r" % e, "claims": [], "notes": [],
                 "tables": []}
        if only and s["key"] not in only:
            continue
        s["rendered"], s["failed"] = [], []
        for f in s["figures"]:
            log("rendering %s (%d panel(s))" % (f.name, len(f.panels)))
            try:
                f.render(figdir, log)
                s["rendered"].append(f.name)
                produced.append(f.name)
            except (RuntimeError, OSError) as e:
                s["failed"].append((f.name, str(e)))
                failed += 1
        if s["skip"]:
            skipped.append((s["key"], s["skip"]))
            log("skipped %s: %s" % (s["key"], s["skip"]))
        secs.append(s)
    write_md(os.path.join(rdir, "report.md"), R, secs, produced, skipped)
    write_html(os.path.join(rdir, "report.html"), R, secs, figdir)
    log("%d figure(s) in %s, %d section(s) skipped, report: %s" % (
        len(produced), figdir, len(skipped), os.path.join(rdir, "report.md")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
