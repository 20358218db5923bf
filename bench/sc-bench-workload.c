/* sc-bench-workload.c: connects, warms up, measures, and tears down.
 *
 * Latency is measured from the time written into the message body (the
 * scheduled send time for the open loop, so a stalled system is charged
 * for every message it delayed, not only the first: no coordinated
 * omission) to the moment the receiving connection parsed it.  Both
 * ends live in this process, so one monotonic clock serves.
 */
#include "sc-bench-workload.h"

#include <gio/gio.h>

#include "sc-bench-proc.h"

static const char *const names[] = {
  "latency", "throughput", "unbatched", "open", "reqresp", "idle",
};

const char *
sc_bench_workload_name (ScBenchWorkloadKind kind)
{
  g_return_val_if_fail (kind < G_N_ELEMENTS (names), NULL);
  return names[kind];
}

gboolean
sc_bench_workload_parse (const char *name, ScBenchWorkloadKind *kind)
{
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (g_str_equal (name, names[i]) ||
        (name[0] == 'a' + (char) i && name[1] == '\0'))
      {
        *kind = i;
        return TRUE;
      }
  return FALSE;
}

void
sc_bench_body_fill (guint8 *body, gsize length, gint64 time_ns)
{
  static const char hex[] = "0123456789abcdef";
  guint64 value = time_ns;

  g_assert (length >= SC_BENCH_BODY_MIN);
  for (int i = 15; i >= 0; i--)
    {
      body[i] = hex[value & 0xf];
      value >>= 4;
    }
  memset (body + SC_BENCH_BODY_MIN, 'x', length - SC_BENCH_BODY_MIN);
}

gint64
sc_bench_body_time (const guint8 *body, gsize length)
{
  guint64 value = 0;

  if (length < SC_BENCH_BODY_MIN)
    return -1;
  for (int i = 0; i < 16; i++)
    {
      int digit = g_ascii_xdigit_value (body[i]);

      if (digit < 0)
        return -1;
      value = value << 4 | digit;
    }
  return (gint64) value;
}

typedef struct
{
  const ScBenchWorkloadConfig *config;
  ScBenchLoop *loop;
  ScBenchHistogram *histogram;
  guint8 *body;
  gboolean sending;   /* false once the measured interval is over */
  gboolean measuring; /* false during the warm-up */
  guint64 messages;
  guint64 send_failures;
  guint64 next_pair;  /* open loop: round robin */
  GPtrArray *senders; /* side 0 of every pair, in pair order */
  guint errors_shown;
} Run;

static void
send_message (Run *run, ScBenchConn *conn, gint64 time_ns)
{
  sc_bench_body_fill (run->body, run->config->payload, time_ns);
  sc_bench_loop_get_adapter (run->loop)->send_message (conn, run->body,
                                                       run->config->payload);
  conn->in_flight++;
}

static void
send_request (Run *run, ScBenchConn *conn)
{
  conn->sent_at_ns = sc_bench_now_ns ();
  sc_bench_body_fill (run->body, run->config->payload, conn->sent_at_ns);
  sc_bench_loop_get_adapter (run->loop)->send_request (conn, run->body,
                                                       run->config->payload);
  conn->in_flight++;
}

/* A connection can send while it and its companion socket, if any,
 * are up. */
static gboolean
usable (const ScBenchConn *conn)
{
  return !conn->dead && (conn->companion == NULL || !conn->companion->dead);
}

/* Keeps sender's window full (closed-loop workloads). */
static void
refill (Run *run, ScBenchConn *sender)
{
  guint window = run->config->window;

  if (!run->sending || !usable (sender) || !usable (sender->peer))
    return;
  while (sender->in_flight < window)
    send_message (run, sender, sc_bench_now_ns ());
}

static void
record (Run *run, gint64 since_ns)
{
  if (!run->measuring)
    return;
  run->messages++;
  if (since_ns >= 0)
    sc_bench_histogram_record (run->histogram,
                               MAX (0, sc_bench_now_ns () - since_ns));
}

static gboolean
is_ping_pong (const ScBenchWorkloadConfig *config)
{
  return config->kind == SC_BENCH_WORKLOAD_LATENCY ||
         config->kind == SC_BENCH_WORKLOAD_IDLE;
}

static void
on_event (ScBenchConn *conn,
          ScBenchEventType type,
          const guint8 *body,
          gsize length,
          gpointer user_data)
{
  Run *run = user_data;
  const ScBenchWorkloadConfig *config = run->config;

  switch (type)
    {
    case SC_BENCH_EVENT_MESSAGE:
      if (conn->role != SC_BENCH_ROLE_PEER)
        return;
      conn->peer->in_flight =
        conn->peer->in_flight > 0 ? conn->peer->in_flight - 1 : 0;
      if (is_ping_pong (config))
        {
          /* Side 1 returns the ball with the original time; side 0
           * measures the round trip and serves again. */
          gint64 sent = sc_bench_body_time (body, length);

          if (conn->side == 1)
            {
              if (run->measuring)
                run->messages++;
              if (run->sending && usable (conn) && usable (conn->peer))
                send_message (run, conn, sent);
            }
          else
            {
              record (run, sent);
              refill (run, conn);
            }
          return;
        }
      record (run, sc_bench_body_time (body, length));
      if (config->kind != SC_BENCH_WORKLOAD_OPEN)
        refill (run, conn->peer);
      return;

    case SC_BENCH_EVENT_RESPONSE:
      conn->in_flight = 0;
      record (run, conn->sent_at_ns);
      if (run->sending)
        send_request (run, conn);
      return;

    case SC_BENCH_EVENT_SEND_FAILED:
      if (run->measuring)
        run->send_failures++;
      conn->in_flight = conn->in_flight > 0 ? conn->in_flight - 1 : 0;
      if (conn->role == SC_BENCH_ROLE_REQUESTER)
        {
          if (run->sending)
            send_request (run, conn);
        }
      else if (config->kind != SC_BENCH_WORKLOAD_OPEN && conn->side == 0)
        refill (run, conn);
      return;

    case SC_BENCH_EVENT_ERROR:
      /* A few say why; the count is in the result. */
      if (run->errors_shown++ < 3)
        g_warning ("connection %u lost: %.*s", conn->index, (int) length,
                   (const char *) body);
      return;

    case SC_BENCH_EVENT_READY:
    default: return;
    }
}

static void
start_sending (Run *run)
{
  guint n = sc_bench_loop_n_connections (run->loop);

  run->sending = TRUE;
  if (run->config->kind == SC_BENCH_WORKLOAD_OPEN)
    return;
  for (guint i = 0; i < n; i++)
    {
      ScBenchConn *conn = sc_bench_loop_get (run->loop, i);

      if (conn->role == SC_BENCH_ROLE_PEER && conn->side == 0)
        refill (run, conn);
      else if (conn->role == SC_BENCH_ROLE_REQUESTER)
        send_request (run, conn);
    }
}

/* Runs the loop until until_ns; the open loop also sends what is due,
 * stamped with the time it was due, however late it goes out. */
static void
drive (Run *run, gint64 until_ns, gint64 *next_send_ns)
{
  const ScBenchWorkloadConfig *config = run->config;
  gint64 interval = config->rate > 0 ? (gint64) (1e9 / config->rate) : 0;

  while (sc_bench_now_ns () < until_ns)
    {
      gint64 wake = until_ns;

      if (config->count > 0 && run->measuring && run->messages >= config->count)
        return;
      if (config->kind == SC_BENCH_WORKLOAD_OPEN && run->sending)
        {
          gint64 now = sc_bench_now_ns ();

          while (*next_send_ns <= now)
            {
              ScBenchConn *sender =
                run->senders->pdata[run->next_pair++ % run->senders->len];

              if (usable (sender) && usable (sender->peer))
                send_message (run, sender, *next_send_ns);
              *next_send_ns += MAX (interval, 1);
            }
          wake = MIN (wake, *next_send_ns);
        }
      sc_bench_loop_run_once (run->loop, wake);
    }
}

/* The CPU time of the server and of every process counted with it, or
 * -1 without a server to read. */
static gint64
servers_cpu_ns (const ScBenchWorkloadConfig *config)
{
  gint64 total;

  if (config->server_pid <= 0)
    return -1;
  total = sc_bench_proc_cpu_ns (config->server_pid);
  for (guint i = 0; i < config->n_more_pids && total >= 0; i++)
    {
      gint64 more = sc_bench_proc_cpu_ns (config->more_pids[i]);

      total = more >= 0 ? total + more : -1;
    }
  return total;
}

static void
connect_conn_to (ScBenchConn *conn, guint16 port)
{
  conn->port = port;
  if (conn->companion != NULL)
    conn->companion->port = port;
}

/* Pair i's two sides on two consecutive ports of the list (the same
 * one when there is only one). */
static void
place_pair (const ScBenchWorkloadConfig *config,
            guint pair,
            ScBenchConn *a,
            ScBenchConn *b)
{
  if (config->n_ports == 0)
    return;
  connect_conn_to (a, config->ports[pair % config->n_ports]);
  connect_conn_to (b, config->ports[(pair + 1) % config->n_ports]);
}

/* A client on one node addresses a client of another by its id, which
 * the sender's node knows once its copy of the directory has it: a few
 * milliseconds after the handshake (docs/CLUSTER.md).  Until then a
 * message would be refused, so the loop runs a while without sending. */
static void
let_directory_settle (Run *run, gint64 *next_send)
{
  if (run->config->n_ports > 1)
    drive (run, sc_bench_now_ns () + 300 * (gint64) 1000000, next_send);
}

static gboolean
connect_all (Run *run, GError **error)
{
  return sc_bench_loop_connect_all (run->loop, run->config->connect_timeout_ms,
                                    error);
}

gboolean
sc_bench_workload_run (const ScBenchWorkloadConfig *config,
                       ScBenchResult *result,
                       GError **error)
{
  g_autoptr (ScBenchLoop) loop = NULL;
  g_autofree guint8 *body = NULL;
  g_autoptr (GPtrArray) senders = g_ptr_array_new ();
  Run run = { 0 };
  gint64 start, end, cpu0, cpu1, self0, next_send = 0;

  g_return_val_if_fail (config->payload >= SC_BENCH_BODY_MIN, FALSE);

  memset (result, 0, sizeof *result);
  result->rss_before = result->rss_after = -1;
  result->server_cpu_ns = -1;
  result->histogram = sc_bench_histogram_new ();

  loop = sc_bench_loop_new (config->adapter, config->host, config->port,
                            config->payload, error);
  if (loop == NULL)
    return FALSE;
  if (config->tls && !sc_bench_loop_set_tls (loop, error))
    {
      sc_bench_loop_free (loop);
      return FALSE;
    }
  sc_bench_loop_set_mode (loop, config->mode);
  body = g_malloc (config->payload);
  run.config = config;
  run.loop = loop;
  run.histogram = result->histogram;
  run.body = body;
  run.senders = senders;
  sc_bench_loop_set_handler (loop, on_event, &run);

  /* (f): the idle crowd first, with the server's memory around it. */
  if (config->idle > 0)
    {
      gint64 t0;

      if (config->server_pid > 0)
        {
          sc_bench_proc_wait_quiet (config->server_pid, 200, 5000);
          result->rss_before = sc_bench_proc_rss_bytes (config->server_pid);
        }
      for (guint i = 0; i < config->idle; i++)
        sc_bench_loop_add (loop, SC_BENCH_ROLE_IDLE, 0, 0);
      t0 = sc_bench_now_ns ();
      if (!connect_all (&run, error))
        {
          g_prefix_error (error, "idle connections: ");
          return FALSE;
        }
      result->idle_connect_s = (sc_bench_now_ns () - t0) / 1e9;
      /* Let the server finish announcing the newcomers to each other
       * (the bench keeps reading meanwhile) before weighing it. */
      if (config->server_pid > 0)
        {
          gint64 quiet_deadline = sc_bench_now_ns () + 60 * (gint64) 1000000000;
          gint64 last = sc_bench_proc_cpu_ns (config->server_pid);

          while (sc_bench_now_ns () < quiet_deadline)
            {
              gint64 now_cpu;

              drive (&run, sc_bench_now_ns () + 300 * 1000000, &next_send);
              now_cpu = sc_bench_proc_cpu_ns (config->server_pid);
              if (now_cpu == last)
                break;
              last = now_cpu;
            }
          result->rss_after = sc_bench_proc_rss_bytes (config->server_pid);
        }
      result->idle_ready = config->idle - sc_bench_loop_n_dead (loop);
    }

  if (config->kind == SC_BENCH_WORKLOAD_REQRESP)
    {
      if (config->adapter->send_request == NULL)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                       "%s has no request/response", config->adapter->name);
          return FALSE;
        }
      for (guint i = 0; i < config->clients; i++)
        sc_bench_loop_add (loop, SC_BENCH_ROLE_REQUESTER, 0, 0);
    }
  else
    for (guint i = 0; i < config->pairs; i++)
      {
        ScBenchConn *a = sc_bench_loop_add (loop, SC_BENCH_ROLE_PEER, i, 0);
        ScBenchConn *b = sc_bench_loop_add (loop, SC_BENCH_ROLE_PEER, i, 1);

        a->peer = b;
        b->peer = a;
        place_pair (config, i, a, b);
        g_ptr_array_add (senders, a);
      }
  if (!connect_all (&run, error))
    return FALSE;
  let_directory_settle (&run, &next_send);

  /* Warm up, then measure over a fresh histogram. */
  start_sending (&run);
  next_send = sc_bench_now_ns ();
  drive (&run, sc_bench_now_ns () + (gint64) (config->warmup_s * 1e9),
         &next_send);
  sc_bench_histogram_reset (result->histogram);
  run.measuring = TRUE;
  cpu0 = servers_cpu_ns (config);
  self0 = sc_bench_proc_self_cpu_ns ();
  start = sc_bench_now_ns ();
  drive (&run, start + (gint64) (config->duration_s * 1e9), &next_send);
  end = sc_bench_now_ns ();
  run.measuring = FALSE;
  run.sending = FALSE;
  cpu1 = servers_cpu_ns (config);

  result->elapsed_s = (end - start) / 1e9;
  result->messages = run.messages;
  result->messages_per_s = run.messages / MAX (result->elapsed_s, 1e-9);
  result->latency_kind =
    is_ping_pong (config) || config->kind == SC_BENCH_WORKLOAD_REQRESP
      ? "round-trip"
      : "one-way";
  result->bench_cpu_ns = sc_bench_proc_self_cpu_ns () - self0;
  if (cpu0 >= 0 && cpu1 >= 0)
    {
      result->server_cpu_ns = cpu1 - cpu0;
      result->server_cpu_us_per_message =
        run.messages > 0 ? result->server_cpu_ns / 1e3 / run.messages : 0;
    }
  result->send_failures = run.send_failures;
  result->connection_failures = sc_bench_loop_n_dead (loop);

  sc_bench_loop_close_all (loop);
  /* The next run starts on a server that has finished saying goodbye. */
  if (config->server_pid > 0)
    sc_bench_proc_wait_quiet (config->server_pid, 200, 10000);
  return TRUE;
}

void
sc_bench_result_clear (ScBenchResult *result)
{
  g_clear_pointer (&result->histogram, sc_bench_histogram_free);
}
