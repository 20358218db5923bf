/* sc-bench-histogram.c: see sc-bench-histogram.h for the bucket layout. */
#include "sc-bench-histogram.h"

#define SUB_BITS    7
#define SUB_COUNT   (1u << SUB_BITS) /* buckets per power of two */
#define LINEAR_SIZE (2u * SUB_COUNT) /* values below this are exact */
/* 60 s is below 2^36 ns, so the largest shift is 36 - 1 - SUB_BITS. */
#define N_BUCKETS (LINEAR_SIZE + (36 - SUB_BITS) * SUB_COUNT)

struct _ScBenchHistogram
{
  guint64 counts[N_BUCKETS];
  guint64 total;
  guint64 overflow;
  guint64 min;
  guint64 max;
  double sum;
};

static guint
bucket_of (guint64 value)
{
  guint msb, shift;

  if (value < LINEAR_SIZE)
    return (guint) value;
  msb = 63 - __builtin_clzll (value);
  shift = msb - SUB_BITS;
  /* value >> shift lies in [SUB_COUNT, 2 * SUB_COUNT). */
  return (shift + 1) * SUB_COUNT + (guint) ((value >> shift) - SUB_COUNT);
}

/* The largest value that falls in the bucket, as HdrHistogram reports
 * percentiles: the answer is never below the true value. */
static guint64
bucket_high (guint bucket)
{
  guint shift;
  guint64 sub;

  if (bucket < LINEAR_SIZE)
    return bucket;
  shift = bucket / SUB_COUNT - 1;
  sub = bucket % SUB_COUNT + SUB_COUNT;
  return ((sub + 1) << shift) - 1;
}

ScBenchHistogram *
sc_bench_histogram_new (void)
{
  ScBenchHistogram *histogram = g_new0 (ScBenchHistogram, 1);

  sc_bench_histogram_reset (histogram);
  return histogram;
}

void
sc_bench_histogram_free (ScBenchHistogram *histogram)
{
  g_free (histogram);
}

void
sc_bench_histogram_reset (ScBenchHistogram *histogram)
{
  g_return_if_fail (histogram != NULL);

  memset (histogram, 0, sizeof *histogram);
  histogram->min = G_MAXUINT64;
}

void
sc_bench_histogram_record (ScBenchHistogram *histogram, guint64 value_ns)
{
  if (value_ns > SC_BENCH_HISTOGRAM_MAX_NS)
    {
      value_ns = SC_BENCH_HISTOGRAM_MAX_NS;
      histogram->overflow++;
    }
  histogram->counts[bucket_of (value_ns)]++;
  histogram->total++;
  histogram->sum += (double) value_ns;
  histogram->min = MIN (histogram->min, value_ns);
  histogram->max = MAX (histogram->max, value_ns);
}

void
sc_bench_histogram_merge (ScBenchHistogram *into, const ScBenchHistogram *from)
{
  g_return_if_fail (into != NULL && from != NULL);

  for (guint i = 0; i < N_BUCKETS; i++)
    into->counts[i] += from->counts[i];
  into->total += from->total;
  into->overflow += from->overflow;
  into->sum += from->sum;
  into->min = MIN (into->min, from->min);
  into->max = MAX (into->max, from->max);
}

guint64
sc_bench_histogram_count (const ScBenchHistogram *histogram)
{
  return histogram->total;
}

guint64
sc_bench_histogram_overflow (const ScBenchHistogram *histogram)
{
  return histogram->overflow;
}

guint64
sc_bench_histogram_min (const ScBenchHistogram *histogram)
{
  return histogram->total > 0 ? histogram->min : 0;
}

guint64
sc_bench_histogram_max (const ScBenchHistogram *histogram)
{
  return histogram->max;
}

double
sc_bench_histogram_mean (const ScBenchHistogram *histogram)
{
  return histogram->total > 0 ? histogram->sum / (double) histogram->total
                              : 0.0;
}

/* percentile is in [0, 100].  The result is clamped to the largest value
 * recorded, so p100 is the exact maximum. */
guint64
sc_bench_histogram_percentile (const ScBenchHistogram *histogram,
                               double percentile)
{
  guint64 wanted, seen = 0;

  g_return_val_if_fail (histogram != NULL, 0);

  if (histogram->total == 0)
    return 0;
  percentile = CLAMP (percentile, 0.0, 100.0);
  wanted = (guint64) (percentile / 100.0 * (double) histogram->total + 0.5);
  wanted = CLAMP (wanted, 1, histogram->total);
  for (guint i = 0; i < N_BUCKETS; i++)
    {
      seen += histogram->counts[i];
      if (seen >= wanted)
        return MIN (bucket_high (i), histogram->max);
    }
  return histogram->max;
}
