/* test-outbox.c: unit tests of the server's output side and registry,
 * without a running server: the chunk queue against a socketpair, the
 * outbox's caps, unacknowledged table and owed receipts, the memory
 * budget, and the registry's list pages and snapshots.  The server and
 * one worker are created but never started; the test calls what a worker
 * would call. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-frame-reader.h"
#include "sc-out-queue.h"
#include "sc-outbox.h"
#include "sc-registry.h"
#include "sc-server-private.h"
#include "sc-test-server.h"
#include "sc-worker.h"

typedef struct
{
  ScServerConfig *config;
  ScServer *server;
  ScWorker *worker;
  int fds[2]; /* [0] the server's end, [1] the client's */
} Fixture;

static void
set_buffers (int fd, int bytes)
{
  g_assert_no_errno (
    setsockopt (fd, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes));
  g_assert_no_errno (
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes));
}

static void
fixture_setup (Fixture *fixture, gconstpointer data)
{
  const ScTestServerOptions *options = data;
  g_autoptr (GError) error = NULL;

  fixture->config = sc_server_config_new ();
  if (options && options->output_cap)
    fixture->config->output_cap = options->output_cap;
  if (options && options->max_unacked)
    fixture->config->max_unacked = options->max_unacked;
  if (options && options->max_memory)
    fixture->config->max_memory = options->max_memory;
  fixture->server = sc_server_new (fixture->config);
  fixture->worker = sc_worker_new (fixture->server, 0, &error);
  g_assert_no_error (error);
  g_assert_no_errno (
    socketpair (AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fixture->fds));
  /* Small buffers, so that a test can fill the socket. */
  set_buffers (fixture->fds[0], 4096);
  set_buffers (fixture->fds[1], 4096);
}

static void
fixture_teardown (Fixture *fixture, gconstpointer data)
{
  if (fixture->fds[0] >= 0)
    close (fixture->fds[0]);
  close (fixture->fds[1]);
  sc_worker_free (fixture->worker);
  sc_server_free (fixture->server);
  sc_server_config_free (fixture->config);
}

/* Reads whatever the socket has, without waiting. */
static gsize
drain_socket (int fd, GByteArray *into)
{
  guint8 buffer[65536];
  gsize total = 0;
  ssize_t n;

  while ((n = recv (fd, buffer, sizeof buffer, MSG_DONTWAIT)) > 0)
    {
      if (into)
        g_byte_array_append (into, buffer, (guint) n);
      total += (gsize) n;
    }
  g_assert_true (n == 0 || errno == EAGAIN || errno == EWOULDBLOCK);
  return total;
}

/* ------------------------------------------------------------------ */
/* ScOutQueue */

static void
test_queue_order_and_release (Fixture *fixture, gconstpointer data)
{
  ScOutQueue queue;
  g_autoptr (GByteArray) expected = g_byte_array_new ();
  g_autoptr (GByteArray) received = g_byte_array_new ();
  gsize written = 0;
  int errsv = 0;

  sc_out_queue_init (&queue);
  /* Frames of many sizes, one larger than a chunk. */
  for (guint i = 0; i < 200; i++)
    {
      gsize size = i == 100 ? SC_OUT_QUEUE_CHUNK_SIZE * 3 : 1 + i * 37 % 3000;
      g_autofree guint8 *frame = g_malloc (size);

      memset (frame, 'a' + i % 26, size);
      sc_out_queue_append (&queue, frame, size);
      g_byte_array_append (expected, frame, (guint) size);
    }
  g_assert_cmpuint (sc_out_queue_pending (&queue), ==, expected->len);
  g_assert_cmpuint (sc_out_queue_held (&queue), >=, expected->len);

  /* The socket takes a few KiB at a time: written chunks are freed as it
   * goes, so what the queue holds shrinks with what is left to send. */
  while (sc_out_queue_pending (&queue) > 0)
    {
      ScOutQueueResult result =
        sc_out_queue_write (&queue, fixture->fds[0], &written, &errsv);

      g_assert_cmpint (result, !=, SC_OUT_QUEUE_FAILED);
      /* Beyond the unsent bytes: the sent part of the head chunk, the
       * room left in the tail, the spare, and each chunk's header. */
      g_assert_cmpuint (sc_out_queue_held (&queue), <=,
                        sc_out_queue_pending (&queue) +
                          3 * SC_OUT_QUEUE_CHUNK_SIZE + 64 * 64);
      drain_socket (fixture->fds[1], received);
    }
  drain_socket (fixture->fds[1], received);
  g_assert_cmpuint (written, ==, expected->len);
  g_assert_cmpmem (received->data, received->len, expected->data,
                   expected->len);
  /* One spare chunk at most is kept, and given back on request. */
  g_assert_cmpuint (sc_out_queue_held (&queue), <=,
                    SC_OUT_QUEUE_CHUNK_SIZE + 64);
  sc_out_queue_release_spare (&queue);
  g_assert_cmpuint (sc_out_queue_held (&queue), ==, 0);
  sc_out_queue_clear (&queue);
}

/* A queue that never quite empties does not keep what it sent: the
 * finding behind this design (2.7 GiB for honest slow readers). */
static void
test_queue_steady_reader (Fixture *fixture, gconstpointer data)
{
  ScOutQueue queue;
  guint8 frame[1000];
  gsize written = 0, max_held = 0;
  int errsv = 0;

  memset (frame, 'x', sizeof frame);
  sc_out_queue_init (&queue);
  for (guint round = 0; round < 2000; round++)
    {
      /* Five frames in, then the reader takes about four frames' worth:
       * the backlog grows until the socket is full, and the writer keeps
       * appending behind what is left. */
      for (guint i = 0; i < 5; i++)
        sc_out_queue_append (&queue, frame, sizeof frame);
      (void) sc_out_queue_write (&queue, fixture->fds[0], &written, &errsv);
      if (round % 5 != 4)
        {
          guint8 sink[4000];

          (void) !recv (fixture->fds[1], sink, sizeof sink, MSG_DONTWAIT);
        }
      max_held = MAX (max_held, sc_out_queue_held (&queue) -
                                  sc_out_queue_pending (&queue));
      if (sc_out_queue_pending (&queue) > 400 * 1000)
        break;
    }
  /* Overhead beyond the unsent bytes: the partly sent head chunk, the
   * tail chunk's free room and the spare. */
  g_test_message ("most held beyond the unsent bytes: %" G_GSIZE_FORMAT,
                  max_held);
  g_assert_cmpuint (max_held, <=, 3 * (SC_OUT_QUEUE_CHUNK_SIZE + 64));
  sc_out_queue_clear (&queue);
}

/* ------------------------------------------------------------------ */
/* ScOutbox */

static ScOutbox *
new_outbox (Fixture *fixture, guint32 id)
{
  return sc_outbox_new (fixture->server, fixture->worker, id, fixture->fds[0],
                        NULL);
}

static GBytes *
message_frame (guint64 message_id, gsize text_length)
{
  g_autofree char *text = sc_test_text (text_length, 't');
  ScMessage message;
  ScClientInfo sender = { 1, 4000, 0, (char *) "alice", (char *) "::1" };

  sc_message_init (&message, SC_MSG_MESSAGE, 0);
  message.message_id = message_id;
  message.sender = sender;
  message.text = text;
  return sc_message_encode (&message);
}

/* Decodes every frame in @bytes, checking each is whole and valid. */
static GPtrArray *
decode_all (GByteArray *bytes)
{
  g_autoptr (ScFrameReader) reader = sc_frame_reader_new (1 << 20);
  GPtrArray *messages =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_message_free);
  ScFrameHeader header;
  const guint8 *payload;

  sc_frame_reader_feed (reader, bytes->data, bytes->len);
  while (sc_frame_reader_next (reader, &header, &payload, NULL) ==
         SC_FRAME_READY)
    {
      g_autoptr (GError) error = NULL;
      ScMessage *message = sc_message_decode (&header, payload, &error);

      g_assert_no_error (error);
      g_ptr_array_add (messages, message);
    }
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, 0);
  return messages;
}

static const ScTestServerOptions three_unacked = { .max_unacked = 3 };

/* With room for one more message: a reservation holds it, so a message
 * another worker offers meanwhile is refused, and the reserved one is
 * queued although the limit is reached by then. */
static void
assert_reserved_room_kept (Fixture *fixture, ScOutbox *outbox)
{
  g_autoptr (GBytes) frame = message_frame (1000, 10);

  g_assert_cmpint (sc_outbox_reserve (outbox, 1000, g_bytes_get_size (frame)),
                   ==, SC_STATUS_OK);
  g_assert_cmpint (sc_outbox_reserve (outbox, 1001, 10), ==,
                   SC_STATUS_RECIPIENT_SLOW);
  g_assert_cmpint (
    sc_outbox_deliver (outbox, frame, 1002, 1, TRUE, fixture->worker), ==,
    SC_STATUS_RECIPIENT_SLOW);
  g_assert_cmpint (sc_outbox_deliver_reserved (outbox, frame, 1000, 104, TRUE,
                                               fixture->worker),
                   ==, SC_STATUS_OK);
  g_assert_cmpuint (sc_outbox_get_unacked (outbox), ==, 3);
}

static void
test_outbox_unacked (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScOutbox) outbox = new_outbox (fixture, 7);
  g_autoptr (GHashTable) unacked = NULL;
  guint32 sender = 0;

  for (guint64 id = 1; id <= 3; id++)
    {
      g_autoptr (GBytes) frame = message_frame (id, 10);

      g_assert_cmpint (sc_outbox_deliver (outbox, frame, id, 100 + (guint) id,
                                          TRUE, fixture->worker),
                       ==, SC_STATUS_OK);
    }
  /* Full: refused, not dropped. */
  g_assert_cmpint (sc_outbox_reserve (outbox, 1000, 10), ==,
                   SC_STATUS_RECIPIENT_SLOW);
  g_assert_cmpuint (sc_outbox_get_unacked (outbox), ==, 3);
  g_assert_false (sc_outbox_overflowed (outbox));

  /* An acknowledgement names its sender once; a repeat or an unknown id
   * changes nothing. */
  g_assert_true (sc_outbox_take_pending_ack (outbox, 2, &sender));
  g_assert_cmpuint (sender, ==, 102);
  g_assert_false (sc_outbox_take_pending_ack (outbox, 2, &sender));
  g_assert_false (sc_outbox_take_pending_ack (outbox, 99, &sender));
  assert_reserved_room_kept (fixture, outbox);

  unacked = sc_outbox_close_socket (outbox, FALSE);
  fixture->fds[0] = -1;
  g_assert_cmpuint (g_hash_table_size (unacked), ==, 3);
  g_assert_nonnull (g_hash_table_lookup (unacked, &(guint64){ 1 }));
  g_assert_nonnull (g_hash_table_lookup (unacked, &(guint64){ 3 }));
  g_assert_nonnull (g_hash_table_lookup (unacked, &(guint64){ 1000 }));
  g_assert_cmpint (sc_outbox_reserve (outbox, 1000, 10), ==,
                   SC_STATUS_RECIPIENT_LEFT);
}

static const ScTestServerOptions small_cap = { .output_cap = 65536 };

/* Messages stop at half the cap (the client stays); replies and notices
 * may go on to the cap, past which the client is dropped. */
static void
test_outbox_caps (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScOutbox) outbox = new_outbox (fixture, 7);
  g_autoptr (GBytes) notice = message_frame (0, 4000);
  guint64 id = 0;
  g_autoptr (GHashTable) unacked = NULL;

  for (;;)
    {
      g_autoptr (GBytes) frame = message_frame (++id, 4000);
      ScStatus status =
        sc_outbox_deliver (outbox, frame, id, 1, TRUE, fixture->worker);

      if (status != SC_STATUS_OK)
        {
          g_assert_cmpint (status, ==, SC_STATUS_RECIPIENT_SLOW);
          break;
        }
      sc_outbox_flush (outbox, fixture->worker);
      g_assert_cmpuint (id, <, 1000);
    }
  g_assert_false (sc_outbox_overflowed (outbox));
  g_assert_cmpuint (sc_outbox_get_held (outbox), <=, 65536);
  while (sc_outbox_send_frame (outbox, notice, fixture->worker))
    g_assert_cmpuint (sc_outbox_get_held (outbox), <=, 65536);
  g_assert_true (sc_outbox_overflowed (outbox));
  g_assert_cmpint (sc_outbox_reserve (outbox, 1000, 10), ==,
                   SC_STATUS_RECIPIENT_SLOW);
  unacked = sc_outbox_close_socket (outbox, FALSE);
  fixture->fds[0] = -1;
  g_assert_cmpuint (sc_server_get_memory_held (fixture->server), <=,
                    sc_outbox_get_unacked (outbox) * SC_OUTBOX_UNACKED_COST);
}

/* Thousands of receipts owed at once reach a sender with a 64 KiB cap,
 * never more than half of it queued, each exactly once and in order. */
static void
check_owed_receipts (Fixture *fixture, gboolean batches)
{
  g_autoptr (ScOutbox) outbox = new_outbox (fixture, 7);
  g_autoptr (GByteArray) received = g_byte_array_new ();
  g_autoptr (GPtrArray) messages = NULL;
  const guint n = 5000;
  guint64 next = 1;
  guint frames_seen = 0;

  sc_outbox_set_batch_receipts (outbox, batches);
  for (guint64 id = 1; id <= n; id++)
    sc_outbox_owe_receipt (outbox, id, 9, SC_STATUS_RECIPIENT_LEFT,
                           fixture->worker);
  g_assert_cmpuint (sc_outbox_get_owed (outbox), ==, n);
  /* The sender reads what the socket holds after every flush, until
   * nothing more comes. */
  for (guint round = 0;; round++)
    {
      gsize got;

      sc_outbox_flush (outbox, fixture->worker);
      g_assert_false (sc_outbox_overflowed (outbox));
      g_assert_cmpuint (sc_outbox_get_held (outbox), <=,
                        65536 / 2 + SC_OUT_QUEUE_CHUNK_SIZE * 3 +
                          n * SC_OUTBOX_OWED_COST);
      got = drain_socket (fixture->fds[1], received);
      if (got == 0 && sc_outbox_get_owed (outbox) == 0)
        break;
      g_assert_cmpuint (round, <, 100000);
    }
  messages = decode_all (received);
  for (guint i = 0; i < messages->len; i++)
    {
      ScMessage *message = g_ptr_array_index (messages, i);

      g_assert_cmpuint (message->peer_id, ==, 9);
      g_assert_cmpuint (message->status, ==, SC_STATUS_RECIPIENT_LEFT);
      g_assert_cmpstr (message->reason, ==, "the recipient left");
      if (message->type == SC_MSG_DELIVERY_RECEIPT)
        g_assert_cmpuint (message->message_id, ==, next++);
      else
        {
          g_assert_true (batches);
          g_assert_cmpuint (message->type, ==, SC_MSG_DELIVERY_RECEIPTS);
          for (guint j = 0; j < message->message_ids->len; j++)
            g_assert_cmpuint (g_array_index (message->message_ids, guint64, j),
                              ==, next++);
        }
      frames_seen++;
    }
  g_assert_cmpuint (next, ==, n + 1);
  g_test_message ("%u receipts in %u frames", n, frames_seen);
  if (batches)
    g_assert_cmpuint (frames_seen, <, n / 100);
  else
    g_assert_cmpuint (frames_seen, ==, n);
  g_assert_null (sc_outbox_close_socket (outbox, FALSE));
  fixture->fds[0] = -1;
}

static void
test_outbox_owed_single (Fixture *fixture, gconstpointer data)
{
  check_owed_receipts (fixture, FALSE);
}

static void
test_outbox_owed_batched (Fixture *fixture, gconstpointer data)
{
  check_owed_receipts (fixture, TRUE);
}

static const ScTestServerOptions small_budget = { .max_memory = 1 << 20 };

/* Everything an outbox holds is charged to the server's budget, and new
 * messages are refused with SERVER_BUSY while it is exceeded. */
static void
test_outbox_budget (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScOutbox) outbox = new_outbox (fixture, 7);
  g_autoptr (GHashTable) unacked = NULL;
  guint64 id = 0;

  g_assert_cmpuint (sc_server_get_memory_held (fixture->server), ==, 0);
  sc_outbox_set_reader_held (outbox, 900 * 1024);
  g_assert_cmpuint (sc_server_get_memory_held (fixture->server), ==,
                    900 * 1024);
  g_assert_false (sc_server_memory_exceeded (fixture->server));
  while (!sc_server_memory_exceeded (fixture->server))
    {
      g_autoptr (GBytes) frame = message_frame (++id, 10000);

      g_assert_cmpint (
        sc_outbox_deliver (outbox, frame, id, 1, TRUE, fixture->worker), ==,
        SC_STATUS_OK);
      g_assert_cmpuint (sc_server_get_memory_held (fixture->server), ==,
                        sc_outbox_get_held (outbox));
    }
  g_assert_cmpint (sc_outbox_reserve (outbox, 1000, 10), ==,
                   SC_STATUS_SERVER_BUSY);
  unacked = sc_outbox_close_socket (outbox, FALSE);
  fixture->fds[0] = -1;
  g_assert_false (sc_server_memory_exceeded (fixture->server));
  g_clear_pointer (&outbox, sc_outbox_unref);
  g_assert_cmpuint (sc_server_get_memory_held (fixture->server), ==, 0);
}

/* ------------------------------------------------------------------ */
/* ScRegistry */

static ScClientInfo *
info_for (guint32 id)
{
  ScClientInfo *info = sc_client_info_new ();

  info->id = id;
  info->port = (guint16) (10000 + id);
  info->nickname = g_strdup_printf ("client-%u", id);
  info->address = g_strdup ("127.0.0.1");
  return info;
}

static void
add_clients (Fixture *fixture, ScRegistry *registry, guint n, gboolean ready)
{
  for (guint32 id = 1; id <= n; id++)
    {
      g_autoptr (ScOutbox) outbox =
        sc_outbox_new (fixture->server, fixture->worker, id, -1, NULL);
      ScClientInfo *info = info_for (id);

      sc_registry_add (registry, info, outbox);
      sc_registry_set_presence (registry, id, TRUE);
      if (ready)
        sc_registry_set_ready (registry, id, info->nickname, NULL, NULL);
      sc_client_info_free (info);
    }
}

static void
test_registry_pages (Fixture *fixture, gconstpointer data)
{
  ScRegistry *registry = sc_registry_new ();
  guint32 after = 0;
  guint seen = 0, pages = 0;
  gboolean more = TRUE;

  add_clients (fixture, registry, 100, TRUE);
  /* Client 50 has not said hello: neither listed nor reachable. */
  sc_registry_remove (registry, 50);
  {
    g_autoptr (ScOutbox) outbox =
      sc_outbox_new (fixture->server, fixture->worker, 50, -1, NULL);
    ScClientInfo *info = info_for (50);

    sc_registry_add (registry, info, outbox);
    sc_client_info_free (info);
  }
  g_assert_null (sc_registry_lookup_ready (registry, 50));
  g_assert_cmpuint (sc_registry_count_ready (registry), ==, 99);

  while (more)
    {
      g_autoptr (GPtrArray) page =
        sc_registry_list_page (registry, after, 400, 0, FALSE, &more);
      gsize bytes = 0;

      g_assert_cmpuint (page->len, >, 0);
      for (guint i = 0; i < page->len; i++)
        {
          ScClientInfo *info = g_ptr_array_index (page, i);

          g_assert_cmpuint (info->id, >, after);
          g_assert_cmpuint (info->id, !=, 50);
          after = info->id;
          bytes += 4 + 2 + 8 + 2 + strlen (info->nickname) + 2 +
                   strlen (info->address);
          seen++;
        }
      g_assert_cmpuint (bytes, <=, 400);
      pages++;
    }
  g_assert_cmpuint (seen, ==, 99);
  g_assert_cmpuint (after, ==, 100);
  g_assert_cmpuint (pages, >, 1);
  sc_registry_free (registry);
}

static void
test_registry_snapshot (Fixture *fixture, gconstpointer data)
{
  ScRegistry *registry = sc_registry_new ();
  g_autoptr (ScRegistrySnapshot) first = NULL;
  g_autoptr (ScRegistrySnapshot) same = NULL;
  g_autoptr (ScRegistrySnapshot) after_remove = NULL;
  g_autoptr (ScRegistrySnapshot) after_flag = NULL;

  add_clients (fixture, registry, 10, TRUE);
  first = sc_registry_snapshot (registry);
  g_assert_cmpuint (first->len, ==, 10);
  for (guint i = 0; i < first->len; i++)
    {
      g_assert_cmpuint (first->entries[i].id, ==, i + 1);
      g_assert_cmpuint (sc_outbox_get_id (first->entries[i].outbox), ==, i + 1);
    }
  g_assert_cmpuint (sc_registry_snapshot_count_except (first, 3), ==, 9);
  g_assert_cmpuint (sc_registry_snapshot_count_except (first, 99), ==, 10);

  /* Nothing changed: the same snapshot is shared. */
  same = sc_registry_snapshot (registry);
  g_assert_true (same == first);

  /* A change makes a new one; the old one stays valid for its holders. */
  sc_registry_remove (registry, 4);
  after_remove = sc_registry_snapshot (registry);
  g_assert_true (after_remove != first);
  g_assert_cmpuint (after_remove->len, ==, 9);
  g_assert_cmpuint (first->len, ==, 10);
  g_assert_cmpuint (sc_outbox_get_id (first->entries[3].outbox), ==, 4);

  sc_registry_set_presence (registry, 5, FALSE);
  after_flag = sc_registry_snapshot (registry);
  g_assert_true (after_flag != after_remove);
  for (guint i = 0; i < after_flag->len; i++)
    g_assert_cmpint (after_flag->entries[i].wants_presence, ==,
                     after_flag->entries[i].id != 5);

  g_clear_pointer (&first, sc_registry_snapshot_unref);
  g_clear_pointer (&same, sc_registry_snapshot_unref);
  sc_registry_free (registry);
  /* The snapshots still held keep their outboxes alive. */
  g_assert_cmpuint (sc_outbox_get_id (after_flag->entries[0].outbox), ==, 1);
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);

#define ADD(path, options, func) \
  g_test_add (path, Fixture, options, fixture_setup, func, fixture_teardown)

  ADD ("/server/queue/order-and-release", NULL, test_queue_order_and_release);
  ADD ("/server/queue/steady-reader", NULL, test_queue_steady_reader);
  ADD ("/server/outbox/unacked", &three_unacked, test_outbox_unacked);
  ADD ("/server/outbox/caps", &small_cap, test_outbox_caps);
  ADD ("/server/outbox/owed-single", &small_cap, test_outbox_owed_single);
  ADD ("/server/outbox/owed-batched", &small_cap, test_outbox_owed_batched);
  ADD ("/server/outbox/budget", &small_budget, test_outbox_budget);
  ADD ("/server/registry/pages", NULL, test_registry_pages);
  ADD ("/server/registry/snapshot", NULL, test_registry_snapshot);
  return g_test_run ();
}
