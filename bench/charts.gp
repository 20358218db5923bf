# bench/charts.gp: the charts of docs/BENCHMARKS.md, drawn from the data
# files bench/run.sh --write-docs leaves in the folder "dir":
#   gnuplot -e "dir='docs/benchmarks'" bench/charts.gp
# One cluster per workload (or latency figure), one bar per row of the
# table (a system in one mode), in the same colour in both charts; "?"
# marks a row that did not run (the modes run in (a)-(c) only).
if (!exists("dir")) dir = "docs/benchmarks"

set datafile missing "?"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border -1
set boxwidth 0.9
set key outside top center horizontal font ",11"
set grid ytics lc rgb "#d0d0d0"
set border 3
set xtics nomirror font ",11"
set ytics nomirror font ",10"
set linetype 1 lc rgb "#1f6fb4"
set linetype 2 lc rgb "#9a9a9a"
set linetype 3 lc rgb "#e0872b"
set linetype 4 lc rgb "#c9362e"
set linetype 5 lc rgb "#3c9a4a"
set linetype 6 lc rgb "#7b58a6"
set linetype 7 lc rgb "#8fb9e3"
set linetype 8 lc rgb "#f2c18f"
set linetype 9 lc rgb "#93cf9c"
# The columns of the data files, in bench/run.sh's order: the lighter
# shade of a colour is the same system's other mode.
titles = "SockChat SockChat-no-receipt floor mosquitto-QoS-0 mosquitto-QoS-1 Redis NATS NATS-request-reply ngIRCd"
colour(i) = word("1 7 2 3 8 4 5 9 6", i - 1) + 0

set terminal pngcairo size 1400,600 font "DejaVu Sans,11"
set output dir."/throughput.png"
stats dir."/throughput.dat" using 0 nooutput
set xrange [-0.6:STATS_records - 0.4]
set title "Messages per second (thousands; more is better)" font ",13"
set ylabel "thousand msgs/s"
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
plot for [i=2:10] dir."/throughput.dat" using i:xtic(1) title word(titles, i - 1) lt colour(i), \
     for [i=2:10] dir."/throughput.dat" using ($0 + (i - 6) / 10.0):i:(sprintf("%.0f", column(i))) \
       with labels font ",8" offset 0, 0.6 notitle

set output dir."/latency.png"
stats dir."/latency.dat" using 0 nooutput
set xrange [-0.6:STATS_records - 0.4]
set title "Latency, round trip: (a) 1 pair ping-pong, (e) 50 requesters (µs, log scale; less is better)" font ",13"
set ylabel "µs"
set logscale y
set yrange [10:*]
set offsets 0, 0, 0, 0
plot for [i=2:10] dir."/latency.dat" using i:xtic(1) title word(titles, i - 1) lt colour(i), \
     for [i=2:10] dir."/latency.dat" using ($0 + (i - 6) / 10.0):i:(sprintf("%.0f", column(i))) \
       with labels font ",8" offset 0, 0.6 notitle
