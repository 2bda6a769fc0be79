# Plots the peak memory of gzip-ing files of two sizes, with backpressure respected and
# ignored, sluice and Node (docs/img/memory.png). Run by scripts/bench-cli.sh:
#   gnuplot -e "data='build/bench-cli/memory.dat'; out='docs/img/memory.png'" scripts/plot-memory.gp
# The data file has one line per input size: size_mib sluice node sluice_ignored node_ignored
# (peak RSS in MiB).
if (!exists("data")) data = 'build/bench-cli/memory.dat'
if (!exists("out")) out = 'docs/img/memory.png'
set terminal pngcairo size 900,600 font "sans,11"
set output out
set title "Peak memory (max RSS) of gzip -6: file -> gzip -> file"
set xlabel "input size (MiB)"
set ylabel "peak RSS (MiB, log scale)"
set logscale y
set key below
set grid ytics
set style data linespoints
set xtics nomirror
set ytics nomirror
plot data using 1:2 title "sluice gzip (backpressure respected)" lw 2 pt 7 lc rgb "#1b7837", \
     data using 1:3 title "Node pipeline() (respected)" lw 2 pt 5 lc rgb "#2166ac", \
     data using 1:4 title "sluice, write() return ignored" lw 2 pt 7 dt 2 lc rgb "#b2182b", \
     data using 1:5 title "Node, write() return ignored" lw 2 pt 5 dt 2 lc rgb "#ef8a62"
