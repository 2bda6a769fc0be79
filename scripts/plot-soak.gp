# Plots the resident memory of the soak run (scripts/soak.sh), sluice and Node.js, one sample a
# second:
#   gnuplot -e "data='build/soak/soak.csv'; out='docs/img/soak.png'; rate='1M'" scripts/plot-soak.gp
if (!exists("data")) data = 'build/soak/soak.csv'
if (!exists("out")) out = 'docs/img/soak.png'
if (!exists("rate")) rate = '1M'
set terminal pngcairo size 900,500 font "sans,11"
set output out
set datafile separator ","
set title sprintf("Soak: stdin -> gzip -> gunzip -> consumer held to %s/s -> stdout", rate)
set xlabel "time (minutes)"
set ylabel "resident memory (MiB)"
set yrange [0:*]
set key below
set grid ytics
set xtics nomirror
set ytics nomirror
plot data every ::1 using ($1/60):($2/1024) with lines title "sluice run" lw 2 lc rgb "#1b7837", \
     data every ::1 using ($1/60):($3/1024) with lines title "Node.js stream.pipeline" lw 2 lc rgb "#2166ac"
