# SPDX-License-Identifier: MIT
# Common look of every allocscope figure, loaded by the scripts that
# plots/report.py writes into results/<run-id>/figures/gp/. Expects
# `term` ('png' or 'svg') and the canvas size W, H (pixels).
if (term eq 'svg') {
    set terminal svg size W,H dynamic font 'DejaVu Sans,12' noenhanced background '#ffffff'
} else {
    set terminal pngcairo size W,H font 'DejaVu Sans,10' noenhanced background '#ffffff'
}
set datafile missing '?'
set grid ytics lc rgb '#d0d0d0' lw 1 dt 1
set grid xtics lc rgb '#e8e8e8'
set key outside right top vertical box samplen 2 spacing 1.0 font ',9'
set border 3 lw 1
set tics nomirror out
set format y '%g'
set bars small
set offsets 0, 0, graph 0.05, 0
