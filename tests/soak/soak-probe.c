/* soak-probe.c: the innocent client, timing GET_TIME round trips. */
#include "config.h"

#include "soak-probe.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>

#include "soak-conn.h"

#define PROBE_ANSWER_TIMEOUT_US (5 * G_USEC_PER_SEC)
#define PROBE_MAX_SAMPLES       (1 << 20)

typedef struct
{
  gint64 at;  /* when the request was sent, from the first request */
  gint64 rtt; /* microseconds */
} Sample;

struct _SoakProbe
{
  guint16 port;
  char *source;
  char *password;
  guint interval_ms;
  GThread *thread;
  gint stop; /* atomic */

  GMutex lock;
  GCond cond;
  gboolean ready; /* joined (or failed to) */
  guint32 id;     /* its client id, once greeted */
  GArray *samples;
  char *error; /* the first thing that went wrong */

  /* The thread's own */
  SoakConn conn;
  guint32 next_request;
  guint32 waiting_for; /* 0: nothing outstanding */
  gint64 sent_at, first_sent, next_send;
};

static void
probe_fail (SoakProbe *probe, const char *why)
{
  g_mutex_lock (&probe->lock);
  if (probe->error == NULL)
    probe->error = g_strdup (why);
  probe->ready = TRUE;
  g_cond_broadcast (&probe->cond);
  g_mutex_unlock (&probe->lock);
}

static void
probe_send_hello (SoakProbe *probe)
{
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, probe->next_request++);

  hello->version = SC_PROTOCOL_VERSION;
  hello->name = g_strdup ("sockchat-soak-probe");
  hello->nickname = g_strdup ("innocent");
  hello->password = g_strdup (probe->password);
  probe->waiting_for = hello->request_id;
  soak_conn_queue (&probe->conn, hello);
}

static void
probe_send_get_time (SoakProbe *probe, gint64 now)
{
  ScMessage *request = sc_message_new (SC_MSG_GET_TIME, probe->next_request++);

  probe->waiting_for = request->request_id;
  probe->sent_at = now;
  if (probe->first_sent == 0)
    probe->first_sent = now;
  probe->next_send = MAX (probe->next_send + probe->interval_ms * 1000, now);
  soak_conn_queue (&probe->conn, request);
}

static void
probe_on_reply (SoakProbe *probe, ScMessage *reply)
{
  gint64 now = g_get_monotonic_time ();

  if (reply->request_id != probe->waiting_for)
    {
      probe_fail (probe, "a reply to a request it did not send");
      return;
    }
  probe->waiting_for = 0;
  if (reply->type == SC_MSG_HELLO_REPLY)
    {
      if (reply->status != SC_STATUS_OK)
        {
          g_autofree char *why = g_strdup_printf ("HELLO refused: %u %s",
                                                  reply->status, reply->reason);
          probe_fail (probe, why);
          return;
        }
      g_mutex_lock (&probe->lock);
      probe->ready = TRUE;
      g_cond_broadcast (&probe->cond);
      g_mutex_unlock (&probe->lock);
      probe->next_send = now;
      return;
    }
  if (reply->status != SC_STATUS_OK)
    probe_fail (probe, "GET_TIME refused");
  g_mutex_lock (&probe->lock);
  if (probe->samples->len < PROBE_MAX_SAMPLES)
    {
      Sample sample = { probe->sent_at - probe->first_sent,
                        now - probe->sent_at };

      g_array_append_val (probe->samples, sample);
    }
  g_mutex_unlock (&probe->lock);
}

static void
probe_on_frame (SoakProbe *probe, ScMessage *message)
{
  switch ((int) message->type)
    {
    case SC_MSG_GREETING:
      g_atomic_int_set ((gint *) &probe->id, (gint) message->client_id);
      sc_frame_reader_set_max_payload (probe->conn.reader,
                                       message->max_payload);
      probe_send_hello (probe);
      break;
    case SC_MSG_HELLO_REPLY:
    case SC_MSG_GET_TIME_REPLY: probe_on_reply (probe, message); break;
    case SC_MSG_SERVER_PING:
      {
        ScMessage *pong = sc_message_new (SC_MSG_PONG, 0);

        pong->token = message->token;
        soak_conn_queue (&probe->conn, pong);
      }
      break;
    case SC_MSG_MESSAGE:
      /* Broadcasts reach it too; it acknowledges them like any user. */
      if (!(message->flags & SC_FLAG_NO_ACK))
        {
          ScMessage *ack = sc_message_new (SC_MSG_MESSAGE_ACK, 0);

          ack->message_id = message->message_id;
          soak_conn_queue (&probe->conn, ack);
        }
      break;
    case SC_MSG_CLIENT_JOINED:
    case SC_MSG_CLIENT_LEFT:
    case SC_MSG_CLIENT_RENAMED: break;
    default:
      {
        g_autofree char *why = g_strdup_printf (
          "unexpected %s: %s", sc_message_type_name (message->type),
          message->reason ? message->reason : "");
        probe_fail (probe, why);
      }
    }
}

/* One poll and what it brings; FALSE once the probe cannot go on. */
static gboolean
probe_step (SoakProbe *probe)
{
  gint64 now = g_get_monotonic_time ();
  gint64 wait_us = 100 * 1000;
  struct pollfd pfd = { probe->conn.fd, POLLIN, 0 };
  g_autoptr (GPtrArray) messages =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_message_free);

  if (probe->waiting_for == 0 && probe->next_send != 0)
    {
      if (now >= probe->next_send)
        probe_send_get_time (probe, now);
      wait_us = CLAMP (probe->next_send - now, 0, wait_us);
    }
  else if (probe->waiting_for != 0 && probe->sent_at != 0 &&
           now - probe->sent_at > PROBE_ANSWER_TIMEOUT_US)
    {
      probe_fail (probe, "no answer to GET_TIME within 5 s");
      return FALSE;
    }
  if (!soak_conn_flush (&probe->conn))
    {
      probe_fail (probe, "its connection broke");
      return FALSE;
    }
  if (soak_conn_wants_write (&probe->conn))
    pfd.events |= POLLOUT;
  if (poll (&pfd, 1, (int) ((wait_us + 999) / 1000)) < 0 && errno != EINTR)
    g_error ("poll: %s", g_strerror (errno));
  if ((pfd.revents & (POLLIN | POLLHUP | POLLERR)) &&
      soak_conn_read (&probe->conn, messages) <= 0)
    {
      probe_fail (probe, "the server closed its connection");
      return FALSE;
    }
  for (guint i = 0; i < messages->len; i++)
    probe_on_frame (probe, g_ptr_array_index (messages, i));
  return TRUE;
}

static gpointer
probe_thread (gpointer data)
{
  SoakProbe *probe = data;

  soak_conn_open (&probe->conn, probe->port, probe->source);
  while (!g_atomic_int_get (&probe->stop) && probe_step (probe))
    ;
  soak_conn_close (&probe->conn);
  return NULL;
}

/* Starts the probe; it connects from @source and runs until stopped. */
SoakProbe *
soak_probe_start (guint16 port,
                  const char *source,
                  const char *password,
                  guint interval_ms)
{
  SoakProbe *probe = g_new0 (SoakProbe, 1);

  probe->port = port;
  probe->source = g_strdup (source);
  probe->password = g_strdup (password);
  probe->interval_ms = interval_ms;
  probe->next_request = 1;
  probe->conn.fd = -1;
  probe->samples = g_array_new (FALSE, FALSE, sizeof (Sample));
  g_mutex_init (&probe->lock);
  g_cond_init (&probe->cond);
  probe->thread = g_thread_new ("soak-probe", probe_thread, probe);
  return probe;
}

/* Whether the probe joined within @timeout_ms. */
gboolean
soak_probe_wait_ready (SoakProbe *probe, guint timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  gboolean joined;

  g_mutex_lock (&probe->lock);
  while (!probe->ready)
    if (!g_cond_wait_until (&probe->cond, &probe->lock, deadline))
      break;
  joined = probe->ready && probe->error == NULL;
  g_mutex_unlock (&probe->lock);
  return joined;
}

/* Its client id: broadcasts reach it, and it acknowledges them. */
guint32
soak_probe_get_id (SoakProbe *probe)
{
  return (guint32) g_atomic_int_get ((gint *) &probe->id);
}

void
soak_probe_stop (SoakProbe *probe)
{
  if (probe->thread == NULL)
    return;
  g_atomic_int_set (&probe->stop, 1);
  g_thread_join (g_steal_pointer (&probe->thread));
}

static int
compare_rtt (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return (x > y) - (x < y);
}

/* The @p quantile (0 < p <= 1) of @rtts, which it sorts. */
static double
quantile_ms (GArray *rtts, double p)
{
  guint index;

  g_array_sort (rtts, compare_rtt);
  index = (guint) MAX (0.0, (double) rtts->len * p - 1e-9);
  return g_array_index (rtts, gint64, MIN (index, rtts->len - 1)) / 1000.0;
}

/* Prints one line for the samples taken from @from to @to (microseconds
 * from the first), and returns whether their p99 is within @bound_ms. */
static gboolean
report_window (SoakProbe *probe, gint64 from, gint64 to, double bound_ms)
{
  g_autoptr (GArray) rtts = g_array_new (FALSE, FALSE, sizeof (gint64));
  double p50, p99, max;

  for (guint i = 0; i < probe->samples->len; i++)
    {
      Sample *sample = &g_array_index (probe->samples, Sample, i);

      if (sample->at >= from && sample->at < to)
        g_array_append_val (rtts, sample->rtt);
    }
  if (rtts->len == 0)
    {
      printf ("    %3" G_GINT64_FORMAT "-%3" G_GINT64_FORMAT " s: no samples\n",
              from / G_USEC_PER_SEC, to / G_USEC_PER_SEC);
      return FALSE;
    }
  p50 = quantile_ms (rtts, 0.50);
  p99 = quantile_ms (rtts, 0.99);
  max = quantile_ms (rtts, 1.0);
  printf ("    %3" G_GINT64_FORMAT "-%3" G_GINT64_FORMAT
          " s: %5u round trips, p50 %6.2f ms, p99 %6.2f ms, max %7.2f ms%s\n",
          from / G_USEC_PER_SEC, to / G_USEC_PER_SEC, rtts->len, p50, p99, max,
          p99 > bound_ms ? "  OVER THE BOUND" : "");
  return p99 <= bound_ms;
}

/* Prints the latency per window of @window_s seconds and overall; TRUE
 * when nothing went wrong and every p99 is within @bound_ms. */
gboolean
soak_probe_report (SoakProbe *probe, guint window_s, double bound_ms)
{
  gint64 window = (gint64) window_s * G_USEC_PER_SEC;
  gint64 span, n_windows;
  gboolean ok = TRUE;

  g_assert (probe->thread == NULL);
  if (probe->samples->len == 0)
    {
      printf ("  innocent client: no round trips (%s)\n",
              probe->error ? probe->error : "never joined");
      return FALSE;
    }
  span = g_array_index (probe->samples, Sample, probe->samples->len - 1).at + 1;
  printf ("  innocent client (GET_TIME every %u ms; p99 bound %.0f ms):\n",
          probe->interval_ms, bound_ms);
  /* Whole windows; the last takes in what is left over. */
  n_windows = MAX (1, (span + window / 2) / window);
  for (gint64 k = 0; k < n_windows; k++)
    ok &=
      report_window (probe, k * window,
                     k == n_windows - 1 ? span : (k + 1) * window, bound_ms);
  printf ("    overall:\n");
  ok &= report_window (probe, 0, span, bound_ms);
  if (probe->error != NULL)
    {
      printf ("  innocent client: ERROR: %s\n", probe->error);
      ok = FALSE;
    }
  return ok;
}

void
soak_probe_free (SoakProbe *probe)
{
  soak_probe_stop (probe);
  g_array_unref (probe->samples);
  g_mutex_clear (&probe->lock);
  g_cond_clear (&probe->cond);
  g_free (probe->source);
  g_free (probe->password);
  g_free (probe->error);
  g_free (probe);
}
