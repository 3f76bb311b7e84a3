# SPDX-License-Identifier: MIT
"""Shared helpers of the figure pipeline (plots/report.py): reading a
results.json (results/SCHEMA.md), medians and spreads over repetitions, and
turning a figure description into gnuplot data (.dat), a gnuplot script (.gp,
kept next to the figures so a reader can re-render or restyle it) and PNG and
SVG files. Standard library only.

A figure is a list of panels; a panel is either "lines" (x, y with min..max
error bars per series) or "bars" (groups on the x axis, one bar per series,
error bars min..max). Values that were not measured are left out, never
drawn as 0."""

import json
import math
import os
import re
import shutil
import statistics
import subprocess

# One colour per allocator, the same in every figure.
COLORS = {
    "llfree": "#1b9e77", "buddy": "#d95f02", "buddy-nopcp": "#7570b3",
    "nbbs": "#e7298a", "glibc": "#666666", "jemalloc": "#e6ab02",
    "tcmalloc": "#a6761d", "mimalloc": "#66a61e", "adaptive": "#1f78b4",
    "adaptive-static": "#a6cee3", "lifetime": "#e31a1c",
    "lifetime-oracle": "#fb9a99", "lifetime-none": "#cab2d6",
    "lifetime-profile": "#ff7f00", "lifetime-model": "#fdbf6f",
}
EXTRA = ["#17becf", "#bcbd22", "#8c564b", "#9467bd", "#2ca02c", "#ff9896"]


def color(name, i=0):
    return COLORS.get(name, EXTRA[i % len(EXTRA)])


class Results:
    """A results.json document with lookups by cell."""

    def __init__(self, path, more=()):
        with open(path) as f:
            doc = json.load(f)
        self.path = path
        self.ctx = doc.get("context", {})
        self.runs = doc.get("runs", [])
        self.more = []
        for p in more:  # folders allocscope merge refused: runs added as they are
            with open(p) as f:
                d = json.load(f)
            self.more.append((p, d.get("context", {})))
            self.runs += d.get("runs", [])

    def select(self, workload=None, alloc=None, threads=None, status="ok",
               **params):
        out = []
        for r in self.runs:
            if workload is not None and r.get("workload") != workload:
                continue
            if alloc is not None and r.get("allocator") != alloc:
                continue
            if threads is not None and r.get("threads") != threads:
                continue
            if status is not None and r.get("status") != status:
                continue
            p = r.get("params", {})
            if any(p.get(k) != v for k, v in params.items()):
                continue
            out.append(r)
        return out

    def allocs(self, workload, order=None):
        """Allocators with runs of workload, in the order the run named them."""
        names = []
        for r in self.select(workload=workload, status=None):
            if r["allocator"] not in names:
                names.append(r["allocator"])
        if order:
            names.sort(key=lambda a: order.index(a) if a in order else 99)
        return names

    def values(self, workload, alloc, metric, threads=None, **params):
        vals = []
        for r in self.select(workload, alloc, threads, **params):
            v = r.get("metrics", {}).get(metric)
            if isinstance(v, (int, float)) and not isinstance(v, bool) \
                    and math.isfinite(v):
                vals.append(float(v))
        return vals

    def stat(self, workload, alloc, metric, threads=None, **params):
        return stat(self.values(workload, alloc, metric, threads, **params))

    def threads(self, workload):
        return sorted({r["threads"] for r in self.select(workload, status=None)})

    def param_values(self, workload, name):
        vals = {r["params"].get(name) for r in self.select(workload, status=None)}
        return sorted(v for v in vals if v is not None)

    def failures(self, workload=None):
        """Non-ok runs as 'alloc workload tN: status (error)' strings; log
        paths in the errors follow the folders figures.sh moved."""
        out = []
        main = os.path.basename(os.path.dirname(os.path.abspath(self.path)))
        for r in self.runs:
            if workload is not None and r.get("workload") != workload:
                continue
            if r.get("status") != "ok":
                out.append("%s %s t%s: %s (%s)" % (
                    r.get("allocator"), r.get("workload"), r.get("threads"),
                    r.get("status"), moved(r.get("error") or "", main).strip()[:200]))
        return out

    def machine(self):
        c = self.ctx
        topo = c.get("topology", {})
        s = "%s, %s cores, %s NUMA node(s), kernel %s, THP %s" % (
            c.get("cpu") or "unknown CPU", c.get("cores"),
            c.get("numa_nodes"), c.get("kernel"), c.get("thp"))
        if c.get("simulated"):
            s += ", simulated topology %s" % topo.get("spec")
        return s


def moved(text, main):
    """Rewrites figures.sh's temporary part paths (ROOT/.figures-parts-PID/
    CONFIG/RUNID/...) to where the folders ended up, relative to the report:
    the report's own folder when RUNID is main, else parts/CONFIG-RUNID/."""
    def sub(m):
        return "" if m.group(2) == main else "parts/%s-%s/" % (m.group(1), m.group(2))
    return re.sub(r"\S*\.figures-parts-\d+/([^/\s]+)/([^/\s]+)/", sub, text)


class Stat:
    def __init__(self, vals):
        self.n = len(vals)
        self.median = statistics.median(vals) if vals else None
        self.lo = min(vals) if vals else None
        self.hi = max(vals) if vals else None

    def __bool__(self):
        return self.n > 0


def stat(vals):
    return Stat(vals)


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def fmt(v, unit="", digits=3):
    """Human number: 3 significant digits, k/M/G for large values."""
    if v is None:
        return "n/a"
    if unit == "%":
        return "%.*g%%" % (digits, v * 100)
    if unit == "B":
        for div, suf in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if abs(v) >= div:
                return "%.*g %s" % (digits, v / div, suf)
        return "%.0f B" % v
    a = abs(v)
    for div, suf in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return "%.*g%s%s" % (digits, v / div, suf, (" " + unit) if unit else "")
    return "%.*g%s" % (digits, v, (" " + unit) if unit else "")


# --------------------------------------------------------------- figures

class Series:
    def __init__(self, label, points, color_=None, dash=1, points_style=7,
                 lines_only=False):
        self.label = label
        self.lines_only = lines_only  # long time series: a plain line, no markers
        self.points = points  # lines: (x, y, lo, hi); bars: {group: (y, lo, hi)}
        self.color = color_ or color(label)
        self.dash = dash
        self.pt = points_style


class Panel:
    def __init__(self, title, xlabel, ylabel, kind="lines", logx=False,
                 logy=None, groups=None, xtics=None, yrange=None, ref=None):
        self.title = title
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.kind = kind
        self.logx = logx
        self.logy = logy  # None = decide from the data
        self.groups = groups or []
        self.xtics = xtics
        self.yrange = yrange
        self.ref = ref  # horizontal reference line (y value, label)
        self.series = []

    def add(self, s):
        self.series.append(s)

    def ys(self):
        out = []
        for s in self.series:
            if self.kind == "lines":
                out += [p[1] for p in s.points if p[1] is not None]
            else:
                out += [v[0] for v in s.points.values() if v and v[0] is not None]
        return out

    def has_data(self):
        return len(self.ys()) > 0


def q(s):
    return '"%s"' % str(s).replace("\\", "\\\\").replace('"', '\\"')


class Figure:
    """One figure: panels laid out in a grid, written as data + script +
    PNG + SVG under outdir (PNG/SVG at the top, data/ and gp/ below)."""

    def __init__(self, name, title, panels, cols=None, size=(1100, 720)):
        self.name = name
        self.title = title
        self.panels = [p for p in panels if p.has_data()]
        self.cols = cols or min(2, len(self.panels)) or 1
        self.size = size

    def has_data(self):
        return len(self.panels) > 0

    def _dat(self, pi, p):
        lines = ["# panel %d: %s" % (pi, p.title)]
        if p.kind == "lines":
            for s in p.series:
                lines.append("# series %s: x y lo hi" % s.label)
                pts = [pt for pt in s.points if pt[1] is not None]
                for x, y, lo, hi in pts:
                    lines.append("%.10g %.10g %.10g %.10g" % (
                        x, y, y if lo is None else lo, y if hi is None else hi))
                if not pts:
                    lines.append("nan nan nan nan")
                lines += ["", ""]
        else:
            lines.append("# group " + " ".join(
                "%s_y %s_lo %s_hi" % (s.label, s.label, s.label) for s in p.series))
            for g in p.groups:
                row = [q(g)]
                for s in p.series:
                    v = s.points.get(g)
                    if v is None or v[0] is None:
                        row += ["?", "?", "?"]
                    else:
                        y, lo, hi = v
                        row += ["%.10g" % y, "%.10g" % (y if lo is None else lo),
                                "%.10g" % (y if hi is None else hi)]
                lines.append(" ".join(row))
        return "\n".join(lines) + "\n"

    def _panel_gp(self, pi, p, dat):
        g = []
        g.append("set title %s" % q("" if p.title == self.title else p.title))
        g.append("set xlabel %s" % q(p.xlabel))
        g.append("set ylabel %s" % q(p.ylabel))
        ys = [y for y in p.ys() if y > 0]
        logy = p.logy
        if logy is None:
            logy = bool(ys) and min(ys) > 0 and max(ys) / min(ys) > 30
        g.append("set logscale y 10" if logy else "unset logscale y")
        if p.yrange:
            g.append("set yrange [%s:%s]" % p.yrange)
        elif not logy:
            g.append("set yrange [0:*]")
        else:
            g.append("set yrange [*:*]")
        if p.kind == "lines":
            g.append("set logscale x 2" if p.logx else "unset logscale x")
            if p.xtics:
                g.append("set xtics (%s)" % ", ".join("%s %s" % (q(t), t) for t in p.xtics))
                lo, hi = min(p.xtics), max(p.xtics)
                pad = 0.15 * (hi - lo) if not p.logx and hi > lo else 0
                if p.logx:
                    g.append("set xrange [%g:%g]" % (lo / 1.3, hi * 1.3))
                else:
                    g.append("set xrange [%g:%g]" % (lo - pad - (0.5 if hi == lo else 0),
                                                     hi + pad + (0.5 if hi == lo else 0)))
            else:
                g.append("set xtics autofreq")
                g.append("set xrange [*:*]")
            g.append("set style data linespoints")
            plots = []
            for si, s in enumerate(p.series):
                if s.lines_only:
                    plots.append("%s index %d using 1:2 with lines lw 2 dt %d lc rgb %s title %s"
                                 % (q(dat), si, s.dash, q(s.color), q(s.label)))
                    continue
                plots.append("%s index %d using 1:2:3:4 with yerrorlines lw 2 dt %d pt %d "
                             "ps 1.2 lc rgb %s title %s" % (
                                 q(dat), si, s.dash, s.pt, q(s.color), q(s.label)))
            if p.ref:
                plots.append("%s with lines lw 1.5 dt 2 lc rgb \"black\" title %s" % (p.ref[0], q(p.ref[1])))
        else:
            g.append("unset logscale x")
            g.append("set xrange [*:*]")
            g.append("set style data histograms")
            g.append("set style histogram errorbars gap 1 lw 1.5")
            g.append("set style fill solid 0.85 border -1")
            g.append("set boxwidth 0.9")
            g.append("set xtics rotate by -25 left")
            plots = []
            for si, s in enumerate(p.series):
                c = 2 + 3 * si
                plots.append("%s using %d:%d:%d%s lc rgb %s title %s" % (
                    q(dat), c, c + 1, c + 2, ":xtic(1)" if si == 0 else "",
                    q(s.color), q(s.label)))
            if p.ref:
                plots.append("%s with lines lw 1.5 dt 2 lc rgb \"black\" title %s" % (p.ref[0], q(p.ref[1])))
        g.append("plot " + ", \\\n     ".join(plots))
        g.append("unset xtics; set xtics; unset yrange")
        return "\n".join(g) + "\n"

    @staticmethod
    def _style_mtime():
        return os.path.getmtime(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                             "style.gp"))

    def render(self, outdir, log=None):
        """Writes data, script, PNG and SVG; returns (png, svg) or raises."""
        datadir = os.path.join(outdir, "data")
        gpdir = os.path.join(outdir, "gp")
        os.makedirs(datadir, exist_ok=True)
        os.makedirs(gpdir, exist_ok=True)
        style = os.path.join(gpdir, "style.gp")
        if not os.path.exists(style) or os.path.getmtime(style) < self._style_mtime():
            shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                     "style.gp"), style)
        rows = (len(self.panels) + self.cols - 1) // self.cols
        w, h = self.size
        gp = ["# %s: %s" % (self.name, self.title),
              "# Re-render from the figures folder: gnuplot -e \"term='png'\" gp/%s.gp"
              % self.name,
              "if (!exists(\"term\")) term = 'png'",
              "W = %d; H = %d" % (w, h),
              "load 'gp/style.gp'",
              "set output '%s.' . term" % self.name,
              "set multiplot layout %d,%d title %s font ',14'" % (
                  rows, self.cols, q(self.title))]
        for pi, p in enumerate(self.panels):
            dat = "data/%s.p%d.dat" % (self.name, pi)
            with open(os.path.join(outdir, dat), "w") as f:
                f.write(self._dat(pi, p))
            gp.append(self._panel_gp(pi, p, dat))
        gp.append("unset multiplot")
        script = os.path.join(gpdir, self.name + ".gp")
        with open(script, "w") as f:
            f.write("\n".join(gp) + "\n")
        outs = []
        for term in ("png", "svg"):
            r = subprocess.run(["gnuplot", "-e", "term='%s'" % term, "gp/%s.gp" % self.name],
                               cwd=outdir, capture_output=True, text=True)
            if r.returncode != 0:
                raise RuntimeError("gnuplot failed on %s: %s" % (script, r.stderr.strip()[-400:]))
            if log and r.stderr.strip():
                log("gnuplot %s (%s): %s" % (self.name, term, r.stderr.strip()[:300]))
            outs.append(os.path.join(outdir, "%s.%s" % (self.name, term)))
        return outs
