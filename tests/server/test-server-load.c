/* test-server-load.c: many clients messaging each other at once.
 *
 * 50 clients, one thread each, every one sending 200 numbered messages to
 * randomly chosen others (the plan is drawn from the test's random seed
 * before anything starts) while acknowledging what it receives.  Every
 * message must arrive exactly once, in order per sender and recipient,
 * and every sender must get exactly one OK receipt per message.
 *
 * The 1.1 run does the same with protocol 1.1's savings: QUIET sends (no
 * reply; the sender computes the message ids), one MESSAGE_ACKS for all
 * it has read at a time, and receipts batched in DELIVERY_RECEIPTS.
 */
#include "config.h"

#include <stdio.h>

#include "sc-test-peer.h"
#include "sc-test-server.h"

#define N_CLIENTS   50
#define N_MESSAGES  200
#define DEADLINE_MS 30000

typedef ScTestServer Fixture;

typedef struct _Load Load;

typedef struct
{
  Load *load;
  guint index;
  ScTestPeer *peer;
  GThread *thread;

  guint replies;
  guint receipts;
  GArray *acks;     /* 1.1: read and not yet acknowledged */
  GHashTable *sent; /* message id -> request index + 1, until its receipt */
  int last_seq[N_CLIENTS]; /* per sender, -1 before the first */
  guint received[N_CLIENTS];
} Client;

struct _Load
{
  guint32 ids[N_CLIENTS];
  guint plan[N_CLIENTS][N_MESSAGES]; /* recipient index of each message */
  Client clients[N_CLIENTS];
  gint total_received; /* atomic */
  gint64 deadline;
  gboolean v1_1;
};

static void
make_plan (Load *load)
{
  for (guint s = 0; s < N_CLIENTS; s++)
    for (guint i = 0; i < N_MESSAGES; i++)
      {
        guint r = (guint) g_test_rand_int_range (0, N_CLIENTS - 1);

        /* Anyone but the sender itself. */
        load->plan[s][i] = r >= s ? r + 1 : r;
      }
}

static void
send_all (Client *client)
{
  Load *load = client->load;
  g_autoptr (GByteArray) frames = g_byte_array_new ();

  for (guint i = 0; i < N_MESSAGES; i++)
    {
      g_autoptr (ScMessage) request =
        sc_message_new (SC_MSG_SEND_MESSAGE, i + 1);

      request->peer_id = load->ids[load->plan[client->index][i]];
      request->text = g_strdup_printf ("from %u seq %u", client->index, i);
      if (load->v1_1)
        {
          /* No reply comes: the id is the sender's id and request id. */
          guint64 id = ((guint64) load->ids[client->index] << 32) | (i + 1);

          request->flags = SC_FLAG_QUIET;
          g_hash_table_insert (client->sent, g_memdup2 (&id, sizeof id),
                               GUINT_TO_POINTER (i + 1));
          client->replies++;
        }
      sc_message_append_frame (request, frames);
    }
  sc_test_peer_send_raw (client->peer, frames->data, frames->len);
}

static void
take_reply (Client *client, const ScMessage *reply)
{
  guint64 *id;

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpuint (reply->request_id, >=, 1);
  g_assert_cmpuint (reply->request_id, <=, N_MESSAGES);
  id = g_memdup2 (&reply->message_id, sizeof reply->message_id);
  g_assert_false (g_hash_table_contains (client->sent, id));
  g_hash_table_insert (client->sent, id, GUINT_TO_POINTER (reply->request_id));
  client->replies++;
}

static void
take_message (Client *client, const ScMessage *message)
{
  Load *load = client->load;
  guint sender, seq;

  g_assert_cmpint (sscanf (message->text, "from %u seq %u", &sender, &seq), ==,
                   2);
  g_assert_cmpuint (sender, <, N_CLIENTS);
  g_assert_cmpuint (seq, <, N_MESSAGES);
  g_assert_cmpuint (message->sender.id, ==, load->ids[sender]);
  g_assert_cmpuint (message->broadcast, ==, 0);
  /* Meant for this client, and in order: a repeat or a swap shows. */
  g_assert_cmpuint (load->plan[sender][seq], ==, client->index);
  g_assert_cmpint ((int) seq, >, client->last_seq[sender]);
  client->last_seq[sender] = (int) seq;
  client->received[sender]++;
  g_atomic_int_inc (&load->total_received);
  if (load->v1_1)
    g_array_append_val (client->acks, message->message_id);
}

static void
take_outcome (Client *client, guint64 message_id, guint32 recipient)
{
  Load *load = client->load;
  gpointer request;
  guint seq;

  /* The reply was queued before the message was even forwarded, and both
   * travel over this one connection, so it has arrived already. */
  g_assert_true (
    g_hash_table_lookup_extended (client->sent, &message_id, NULL, &request));
  seq = GPOINTER_TO_UINT (request) - 1;
  g_assert_cmpuint (recipient, ==, load->ids[load->plan[client->index][seq]]);
  g_hash_table_remove (client->sent, &message_id);
  client->receipts++;
}

static void
take_receipt (Client *client, const ScMessage *receipt)
{
  g_assert_cmpuint (receipt->status, ==, SC_STATUS_OK);
  if (receipt->type == SC_MSG_DELIVERY_RECEIPT)
    take_outcome (client, receipt->message_id, receipt->peer_id);
  else
    for (guint i = 0; i < receipt->message_ids->len; i++)
      take_outcome (client, g_array_index (receipt->message_ids, guint64, i),
                    receipt->peer_id);
}

/* 1.1: everything read so far, acknowledged in one frame. */
static void
flush_acks (Client *client)
{
  g_autoptr (ScMessage) acks = NULL;

  if (client->acks->len == 0)
    return;
  acks = sc_message_new (SC_MSG_MESSAGE_ACKS, 0);
  acks->message_ids = g_array_copy (client->acks);
  g_array_set_size (client->acks, 0);
  sc_test_peer_send (client->peer, g_steal_pointer (&acks));
}

static void
take (Client *client, const ScMessage *message)
{
  if (message->type == SC_MSG_SEND_MESSAGE_REPLY)
    take_reply (client, message);
  else if (message->type == SC_MSG_MESSAGE)
    take_message (client, message);
  else if (message->type == SC_MSG_DELIVERY_RECEIPT ||
           message->type == SC_MSG_DELIVERY_RECEIPTS)
    take_receipt (client, message);
  else
    g_assert_cmpuint (message->type, ==, SC_MSG_CLIENT_JOINED);
}

static gboolean
client_done (Client *client)
{
  return client->replies == N_MESSAGES && client->receipts == N_MESSAGES &&
         g_atomic_int_get (&client->load->total_received) ==
           N_CLIENTS * N_MESSAGES;
}

static gpointer
client_thread (gpointer data)
{
  Client *client = data;

  send_all (client);
  while (!client_done (client) &&
         g_get_monotonic_time () < client->load->deadline)
    {
      /* Whatever has arrived, then one acknowledgement for all of it. */
      for (guint wait_ms = 20;; wait_ms = 0)
        {
          g_autoptr (ScMessage) message =
            sc_test_peer_receive (client->peer, wait_ms);

          if (message == NULL)
            break;
          take (client, message);
        }
      if (client->load->v1_1)
        flush_acks (client);
    }
  return NULL;
}

static void
join_all (Fixture *fixture, Load *load)
{
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      Client *client = &load->clients[i];
      g_autofree char *nickname = g_strdup_printf ("load-%02u", i);

      client->load = load;
      client->index = i;
      client->peer = sc_test_peer_connect (fixture->port);
      client->acks = g_array_new (FALSE, FALSE, sizeof (guint64));
      if (load->v1_1)
        {
          ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
          g_autoptr (ScMessage) reply = NULL;

          hello->flags = SC_FLAG_RECEIPT_BATCHES;
          hello->name = g_strdup ("test-load");
          hello->nickname = g_strdup (nickname);
          reply = sc_test_peer_request (client->peer, hello);
          g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
          g_assert_true (sc_test_peer_get_greeting (client->peer)->flags &
                         SC_FLAG_PROTOCOL_1_1);
        }
      else
        {
          sc_test_peer_set_auto_ack (client->peer, TRUE);
          sc_message_free (sc_test_peer_hello (client->peer, nickname));
        }
      client->sent =
        g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
      for (guint s = 0; s < N_CLIENTS; s++)
        client->last_seq[s] = -1;
      load->ids[i] = sc_test_peer_get_id (client->peer);
    }
}

static void
check_counts (Load *load)
{
  guint expected[N_CLIENTS][N_CLIENTS] = { { 0 } };

  for (guint s = 0; s < N_CLIENTS; s++)
    for (guint i = 0; i < N_MESSAGES; i++)
      expected[s][load->plan[s][i]]++;
  for (guint r = 0; r < N_CLIENTS; r++)
    {
      Client *client = &load->clients[r];

      g_assert_cmpuint (client->replies, ==, N_MESSAGES);
      g_assert_cmpuint (client->receipts, ==, N_MESSAGES);
      g_assert_cmpuint (g_hash_table_size (client->sent), ==, 0);
      for (guint s = 0; s < N_CLIENTS; s++)
        g_assert_cmpuint (client->received[s], ==, expected[s][r]);
    }
  g_assert_cmpint (g_atomic_int_get (&load->total_received), ==,
                   N_CLIENTS * N_MESSAGES);
}

static void
run_load (Fixture *fixture, gboolean v1_1)
{
  g_autofree Load *load = g_new0 (Load, 1);
  gint64 start;

  load->v1_1 = v1_1;
  make_plan (load);
  join_all (fixture, load);
  start = g_get_monotonic_time ();
  load->deadline = start + DEADLINE_MS * 1000;
  for (guint i = 0; i < N_CLIENTS; i++)
    load->clients[i].thread =
      g_thread_new ("load-client", client_thread, &load->clients[i]);
  for (guint i = 0; i < N_CLIENTS; i++)
    g_thread_join (load->clients[i].thread);
  g_test_message ("%u messages in %" G_GINT64_FORMAT " ms",
                  N_CLIENTS * N_MESSAGES,
                  (g_get_monotonic_time () - start) / 1000);

  check_counts (load);
  for (guint i = 0; i < N_CLIENTS; i++)
    {
      g_hash_table_unref (load->clients[i].sent);
      g_array_unref (load->clients[i].acks);
      sc_test_peer_free (load->clients[i].peer);
    }
}

static void
test_load (Fixture *fixture, gconstpointer data)
{
  run_load (fixture, FALSE);
}

static void
test_load_1_1 (Fixture *fixture, gconstpointer data)
{
  run_load (fixture, TRUE);
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);
  g_test_add ("/server/load/many-to-many", Fixture, NULL, sc_test_server_setup,
              test_load, sc_test_server_teardown);
  g_test_add ("/server/load/many-to-many-1.1", Fixture, NULL,
              sc_test_server_setup, test_load_1_1, sc_test_server_teardown);
  return g_test_run ();
}
