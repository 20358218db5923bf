/* test-server-limits.c: the server's memory and fairness limits against
 * clients that are honest but slow, that never acknowledge, or that ask
 * for too much (docs/PROTOCOL.md 5.4 and 5.7, docs/RELIABILITY.md).  Each
 * test reproduces a finding that broke an earlier server. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-frame-reader.h"
#include "sc-test-peer.h"
#include "sc-outbox.h"
#include "sc-registry.h"
#include "sc-server-private.h"
#include "sc-test-server.h"

typedef ScTestServer Fixture;

static ScTestPeer *
join (Fixture *fixture, const char *nickname)
{
  ScTestPeer *peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = sc_test_peer_hello (peer, nickname);

  return peer;
}

/* Joins with a receive buffer of @rcvbuf bytes and the HELLO @flags. */
static ScTestPeer *
join_raw (Fixture *fixture, const char *nickname, int rcvbuf, guint16 flags)
{
  ScTestPeer *peer =
    sc_test_peer_connect_rcvbuf_at (fixture->port, rcvbuf, __FILE__, __LINE__);
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  g_autoptr (ScMessage) reply = NULL;

  hello->flags = flags;
  hello->name = g_strdup ("test-limits");
  hello->nickname = g_strdup (nickname);
  reply = sc_test_peer_request (peer, hello);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  return peer;
}

/* What a sender learnt about its messages. */
typedef struct
{
  GHashTable *outcomes; /* message id -> number of receipts */
  guint replies;
  guint accepted;
  guint refused_slow;
  guint refused_busy;
  guint refused_gone;
  guint receipts;
  guint receipt_frames;
  guint receipts_by_status[32];
  gboolean dropped;
} Ledger;

static void
ledger_init (Ledger *ledger)
{
  memset (ledger, 0, sizeof *ledger);
  ledger->outcomes =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
}

static void
ledger_clear (Ledger *ledger)
{
  g_hash_table_unref (ledger->outcomes);
}

static void
ledger_receipt (Ledger *ledger, guint64 id, ScStatus status)
{
  gpointer count = NULL;

  /* Exactly one outcome per accepted message. */
  g_assert_true (
    g_hash_table_lookup_extended (ledger->outcomes, &id, NULL, &count));
  g_assert_cmpuint (GPOINTER_TO_UINT (count), ==, 0);
  g_hash_table_insert (ledger->outcomes, g_memdup2 (&id, sizeof id),
                       GUINT_TO_POINTER (1));
  ledger->receipts++;
  ledger->receipts_by_status[MIN (status, 31)]++;
}

static void
ledger_take (Ledger *ledger, ScMessage *message)
{
  switch (message->type)
    {
    case SC_MSG_SEND_MESSAGE_REPLY:
      ledger->replies++;
      if (message->status == SC_STATUS_OK)
        {
          ledger->accepted++;
          g_hash_table_insert (
            ledger->outcomes,
            g_memdup2 (&message->message_id, sizeof (guint64)),
            GUINT_TO_POINTER (0));
        }
      else if (message->status == SC_STATUS_RECIPIENT_SLOW)
        ledger->refused_slow++;
      else if (message->status == SC_STATUS_NO_SUCH_CLIENT ||
               message->status == SC_STATUS_RECIPIENT_LEFT)
        ledger->refused_gone++; /* the recipient was dropped meanwhile */
      else
        {
          g_assert_cmpuint (message->status, ==, SC_STATUS_SERVER_BUSY);
          ledger->refused_busy++;
        }
      break;
    case SC_MSG_DELIVERY_RECEIPT:
      ledger->receipt_frames++;
      ledger_receipt (ledger, message->message_id, message->status);
      break;
    case SC_MSG_DELIVERY_RECEIPTS:
      ledger->receipt_frames++;
      for (guint i = 0; i < message->message_ids->len; i++)
        ledger_receipt (ledger,
                        g_array_index (message->message_ids, guint64, i),
                        message->status);
      break;
    case SC_MSG_PROTOCOL_ERROR: ledger->dropped = TRUE; break;
    default: break;
    }
}

/* Reads what has arrived for @peer, waiting at most @wait_ms for the
 * first frame and not at all for the rest.  Returns the frames read. */
static guint
ledger_drain (Ledger *ledger, ScTestPeer *peer, guint wait_ms)
{
  guint n = 0;

  for (;;)
    {
      g_autoptr (ScMessage) message =
        sc_test_peer_receive (peer, n == 0 ? wait_ms : 0);

      if (message == NULL)
        return n;
      ledger_take (ledger, message);
      n++;
    }
}

static guint
ledger_unresolved (Ledger *ledger)
{
  return ledger->accepted - ledger->receipts;
}

/* ------------------------------------------------------------------ */
/* Finding 1: honest readers slightly slower than their senders. */

static const ScTestServerOptions small_cap = { .output_cap = 128 * 1024 };

#define N_PAIRS 4

/* Each reader reads three of every four messages sent to it, steadily.
 * An earlier server kept everything ever queued for such a reader (2.7 GiB
 * for eight pairs in 90 s).  Now the server holds at most the output cap
 * per reader, senders are told RECIPIENT_SLOW for what does not fit, no
 * reader is dropped, and every accepted message gets exactly one
 * receipt. */
static void
test_steady_slow_readers (Fixture *fixture, gconstpointer data)
{
  ScTestPeer *senders[N_PAIRS], *readers[N_PAIRS];
  Ledger ledgers[N_PAIRS];
  /* Large enough that the backlog outgrows the kernel's socket buffers
   * (up to 4 MiB on loopback) and has to wait in the server. */
  g_autofree char *text = sc_test_text (20000, 'r');
  gsize max_held = 0;
  guint delivered = 0;

  for (guint i = 0; i < N_PAIRS; i++)
    {
      g_autofree char *name = g_strdup_printf ("reader%u", i);
      g_autofree char *sender_name = g_strdup_printf ("sender%u", i);

      readers[i] = join_raw (fixture, name, 8192, SC_FLAG_NO_PRESENCE);
      sc_test_peer_set_auto_ack (readers[i], TRUE);

      senders[i] = join_raw (fixture, sender_name, 0, SC_FLAG_NO_PRESENCE);
      ledger_init (&ledgers[i]);
    }
  for (guint round = 0; round < 400; round++)
    for (guint i = 0; i < N_PAIRS; i++)
      {
        sc_test_peer_send_batch (senders[i], sc_test_peer_get_id (readers[i]),
                                 text, 4);
        for (guint k = 0; k < 3; k++)
          {
            g_autoptr (ScMessage) message =
              sc_test_peer_receive (readers[i], 0);

            if (message != NULL && message->type == SC_MSG_MESSAGE)
              delivered++;
          }
        ledger_drain (&ledgers[i], senders[i], 0);
        max_held = MAX (max_held, sc_test_server_memory_held (fixture));
      }
  /* The readers catch up; everything accepted is accounted for. */
  for (guint i = 0; i < N_PAIRS; i++)
    {
      gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

      while (ledger_unresolved (&ledgers[i]) > 0 || ledgers[i].replies < 1600)
        {
          g_autoptr (ScMessage) message = sc_test_peer_receive (readers[i], 0);

          if (message != NULL && message->type == SC_MSG_MESSAGE)
            delivered++;
          ledger_drain (&ledgers[i], senders[i], message ? 0 : 10);
          if (g_get_monotonic_time () > deadline)
            g_error ("pair %u: %u replies, %u accepted, %u receipts", i,
                     ledgers[i].replies, ledgers[i].accepted,
                     ledgers[i].receipts);
        }
    }
  g_test_message ("%u delivered; most held for clients %" G_GSIZE_FORMAT
                  " bytes",
                  delivered, max_held);
  for (guint i = 0; i < N_PAIRS; i++)
    {
      g_test_message ("pair %u: accepted %u, refused %u, receipts %u", i,
                      ledgers[i].accepted, ledgers[i].refused_slow,
                      ledgers[i].receipts);
      g_assert_false (ledgers[i].dropped);
      g_assert_cmpuint (ledgers[i].refused_slow, >, 0);
      g_assert_cmpuint (ledgers[i].receipts_by_status[SC_STATUS_OK], ==,
                        ledgers[i].accepted);
      sc_test_peer_expect_none (senders[i], SC_MSG_CLIENT_LEFT, 0);
    }
  /* Per pair: the reader's output cap, the sender's read buffer (four
   * 20 KB frames pipelined: at most 128 KiB) and the unacknowledged
   * entries; nothing that grows with time. */
  g_assert_cmpuint (max_held, <=,
                    N_PAIRS * (128 * 1024 + 128 * 1024 + 16 * 1024));
  for (guint i = 0; i < N_PAIRS; i++)
    {
      sc_test_peer_free (senders[i]);
      sc_test_peer_free (readers[i]);
      ledger_clear (&ledgers[i]);
    }
}

/* ------------------------------------------------------------------ */
/* Finding 3: a recipient leaves with thousands of messages unacknowledged. */

static const ScTestServerOptions small_cap_many_unacked = {
  .output_cap = 65536,
  .max_unacked = 4096,
};

/* A sender with a 64 KiB output cap, reading promptly, is owed 3,000
 * failed receipts at once when the recipient leaves: about 220 KB of
 * DELIVERY_RECEIPT frames.  An earlier server queued them all and dropped
 * the sender for it; now they come as the sender reads, each exactly
 * once, and the sender stays. */
static void
check_mass_failure (Fixture *fixture, guint16 flags)
{
  g_autoptr (ScTestPeer) sender = join_raw (fixture, "sender", 0, flags);
  g_autoptr (ScTestPeer) mute = join_raw (fixture, "mute", 0, 0);
  g_autoptr (ScTestPeer) bystander = join (fixture, "bystander");
  g_autoptr (ScMessage) left = NULL;
  guint32 mute_id = sc_test_peer_get_id (mute);
  Ledger ledger;
  guint sent = 0;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  ledger_init (&ledger);
  sc_test_peer_set_auto_ack (mute, FALSE);
  while (sent < 3000)
    {
      sc_test_peer_send_batch (sender, mute_id, "never acknowledged", 100);
      sent += 100;
      while (ledger.replies < sent)
        {
          ledger_drain (&ledger, sender, 100);
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        }
      /* The mute client reads (so its queue stays small) but never
       * acknowledges. */
      for (;;)
        {
          g_autoptr (ScMessage) message = sc_test_peer_receive (mute, 0);

          if (message == NULL)
            break;
        }
      g_assert_cmpuint (ledger.refused_slow, ==, 0);
    }
  g_assert_cmpuint (ledger.accepted, ==, 3000);
  g_clear_pointer (&mute, sc_test_peer_free);
  while (ledger.receipts < ledger.accepted)
    {
      ledger_drain (&ledger, sender, 100);
      g_assert_false (ledger.dropped);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  g_test_message ("%u accepted, %u receipts in %u frames", ledger.accepted,
                  ledger.receipts, ledger.receipt_frames);
  g_assert_cmpuint (ledger.receipts_by_status[SC_STATUS_RECIPIENT_LEFT], ==,
                    ledger.accepted);
  if (flags & SC_FLAG_RECEIPT_BATCHES)
    g_assert_cmpuint (ledger.receipt_frames, <, ledger.accepted / 100);
  else
    g_assert_cmpuint (ledger.receipt_frames, ==, ledger.accepted);
  /* Still connected and served. */
  {
    g_autoptr (ScMessage) reply =
      sc_test_peer_request (sender, sc_message_new (SC_MSG_GET_NAME, 0));

    g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  }
  left = sc_test_peer_expect (bystander, SC_MSG_CLIENT_LEFT);
  g_assert_cmpuint (left->client_id, ==, mute_id);
  ledger_clear (&ledger);
}

static void
test_mass_failure_single (Fixture *fixture, gconstpointer data)
{
  check_mass_failure (fixture, SC_FLAG_NO_PRESENCE);
}

static void
test_mass_failure_batched (Fixture *fixture, gconstpointer data)
{
  check_mass_failure (fixture, SC_FLAG_NO_PRESENCE | SC_FLAG_RECEIPT_BATCHES);
}

/* ------------------------------------------------------------------ */
/* Finding 2: the memory bound. */

static const ScTestServerOptions small_budget = {
  .output_cap = 1024 * 1024,
  .max_memory = 2 * 1024 * 1024,
};

#define N_STALLED 8

/* Eight clients that never read could hold 8 × 512 KiB of messages before
 * the per-client limit; the server's budget is 2 MiB.  Past it, messages
 * are refused with SERVER_BUSY, the clients holding the most are dropped
 * with CLIENT_LEFT (status 6, reason "too slow: ..."), what the server
 * holds stays near the budget, and a client that behaves is served
 * throughout. */
static void
test_memory_budget (Fixture *fixture, gconstpointer data)
{
  ScTestPeer *stalled[N_STALLED];
  g_autoptr (ScTestPeer) sender = join_raw (fixture, "sender", 0, 0);
  g_autoptr (ScTestPeer) innocent = join (fixture, "innocent");
  g_autofree char *text = sc_test_text (30000, 'm');
  Ledger ledger;
  gsize max_held = 0;
  guint dropped = 0;
  gint64 deadline = g_get_monotonic_time () + 20 * G_USEC_PER_SEC;

  ledger_init (&ledger);
  for (guint i = 0; i < N_STALLED; i++)
    {
      g_autofree char *name = g_strdup_printf ("stalled%u", i);

      stalled[i] = join_raw (fixture, name, 4096, SC_FLAG_NO_PRESENCE);
    }
  while (dropped < 2 || ledger.refused_busy == 0)
    {
      g_autoptr (ScMessage) reply = NULL;

      for (guint i = 0; i < N_STALLED; i++)
        sc_test_peer_send_batch (sender, sc_test_peer_get_id (stalled[i]), text,
                                 1);
      ledger_drain (&ledger, sender, 5);
      for (;;)
        {
          g_autoptr (ScMessage) left =
            sc_test_peer_try_expect (innocent, SC_MSG_CLIENT_LEFT, 0);

          if (left == NULL)
            break;
          g_assert_cmpuint (left->status, ==, SC_STATUS_RECIPIENT_SLOW);
          g_assert_true (g_str_has_prefix (left->reason, "too slow"));
          dropped++;
        }
      max_held = MAX (max_held, sc_test_server_memory_held (fixture));
      reply =
        sc_test_peer_request (innocent, sc_message_new (SC_MSG_GET_TIME, 0));
      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  g_test_message ("dropped %u, refused busy %u, refused slow %u, most held "
                  "%" G_GSIZE_FORMAT,
                  dropped, ledger.refused_busy, ledger.refused_slow, max_held);
  /* One frame per worker may land between a check and the next. */
  g_assert_cmpuint (max_held, <=, 2 * 1024 * 1024 + 4 * 64 * 1024);
  for (guint i = 0; i < N_STALLED; i++)
    sc_test_peer_free (stalled[i]);
  while (ledger_unresolved (&ledger) > 0)
    {
      ledger_drain (&ledger, sender, 100);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    }
  sc_test_server_wait_memory_below (fixture, 64 * 1024, 5000);
  ledger_clear (&ledger);
}

/* ------------------------------------------------------------------ */
/* Finding 9: broadcast storms. */

/* Clients that read everything sent to them and acknowledge it, from a
 * thread of their own: the audience of a storm. */
typedef struct
{
  GPtrArray *peers; /* ScTestPeer*, never read by the test thread */
  GThread *thread;
  gint stop;        /* atomic */
  guint64 received; /* read after join */
} Audience;

static void
audience_read (ScTestPeer *peer, ScFrameReader *reader, Audience *audience)
{
  int fd = sc_test_peer_get_fd (peer);
  g_autoptr (GByteArray) acks = g_byte_array_new ();
  ScFrameHeader header;
  const guint8 *payload;
  gsize room;
  guint8 *buffer = sc_frame_reader_reserve (reader, 65536, &room);
  ssize_t n = recv (fd, buffer, room, MSG_DONTWAIT);

  if (n <= 0)
    return;
  sc_frame_reader_commit (reader, (gsize) n);
  while (sc_frame_reader_next (reader, &header, &payload, NULL) ==
         SC_FRAME_READY)
    {
      g_autoptr (ScMessage) message =
        sc_message_decode (&header, payload, NULL);
      ScMessage ack;

      if (message == NULL || message->type != SC_MSG_MESSAGE)
        continue;
      sc_message_init (&ack, SC_MSG_MESSAGE_ACK, 0);
      ack.message_id = message->message_id;
      sc_message_append_frame (&ack, acks);
      audience->received++;
    }
  if (acks->len > 0)
    g_assert_cmpint (send (fd, acks->data, acks->len, MSG_NOSIGNAL), ==,
                     (gssize) acks->len);
}

static gpointer
audience_thread (gpointer data)
{
  Audience *audience = data;
  int epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  GPtrArray *readers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_frame_reader_free);

  for (guint i = 0; i < audience->peers->len; i++)
    {
      struct epoll_event event = { EPOLLIN, { .u32 = i } };

      g_ptr_array_add (readers, sc_frame_reader_new (1 << 20));
      g_assert_no_errno (epoll_ctl (
        epoll_fd, EPOLL_CTL_ADD,
        sc_test_peer_get_fd (g_ptr_array_index (audience->peers, i)), &event));
    }
  while (!g_atomic_int_get (&audience->stop))
    {
      struct epoll_event events[64];
      int n = epoll_wait (epoll_fd, events, G_N_ELEMENTS (events), 20);

      for (int i = 0; i < n; i++)
        audience_read (g_ptr_array_index (audience->peers, events[i].data.u32),
                       g_ptr_array_index (readers, events[i].data.u32),
                       audience);
    }
  close (epoll_fd);
  g_ptr_array_unref (readers);
  return NULL;
}

/* p99 of GET_TIME round trips, in microseconds: at least @n of them, for
 * at least @duration_ms, and until *@until_set is non-zero (when given;
 * at most 60 s). */
static gint64
request_p99 (ScTestPeer *peer, guint n, guint duration_ms, gint *until_set)
{
  g_autoptr (GArray) samples = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 now = g_get_monotonic_time ();
  gint64 until = now + duration_ms * 1000;
  gint64 deadline = now + 60 * G_USEC_PER_SEC;

  for (guint i = 0; i < n || g_get_monotonic_time () < until ||
                    (until_set && !g_atomic_int_get (until_set) &&
                     g_get_monotonic_time () < deadline);
       i++)
    {
      gint64 start = g_get_monotonic_time ();
      g_autoptr (ScMessage) reply =
        sc_test_peer_request (peer, sc_message_new (SC_MSG_GET_TIME, 0));
      gint64 took = g_get_monotonic_time () - start;

      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
      g_array_append_val (samples, took);
    }
  g_array_sort (samples, (GCompareFunc) sc_test_compare_int64);
  return g_array_index (samples, gint64, samples->len * 99 / 100);
}

typedef struct
{
  Fixture *fixture;
  ScTestPeer *storm;
  gint stop; /* atomic */
  guint sent;
  guint limited;
  gint limited_seen; /* atomic: a RATE_LIMITED reply came */
  guint accepted;
} Storm;

/* Broadcasts as fast as the server answers, 16 at a time. */
static gpointer
storm_thread (gpointer data)
{
  Storm *storm = data;

  while (!g_atomic_int_get (&storm->stop))
    {
      g_autoptr (GByteArray) frames = g_byte_array_new ();

      for (guint i = 0; i < 16; i++)
        {
          g_autoptr (ScMessage) request = sc_message_new (
            SC_MSG_BROADCAST, sc_test_peer_next_request_id (storm->storm));

          request->text = g_strdup ("storm");
          sc_message_append_frame (request, frames);
        }
      sc_test_peer_send_raw (storm->storm, frames->data, frames->len);
      storm->sent += 16;
      for (guint i = 0; i < 16;)
        {
          g_autoptr (ScMessage) message =
            sc_test_peer_receive (storm->storm, 5000);

          g_assert_nonnull (message);
          if (message->type != SC_MSG_BROADCAST_REPLY)
            continue;
          i++;
          if (message->status == SC_STATUS_RATE_LIMITED)
            {
              storm->limited++;
              g_atomic_int_set (&storm->limited_seen, 1);
            }
          else
            storm->accepted++;
        }
    }
  return NULL;
}

/* A budget of 2,000 units a second (10 broadcasts to the audience): any
 * build, sanitized ones included, can send faster than that. */
#define STORM_FANOUT_RATE 2000

static const ScTestServerOptions storm_options = {
  .max_clients = 512,
  .fanout_rate = STORM_FANOUT_RATE,
};

#define AUDIENCE 200

/* One client broadcasting without pause to 200 readers.  An earlier
 * server served every broadcast, and an innocent client's request p99 went
 * from well under a millisecond to 487 ms.  Now the stormer is told
 * RATE_LIMITED once it has used its share, waits before more of its
 * requests are read, and its broadcasts are spread over the worker's
 * rounds.
 *
 * The latency bound (p99 within 3 times the idle p99) is a wall-clock
 * measurement, so it is asserted only in the perf suite
 * (SC_TEST_PERF=1, meson test --suite perf), on a machine not busy with
 * other work; the default run asserts the rate limit and a bound loose
 * enough for any machine. */
static void
test_broadcast_storm (Fixture *fixture, gconstpointer data)
{
  Audience audience = { 0 };
  Storm storm = { fixture };
  g_autoptr (ScTestPeer) innocent =
    join_raw (fixture, "innocent", 0, SC_FLAG_NO_PRESENCE);
  gint64 idle_p99, storm_p99, storm_start;
  double storm_s;

  audience.peers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_test_peer_free);
  for (guint i = 0; i < AUDIENCE; i++)
    {
      g_autofree char *name = g_strdup_printf ("audience%u", i);

      g_ptr_array_add (audience.peers,
                       join_raw (fixture, name, 0, SC_FLAG_NO_PRESENCE));
    }
  storm.storm = join_raw (fixture, "storm", 0, SC_FLAG_NO_PRESENCE);
  audience.thread = g_thread_new ("audience", audience_thread, &audience);

  idle_p99 = request_p99 (innocent, 1000, 1000, NULL);
  storm.fixture = fixture;
  {
    GThread *thread = g_thread_new ("storm", storm_thread, &storm);

    storm_start = g_get_monotonic_time ();
    storm_p99 = request_p99 (innocent, 1000, 3000, &storm.limited_seen);
    g_atomic_int_set (&storm.stop, 1);
    g_thread_join (thread);
    storm_s = (g_get_monotonic_time () - storm_start) / (double) G_USEC_PER_SEC;
  }
  g_atomic_int_set (&audience.stop, 1);
  g_thread_join (audience.thread);
  g_test_message ("idle p99 %" G_GINT64_FORMAT
                  " us, during the storm %" G_GINT64_FORMAT
                  " us; storm sent %u broadcasts, %u served, "
                  "%u rate-limited; audience received %" G_GUINT64_FORMAT,
                  idle_p99, storm_p99, storm.sent, storm.accepted,
                  storm.limited, audience.received);
  g_assert_cmpuint (storm.limited, >, 0);
  /* At most the budget's rate, one second saved up, and the batch in
   * flight when the budget ran out. */
  g_assert_cmpuint (storm.accepted, <=,
                    (storm_s + 1) * STORM_FANOUT_RATE / (AUDIENCE + 1) + 16);
  if (g_getenv ("SC_TEST_PERF") != NULL)
    g_assert_cmpint (storm_p99, <=, 3 * idle_p99);
  else
    g_assert_cmpint (storm_p99, <, 500 * 1000);
  sc_test_peer_free (storm.storm);
  g_ptr_array_unref (audience.peers);
}

/* ------------------------------------------------------------------ */
/* Affinity: two clients that talk to each other end on one worker. */

static ScWorker *
owner_of (Fixture *fixture, guint32 id)
{
  g_autoptr (ScOutbox) outbox =
    sc_registry_lookup_ready (fixture->server->registry, id);

  g_assert_nonnull (outbox);
  return sc_outbox_get_owner (outbox);
}

static const ScTestServerOptions two_workers = { .threads = 2 };

/* Clients 1 and 2 start on different workers (ids go round robin); after
 * a few hundred messages back and forth they share one, every message has
 * been delivered once and receipted once, and they go on talking. */
static void
test_affinity_pair (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "a");
  g_autoptr (ScTestPeer) b = join (fixture, "b");
  guint32 id_a = sc_test_peer_get_id (a), id_b = sc_test_peer_get_id (b);
  Ledger ledger;

  sc_test_peer_set_auto_ack (b, TRUE);
  g_assert_true (owner_of (fixture, id_a) != owner_of (fixture, id_b));
  ledger_init (&ledger);
  for (guint round = 0; round < 10; round++)
    {
      guint received = 0;

      sc_test_peer_send_batch (a, id_b, "hello b", 50);
      while (received < 50)
        {
          g_autoptr (ScMessage) message =
            sc_test_peer_expect (b, SC_MSG_MESSAGE);

          g_assert_cmpstr (message->text, ==, "hello b");
          received++;
        }
      while (ledger.receipts < ledger.accepted ||
             ledger.replies < 50 * (round + 1))
        ledger_drain (&ledger, a, 100);
    }
  g_assert_cmpuint (ledger.accepted, ==, 500);
  g_assert_cmpuint (ledger.receipts_by_status[SC_STATUS_OK], ==, 500);
  g_assert_true (owner_of (fixture, id_a) == owner_of (fixture, id_b));
  sc_test_peer_expect_none (b, SC_MSG_MESSAGE, 50);
  ledger_clear (&ledger);
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);

#define ADD(path, options, func)                                  \
  g_test_add (path, Fixture, options, sc_test_server_setup, func, \
              sc_test_server_teardown)

  ADD ("/server/limits/steady-slow-readers", &small_cap,
       test_steady_slow_readers);
  ADD ("/server/limits/mass-failure-single", &small_cap_many_unacked,
       test_mass_failure_single);
  ADD ("/server/limits/mass-failure-batched", &small_cap_many_unacked,
       test_mass_failure_batched);
  ADD ("/server/limits/memory-budget", &small_budget, test_memory_budget);
  ADD ("/server/limits/broadcast-storm", &storm_options, test_broadcast_storm);
  ADD ("/server/affinity/pair", &two_workers, test_affinity_pair);
  return g_test_run ();
}
