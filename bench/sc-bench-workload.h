/* sc-bench-workload.h: the workloads, and what a run reports. */
#pragma once

#include "sc-bench-histogram.h"
#include "sc-bench-loop.h"

G_BEGIN_DECLS

typedef enum
{
  SC_BENCH_WORKLOAD_LATENCY,    /* (a) one pair, ping-pong */
  SC_BENCH_WORKLOAD_THROUGHPUT, /* (b) pairs with a window each */
  SC_BENCH_WORKLOAD_UNBATCHED,  /* (c) many pairs, one in flight */
  SC_BENCH_WORKLOAD_OPEN,       /* (d) a fixed send rate */
  SC_BENCH_WORKLOAD_REQRESP,    /* (e) requests as fast as answered */
  SC_BENCH_WORKLOAD_IDLE,       /* (f) idle clients, then (a) */
} ScBenchWorkloadKind;

typedef struct
{
  ScBenchWorkloadKind kind;
  const ScBenchAdapter *adapter;
  guint mode; /* an index into adapter->modes */
  const char *host;
  guint16 port;
  gsize payload;
  guint pairs;   /* peers: pairs of connections */
  guint window;  /* messages in flight per pair */
  guint clients; /* requesters */
  guint idle;    /* idle connections opened first */
  double rate;   /* open loop: messages per second, in total */
  double warmup_s;
  double duration_s;
  guint64 count; /* stop after this many measured messages; 0: no limit */
  guint connect_timeout_ms;
  int server_pid; /* 0: unknown, no CPU or memory figures */
  /* A cluster: pair i's side 0 connects to ports[i % n_ports], side 1
   * to the next one, so that with two ports or more every pair spans
   * two nodes; NULL: every connection to port. */
  const guint16 *ports;
  guint n_ports;
  /* More processes whose CPU time counts as the server's (a cluster's
   * other nodes and its NATS servers). */
  const int *more_pids;
  guint n_more_pids;
  gboolean tls; /* every connection over TLS */
} ScBenchWorkloadConfig;

typedef struct
{
  double elapsed_s;
  guint64 messages; /* delivered (or answered) while measuring */
  double messages_per_s;
  const char *latency_kind; /* "round-trip" or "one-way" */
  ScBenchHistogram *histogram;
  gint64 server_cpu_ns; /* -1: unknown */
  double server_cpu_us_per_message;
  gint64 bench_cpu_ns;
  guint64 send_failures;
  guint connection_failures;
  gint64 rss_before; /* idle: server VmRSS before and after, or -1 */
  gint64 rss_after;
  guint idle_ready;
  double idle_connect_s;
} ScBenchResult;

const char *sc_bench_workload_name (ScBenchWorkloadKind kind);
gboolean sc_bench_workload_parse (const char *name, ScBenchWorkloadKind *kind);
gboolean sc_bench_workload_run (const ScBenchWorkloadConfig *config,
                                ScBenchResult *result,
                                GError **error);
void sc_bench_result_clear (ScBenchResult *result);

/* The body every message carries: the send time in nanoseconds as 16
 * hex digits, then 'x' up to length.  Text, so any system takes it. */
#define SC_BENCH_BODY_MIN 16
void sc_bench_body_fill (guint8 *body, gsize length, gint64 time_ns);
gint64 sc_bench_body_time (const guint8 *body, gsize length);

G_END_DECLS
