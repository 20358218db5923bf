/* sc-bench-histogram.h: a log-linear latency histogram.
 *
 * Values are nanoseconds.  Below 256 ns every value has its own bucket;
 * above, each power of two is split into 128 equal buckets, so a value is
 * reported within 1/128 (0.78 %) of what was recorded, the way
 * HdrHistogram does with two significant digits.  Values past the
 * ceiling (60 s) are clamped to it and counted as overflow.  Recording
 * is O(1) and allocation-free; the whole table is 32 KiB.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SC_BENCH_HISTOGRAM_MAX_NS \
  (G_GUINT64_CONSTANT (60) * G_USEC_PER_SEC * 1000)

typedef struct _ScBenchHistogram ScBenchHistogram;

ScBenchHistogram *sc_bench_histogram_new (void);
void sc_bench_histogram_free (ScBenchHistogram *histogram);
void sc_bench_histogram_reset (ScBenchHistogram *histogram);
void sc_bench_histogram_record (ScBenchHistogram *histogram, guint64 value_ns);
void sc_bench_histogram_merge (ScBenchHistogram *into,
                               const ScBenchHistogram *from);
guint64 sc_bench_histogram_count (const ScBenchHistogram *histogram);
guint64 sc_bench_histogram_overflow (const ScBenchHistogram *histogram);
guint64 sc_bench_histogram_min (const ScBenchHistogram *histogram);
guint64 sc_bench_histogram_max (const ScBenchHistogram *histogram);
double sc_bench_histogram_mean (const ScBenchHistogram *histogram);
guint64 sc_bench_histogram_percentile (const ScBenchHistogram *histogram,
                                       double percentile);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ScBenchHistogram, sc_bench_histogram_free)

G_END_DECLS
