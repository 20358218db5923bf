/* sc-cluster-load.c: the client side of tests/cluster/run.sh.  Many
 * clients on the nodes of a SockChat cluster, driven from one thread
 * with poll(); each mode checks one scenario of docs/CLUSTER.md and
 * prints TAP lines (the plan is run.sh's).
 *
 *   traffic  clients on every node send to clients on the others, then
 *            broadcast: exactly once, in order, one receipt each
 *   ids      many short connections: the ids, one a line, to --out
 *   presence joins, renames and leaves seen on the other nodes: latency
 *   lists    every node lists the same clients (waits up to 10 s)
 *   rejoin   after NATS came back: the lists agree, and still once
 *            JetStream serves the directory, each client told once
 *   kill     clients of the victim node hold unacknowledged messages,
 *            the node is killed: CLIENT_LEFT elsewhere, one failed
 *            receipt per message
 *   unreachable  every NATS server is killed: messages to other nodes
 *            get UNREACHABLE at once, same-node ones go on
 *   natskill the NATS server leading the directory is killed under load
 *   idle     many silent clients, held while run.sh counts the
 *            backplane's messages
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-frame-reader.h"
#include "sc-message.h"
#include "sc-socket.h"

typedef struct
{
  int fd;
  guint node;
  guint32 id;
  guint32 next_request;
  ScFrameReader *reader;
  GByteArray *out;
  gboolean acks;    /* acknowledges what it receives */
  gboolean listing; /* a LIST is under way */
  GArray *listed;   /* guint32: ids seen in the list under way */
  guint32 list_count;
  gboolean list_done;
  ScStatus hello_status; /* of the HELLO_REPLY, once answered */
  gboolean answered;
} Client;

static guint16 ports[8];
static guint n_ports;
static GPtrArray *clients;
static int n_failed;

static void (*on_message) (Client *client, ScMessage *message);

static void ok (gboolean passed, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
ok (gboolean passed, const char *format, ...)
{
  va_list args;
  g_autofree char *text = NULL;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  /* run.sh numbers the lines of every run together. */
  g_print ("%s - %s\n", passed ? "ok" : "not ok", text);
  fflush (stdout);
  if (!passed)
    n_failed++;
}

static gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

static void
queue (Client *client, ScMessage *message)
{
  sc_message_append_frame (message, client->out);
}

static void
client_free (Client *client)
{
  if (client->fd >= 0)
    close (client->fd);
  sc_frame_reader_free (client->reader);
  g_byte_array_unref (client->out);
  g_clear_pointer (&client->listed, g_array_unref);
  g_free (client);
}

static void
read_client (Client *client)
{
  for (;;)
    {
      gsize room;
      guint8 *buffer = sc_frame_reader_reserve (client->reader, 65536, &room);
      ssize_t n = recv (client->fd, buffer, room, MSG_DONTWAIT);

      if (n > 0)
        {
          sc_frame_reader_commit (client->reader, (gsize) n);
          continue;
        }
      if (n == 0 || (errno != EAGAIN && errno != EINTR))
        {
          close (client->fd);
          client->fd = -1;
        }
      break;
    }
  for (;;)
    {
      ScFrameHeader header;
      const guint8 *payload;
      g_autoptr (ScMessage) message = NULL;

      if (sc_frame_reader_next (client->reader, &header, &payload, NULL) !=
          SC_FRAME_READY)
        break;
      message = sc_message_decode (&header, payload, NULL);
      if (message == NULL)
        continue;
      if (message->type == SC_MSG_HELLO_REPLY)
        {
          client->id = message->client_id;
          client->hello_status = message->status;
          client->answered = TRUE;
        }
      if (message->type == SC_MSG_MESSAGE && client->acks &&
          !(message->flags & SC_FLAG_NO_ACK))
        {
          ScMessage ack;

          sc_message_init (&ack, SC_MSG_MESSAGE_ACK, 0);
          ack.message_id = message->message_id;
          queue (client, &ack);
        }
      if (message->type == SC_MSG_LIST_CLIENTS_REPLY && client->listing)
        {
          for (guint i = 0; i < message->clients->len; i++)
            {
              ScClientInfo *info = g_ptr_array_index (message->clients, i);

              g_array_append_val (client->listed, info->id);
            }
          client->list_count = message->count;
          if (message->more && message->clients->len > 0)
            {
              ScMessage next;

              sc_message_init (&next, SC_MSG_LIST_CLIENTS,
                               ++client->next_request);
              next.peer_id = ((ScClientInfo *) g_ptr_array_index (
                                message->clients, message->clients->len - 1))
                               ->id;
              queue (client, &next);
            }
          else
            {
              client->listing = FALSE;
              client->list_done = TRUE;
            }
        }
      if (on_message)
        on_message (client, message);
    }
}

static void
write_client (Client *client)
{
  while (client->fd >= 0 && client->out->len > 0)
    {
      ssize_t n = send (client->fd, client->out->data, client->out->len,
                        MSG_DONTWAIT | MSG_NOSIGNAL);

      if (n > 0)
        g_byte_array_remove_range (client->out, 0, (guint) n);
      else
        break;
    }
}

/* One round of poll() over the clients of @set, at most @timeout_ms. */
static void
pump_set (GPtrArray *set, int timeout_ms)
{
  g_autofree struct pollfd *fds = g_new0 (struct pollfd, set->len + 1);
  guint n = 0;

  for (guint i = 0; i < set->len; i++)
    {
      Client *client = g_ptr_array_index (set, i);

      write_client (client);
      fds[i].fd = client->fd;
      fds[i].events = POLLIN | (client->out->len > 0 ? POLLOUT : 0);
      n++;
    }
  if (poll (fds, n, timeout_ms) <= 0)
    return;
  for (guint i = 0; i < n; i++)
    {
      Client *client = g_ptr_array_index (set, i);

      if (client->fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
        read_client (client);
      if (client->fd >= 0 && (fds[i].revents & POLLOUT))
        write_client (client);
    }
}

/* One round of poll() over every client, at most @timeout_ms. */
static void
pump (int timeout_ms)
{
  pump_set (clients, timeout_ms);
}

typedef gboolean (*Condition) (gpointer data);

static gboolean
pump_until (Condition condition, gpointer data, guint timeout_ms)
{
  gint64 deadline = now_us () + (gint64) timeout_ms * 1000;

  while (!condition (data))
    {
      if (now_us () > deadline)
        return FALSE;
      pump (5);
    }
  return TRUE;
}

static gboolean
has_id (gpointer data)
{
  Client *client = data;

  return client->id != 0 || client->fd < 0;
}

static Client *
connect_client (guint node, const char *nickname, guint16 flags, gboolean wait)
{
  g_autoptr (GError) error = NULL;
  Client *client = g_new0 (Client, 1);
  ScMessage hello;

  client->node = node;
  client->fd = sc_socket_connect ("127.0.0.1", ports[node], 5000, &error);
  if (client->fd < 0)
    g_error ("cannot connect to node %u: %s", node + 1, error->message);
  sc_socket_set_nonblocking (client->fd, TRUE, NULL);
  client->reader = sc_frame_reader_new (1 << 20);
  client->out = g_byte_array_new ();
  client->acks = TRUE;
  sc_message_init (&hello, SC_MSG_HELLO, ++client->next_request);
  hello.version = SC_PROTOCOL_VERSION;
  hello.flags = flags;
  hello.name = (char *) "sc-cluster-load";
  hello.nickname = (char *) nickname;
  queue (client, &hello);
  g_ptr_array_add (clients, client);
  if (wait && !pump_until (has_id, client, 10000))
    g_error ("no hello reply from node %u", node + 1);
  return client;
}

static void
disconnect_client (Client *client)
{
  g_ptr_array_remove (clients, client);
}

static void
start_list (Client *client)
{
  ScMessage list;

  if (client->listed == NULL)
    client->listed = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_array_set_size (client->listed, 0);
  client->listing = TRUE;
  client->list_done = FALSE;
  sc_message_init (&list, SC_MSG_LIST_CLIENTS, ++client->next_request);
  list.peer_id = 0;
  queue (client, &list);
}

static gboolean
list_done (gpointer data)
{
  return ((Client *) data)->list_done;
}

static int
compare_u32 (gconstpointer a, gconstpointer b)
{
  guint32 x = *(const guint32 *) a, y = *(const guint32 *) b;

  return x < y ? -1 : x > y;
}

/* Every client in @listers lists; TRUE once all see the same ids, @want
 * of them (0: any number). */
static gboolean
lists_agree (GPtrArray *listers, guint want, guint *seen)
{
  g_autoptr (GArray) first = NULL;

  for (guint i = 0; i < listers->len; i++)
    {
      Client *client = g_ptr_array_index (listers, i);

      start_list (client);
      if (!pump_until (list_done, client, 5000))
        return FALSE;
      g_array_sort (client->listed, compare_u32);
    }
  for (guint i = 0; i < listers->len; i++)
    {
      Client *client = g_ptr_array_index (listers, i);
      GArray *ids = client->listed;

      if (seen)
        *seen = ids->len;
      if (want != 0 && ids->len != want)
        return FALSE;
      if (i > 0)
        {
          Client *zero = g_ptr_array_index (listers, 0);

          if (zero->listed->len != ids->len ||
              memcmp (zero->listed->data, ids->data, ids->len * 4) != 0)
            return FALSE;
        }
    }
  return TRUE;
}

static gboolean
wait_lists_agree (GPtrArray *listers, guint want, guint timeout_ms, guint *seen)
{
  gint64 deadline = now_us () + (gint64) timeout_ms * 1000;

  while (now_us () < deadline)
    {
      if (lists_agree (listers, want, seen))
        return TRUE;
      pump (50);
    }
  for (guint i = 0; i < listers->len; i++)
    {
      Client *client = g_ptr_array_index (listers, i);
      g_autoptr (GString) text = g_string_new (NULL);

      for (guint j = 0; j < client->listed->len; j++)
        g_string_append_printf (text, " %u",
                                g_array_index (client->listed, guint32, j));
      g_printerr ("node %u lists%s\n", client->node + 1, text->str);
    }
  return FALSE;
}

/* ------------------------------------------------------------------ */
/* traffic */

typedef struct
{
  GHashTable *next_seq;   /* (sender << 32 | recipient) -> next seq + 1 */
  GHashTable *receipts;   /* "message_id:recipient" -> count */
  GHashTable *bcast_seen; /* "message_id:recipient" -> count */
  GHashTable *unique;     /* "sender#seq" set */
  guint delivered, duplicates, out_of_order, receipts_ok, receipts_failed,
    receipt_dupes, bcast_delivered, bcast_dupes;
  guint64 bcast_expected;
  guint bcast_replies;
} Traffic;

static Traffic traffic;

static void
traffic_message (Client *client, ScMessage *message)
{
  if (message->type == SC_MSG_MESSAGE && !message->broadcast)
    {
      guint64 key = (guint64) message->sender.id << 32 | client->id;
      guint seq =
        (guint) g_ascii_strtoull (strchr (message->text, '#') + 1, NULL, 10);
      guint expected =
        GPOINTER_TO_UINT (g_hash_table_lookup (traffic.next_seq, &key));
      guint64 *stored = g_memdup2 (&key, sizeof key);

      g_autofree char *unique =
        g_strdup_printf ("%u#%u", message->sender.id, seq);

      /* Each sender numbers its messages; to one recipient they must
       * come in increasing order, each once. */
      if (!g_hash_table_add (traffic.unique, g_steal_pointer (&unique)))
        traffic.duplicates++;
      else if (seq + 1 <= expected)
        traffic.out_of_order++;
      traffic.delivered++;
      g_hash_table_replace (traffic.next_seq, stored,
                            GUINT_TO_POINTER (MAX (expected, seq + 1)));
    }
  else if (message->type == SC_MSG_MESSAGE && message->broadcast)
    {
      g_autofree char *key = g_strdup_printf ("%" G_GUINT64_FORMAT ":%u",
                                              message->message_id, client->id);
      guint n =
        GPOINTER_TO_UINT (g_hash_table_lookup (traffic.bcast_seen, key));

      if (n > 0)
        traffic.bcast_dupes++;
      traffic.bcast_delivered++;
      g_hash_table_replace (traffic.bcast_seen, g_steal_pointer (&key),
                            GUINT_TO_POINTER (n + 1));
    }
  else if (message->type == SC_MSG_DELIVERY_RECEIPT)
    {
      g_autofree char *key = g_strdup_printf (
        "%" G_GUINT64_FORMAT ":%u", message->message_id, message->peer_id);
      guint n = GPOINTER_TO_UINT (g_hash_table_lookup (traffic.receipts, key));

      if (n > 0)
        traffic.receipt_dupes++;
      if (message->status == SC_STATUS_OK)
        traffic.receipts_ok++;
      else
        traffic.receipts_failed++;
      g_hash_table_replace (traffic.receipts, g_steal_pointer (&key),
                            GUINT_TO_POINTER (n + 1));
    }
  else if (message->type == SC_MSG_BROADCAST_REPLY)
    {
      traffic.bcast_replies++;
      traffic.bcast_expected += message->count;
    }
}

static guint traffic_goal;

static gboolean
traffic_done (gpointer data)
{
  return traffic.receipts_ok + traffic.receipts_failed >= traffic_goal &&
         traffic.bcast_replies == GPOINTER_TO_UINT (data);
}

static GPtrArray *
one_per_node (GPtrArray *all)
{
  GPtrArray *listers = g_ptr_array_new ();

  for (guint node = 0; node < n_ports; node++)
    for (guint i = 0; i < all->len; i++)
      if (((Client *) g_ptr_array_index (all, i))->node == node)
        {
          g_ptr_array_add (listers, g_ptr_array_index (all, i));
          break;
        }
  return listers;
}

static int
run_traffic (guint per_node, guint messages, guint broadcasts)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  g_autoptr (GPtrArray) listers = NULL;
  guint total = per_node * n_ports, seen = 0;
  gboolean agreed;
  guint64 sent = 0;
  gint64 started;

  traffic.next_seq =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  traffic.receipts =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  traffic.unique =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  traffic.bcast_seen =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  on_message = traffic_message;
  for (guint i = 0; i < total; i++)
    {
      g_autofree char *name = g_strdup_printf ("t%u", i);

      g_ptr_array_add (
        all, connect_client (i % n_ports, name, SC_FLAG_NO_PRESENCE, FALSE));
    }
  for (guint i = 0; i < total; i++)
    if (!pump_until (has_id, g_ptr_array_index (all, i), 10000))
      g_error ("a client got no hello reply");
  listers = one_per_node (all);
  agreed = wait_lists_agree (listers, total, 15000, &seen);
  ok (agreed, "traffic: every node lists the %u clients (last saw %u)", total,
      seen);

  started = now_us ();
  /* Each client sends @messages messages, round robin over the clients
   * of the other nodes, a few per poll round. */
  for (guint round = 0; round < messages; round += 10)
    {
      for (guint i = 0; i < total; i++)
        {
          Client *client = g_ptr_array_index (all, i);

          for (guint j = round; j < MIN (messages, round + 10); j++)
            {
              guint other_node =
                (client->node + 1 + j % (n_ports - 1)) % n_ports;
              guint index = ((i / n_ports) + j) % per_node;
              Client *peer =
                g_ptr_array_index (all, index * n_ports + other_node);
              g_autofree char *text = g_strdup_printf ("m%u#%u", i, j);
              ScMessage send;

              sc_message_init (&send, SC_MSG_SEND_MESSAGE,
                               ++client->next_request);
              send.flags = SC_FLAG_QUIET;
              send.peer_id = peer->id;
              send.text = text;
              queue (client, &send);
              sent++;
            }
        }
      pump (0);
    }
  traffic_goal = (guint) sent;
  if (!pump_until (traffic_done, GUINT_TO_POINTER (0), 60000))
    g_printerr ("# traffic: timed out waiting for receipts\n");
  {
    double seconds = (now_us () - started) / 1e6;

    ok (traffic.delivered == sent && traffic.duplicates == 0,
        "traffic: %" G_GUINT64_FORMAT " cross-node messages, %u delivered, "
        "%u duplicates (%.1f s, %.0f/s)",
        sent, traffic.delivered, traffic.duplicates, seconds, sent / seconds);
  }
  ok (traffic.out_of_order == 0, "traffic: %u out of order per sender",
      traffic.out_of_order);
  ok (traffic.receipts_ok == sent && traffic.receipt_dupes == 0 &&
        traffic.receipts_failed == 0,
      "traffic: one receipt per message: %u OK, %u failed, %u duplicates",
      traffic.receipts_ok, traffic.receipts_failed, traffic.receipt_dupes);

  for (guint b = 0; b < broadcasts; b++)
    {
      Client *client = g_ptr_array_index (all, b % total);
      ScMessage broadcast;

      sc_message_init (&broadcast, SC_MSG_BROADCAST, ++client->next_request);
      broadcast.text = (char *) "to everyone";
      queue (client, &broadcast);
    }
  traffic_goal = (guint) sent + (guint) (broadcasts * (total - 1));
  pump_until (traffic_done, GUINT_TO_POINTER (broadcasts), 30000);
  ok (traffic.bcast_expected == (guint64) broadcasts * (total - 1) &&
        traffic.bcast_delivered == traffic.bcast_expected &&
        traffic.bcast_dupes == 0,
      "traffic: %u broadcasts: recipients %" G_GUINT64_FORMAT
      " (want %u), delivered %u, duplicates %u",
      broadcasts, traffic.bcast_expected, broadcasts * (total - 1),
      traffic.bcast_delivered, traffic.bcast_dupes);
  ok (traffic.receipts_ok + traffic.receipts_failed ==
          sent + traffic.bcast_expected &&
        traffic.receipt_dupes == 0,
      "traffic: broadcast receipts equal recipients: %u receipts in all for "
      "%" G_GUINT64_FORMAT " messages and broadcast recipients",
      traffic.receipts_ok + traffic.receipts_failed,
      sent + traffic.bcast_expected);
  return 0;
}

/* ------------------------------------------------------------------ */
/* ids */

static int
run_ids (guint connects, const char *out_path)
{
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  guint done = 0;

  on_message = NULL;
  while (done < connects)
    {
      g_autoptr (GPtrArray) wave = g_ptr_array_new ();
      guint n = MIN (100, connects - done);

      for (guint i = 0; i < n; i++)
        g_ptr_array_add (wave, connect_client ((done + i) % n_ports, "",
                                               SC_FLAG_NO_PRESENCE, FALSE));
      for (guint i = 0; i < n; i++)
        {
          Client *client = g_ptr_array_index (wave, i);

          if (!pump_until (has_id, client, 10000) || client->id == 0)
            g_error ("a connection got no id");
          g_string_append_printf (out, "%u\n", client->id);
          disconnect_client (client);
        }
      done += n;
    }
  if (!g_file_set_contents (out_path, out->str, (gssize) out->len, &error))
    g_error ("%s", error->message);
  return 0;
}

/* ------------------------------------------------------------------ */
/* presence */

typedef struct
{
  ScMessageType type;
  guint32 subject;
  gint64 since;
  guint seen;    /* observers that have seen it */
  guint seen_by; /* their nodes, as bits */
  guint node;    /* where the subject is: its observer does not count */
  char nickname[32];
  GArray *latencies;
  guint observers;
} Expect;

static Expect expect;

static void
presence_message (Client *client, ScMessage *message)
{
  guint32 subject = message->type == SC_MSG_CLIENT_JOINED ? message->sender.id
                                                          : message->client_id;

  /* The join can come before the actor's own hello reply. */
  if (message->type == SC_MSG_CLIENT_JOINED && expect.subject == 0 &&
      g_strcmp0 (message->sender.nickname, expect.nickname) == 0)
    subject = 0;

  if (message->type != expect.type || subject != expect.subject ||
      client->acks == FALSE || client->node == expect.node ||
      (expect.seen_by & (1u << client->node)))
    return;
  expect.seen_by |= 1u << client->node;
  expect.seen++;
  {
    double ms = (now_us () - expect.since) / 1000.0;

    g_array_append_val (expect.latencies, ms);
  }
}

static gboolean
all_seen (gpointer data)
{
  return expect.seen >= expect.observers;
}

static int
compare_int64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;

  return x < y ? -1 : x > y;
}

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

static int
run_presence (guint rounds)
{
  g_autoptr (GPtrArray) observers = g_ptr_array_new ();
  guint timeouts = 0, seen = 0;
  gboolean agreed;
  double p50, p99, worst;

  on_message = presence_message;
  expect.latencies = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint node = 0; node < n_ports; node++)
    {
      /* Nicknames are unique across the cluster. */
      g_autofree char *name = g_strdup_printf ("observer%u", node);

      g_ptr_array_add (observers, connect_client (node, name, 0, TRUE));
    }
  /* Let the observers' own entries settle before timing anything. */
  wait_lists_agree (observers, 0, 10000, NULL);
  expect.observers = n_ports - 1;
  for (guint r = 0; r < rounds; r++)
    {
      guint node = r % n_ports;
      Client *actor;
      ScMessage rename;

      expect.node = node;
      expect.type = SC_MSG_CLIENT_JOINED;
      expect.seen = 0;
      expect.seen_by = 0;
      expect.subject = 0;
      g_snprintf (expect.nickname, sizeof expect.nickname, "actor%u", r);
      expect.since = now_us ();
      actor =
        connect_client (node, expect.nickname, SC_FLAG_NO_PRESENCE, FALSE);
      actor->acks = FALSE; /* not an observer */
      pump_until (has_id, actor, 5000);
      if (!pump_until (all_seen, NULL, 2000))
        timeouts++;

      expect.subject = actor->id;
      expect.type = SC_MSG_CLIENT_RENAMED;
      expect.seen = 0;
      expect.seen_by = 0;
      sc_message_init (&rename, SC_MSG_SET_NICKNAME, ++actor->next_request);
      rename.nickname = g_strdup_printf ("renamed%u", r);
      expect.since = now_us ();
      queue (actor, &rename);
      g_free (rename.nickname);
      if (!pump_until (all_seen, NULL, 2000))
        timeouts++;

      expect.type = SC_MSG_CLIENT_LEFT;
      expect.seen = 0;
      expect.seen_by = 0;
      expect.since = now_us ();
      disconnect_client (actor);
      if (!pump_until (all_seen, NULL, 2000))
        timeouts++;
    }
  g_array_sort (expect.latencies, compare_doubles);
  if (expect.latencies->len == 0)
    {
      ok (FALSE, "presence: no notice seen");
      return 0;
    }
  p50 = g_array_index (expect.latencies, double, expect.latencies->len / 2);
  p99 = g_array_index (expect.latencies, double,
                       (expect.latencies->len * 99) / 100);
  worst = g_array_index (expect.latencies, double, expect.latencies->len - 1);
  ok (timeouts == 0 && p99 <= 50.0,
      "presence: %u joins, renames and leaves seen on the other nodes: "
      "%u notices, %u missing, p50 %.2f ms, p99 %.2f ms, max %.2f ms",
      rounds, expect.latencies->len, timeouts, p50, p99, worst);
  agreed = wait_lists_agree (observers, 0, 10000, &seen);
  ok (agreed, "presence: the %u nodes list the same %u clients when quiet",
      n_ports, seen);
  return 0;
}

/* ------------------------------------------------------------------ */
/* lists */

static gboolean
answered (gpointer data)
{
  return ((Client *) data)->answered;
}

/* Nicknames are unique across the cluster: "LISTER0" on node 2 looks
 * like node 1's "lister0" and is refused. */
static void
check_name_taken_elsewhere (void)
{
  Client *copycat;

  if (n_ports < 2)
    return;
  copycat = connect_client (1, "LISTER0", SC_FLAG_NO_PRESENCE, FALSE);
  pump_until (answered, copycat, 10000);
  ok (copycat->answered && copycat->hello_status == SC_STATUS_NICKNAME_IN_USE,
      "names: a nickname held on another node is refused (status %d)",
      copycat->answered ? (int) copycat->hello_status : -1);
  disconnect_client (copycat);
}

static int
run_lists (guint want, const char *forbidden_path, int wait_ms)
{
  gint64 started;
  g_autoptr (GPtrArray) listers = g_ptr_array_new ();
  g_autofree char *forbidden = NULL;
  guint seen = 0, ghosts = 0;
  gboolean agreed;

  on_message = NULL;
  /* From before the listers' hellos: scenario 6 measures from the NATS
   * servers' restart, and a hello may wait for a client id. */
  started = now_us ();
  for (guint node = 0; node < n_ports; node++)
    {
      g_autofree char *name = g_strdup_printf ("lister%u", node);

      g_ptr_array_add (listers,
                       connect_client (node, name, SC_FLAG_NO_PRESENCE, TRUE));
    }
  agreed = wait_lists_agree (listers, want, (guint) wait_ms, &seen);
  ok (agreed,
      "lists: the %u nodes list the same clients: %u (want %u) after %.1f s "
      "(bound %.0f s)",
      n_ports, seen, want, (now_us () - started) / 1e6, wait_ms / 1000.0);
  check_name_taken_elsewhere ();
  if (forbidden_path &&
      g_file_get_contents (forbidden_path, &forbidden, NULL, NULL))
    {
      g_auto (GStrv) lines = g_strsplit (forbidden, "\n", -1);
      Client *zero = g_ptr_array_index (listers, 0);

      for (guint i = 0; lines[i]; i++)
        for (guint j = 0; lines[i][0] && j < zero->listed->len; j++)
          if (g_array_index (zero->listed, guint32, j) ==
              (guint32) g_ascii_strtoull (lines[i], NULL, 10))
            ghosts++;
      ok (ghosts == 0, "lists: no ghost of the killed node's clients (%u)",
          ghosts);
    }
  return 0;
}

/* ------------------------------------------------------------------ */
/* rejoin: the lists after every NATS server came back (scenario 6).
 * Observers (one a node, wanting presence) then listers say hello while
 * JetStream still elects its leaders; the lists must agree (through the
 * nodes' rosters), and stay so once JetStream serves the directory again
 * (until @stop_path exists), each client told to every other node once:
 * the rosters and the directory later telling the same clients make no
 * second CLIENT_JOINED, and no CLIENT_LEFT or CLIENT_RENAMED. */

typedef struct
{
  GHashTable *ids;     /* the driver's clients: id -> Client */
  GHashTable *notices; /* "observer id:type:subject id" -> count */
} Rejoin;

static Rejoin rejoin;

static void
rejoin_message (Client *client, ScMessage *message)
{
  guint32 subject;
  char key[64];

  if (message->type == SC_MSG_CLIENT_JOINED)
    subject = message->sender.id;
  else if (message->type == SC_MSG_CLIENT_LEFT ||
           message->type == SC_MSG_CLIENT_RENAMED)
    subject = message->client_id;
  else
    return;
  g_snprintf (key, sizeof key, "%u:%d:%u", client->id, (int) message->type,
              subject);
  g_hash_table_insert (
    rejoin.notices, g_strdup (key),
    GUINT_TO_POINTER (
      GPOINTER_TO_UINT (g_hash_table_lookup (rejoin.notices, key)) + 1));
}

static guint
rejoin_count (Client *observer, ScMessageType type, Client *subject)
{
  char key[64];

  g_snprintf (key, sizeof key, "%u:%d:%u", observer->id, (int) type,
              subject->id);
  return GPOINTER_TO_UINT (g_hash_table_lookup (rejoin.notices, key));
}

/* Every observer: one CLIENT_JOINED for every lister of another node, at
 * most one for every other observer of another node, and no LEFT or
 * RENAMED for any of the driver's clients. */
static void
check_rejoin_notices (GPtrArray *observers, GPtrArray *listers)
{
  guint missing = 0, repeated = 0, left = 0, renamed = 0, joined = 0;

  for (guint i = 0; i < observers->len; i++)
    {
      Client *observer = g_ptr_array_index (observers, i);

      for (guint j = 0; j < clients->len; j++)
        {
          Client *subject = g_ptr_array_index (clients, j);
          guint n = rejoin_count (observer, SC_MSG_CLIENT_JOINED, subject);
          gboolean lister = g_ptr_array_find (listers, subject, NULL);

          if (!g_hash_table_contains (rejoin.ids,
                                      GUINT_TO_POINTER (subject->id)))
            continue;
          left += rejoin_count (observer, SC_MSG_CLIENT_LEFT, subject);
          renamed += rejoin_count (observer, SC_MSG_CLIENT_RENAMED, subject);
          if (subject->node == observer->node)
            continue;
          joined += n;
          if (n > 1)
            repeated++;
          if (lister && n == 0)
            missing++;
        }
    }
  ok (missing == 0 && repeated == 0 && left == 0 && renamed == 0,
      "rejoin: every observer told once of each client of another node: "
      "%u CLIENT_JOINED, %u missing, %u repeated, %u CLIENT_LEFT, %u "
      "CLIENT_RENAMED",
      joined, missing, repeated, left, renamed);
}

/* @held: clients of another driver, held through the outage, that the
 * lists hold too. */
static int
run_rejoin (guint held, int wait_ms, const char *stop_path)
{
  gint64 started = now_us (), until;
  g_autoptr (GPtrArray) observers = g_ptr_array_new ();
  g_autoptr (GPtrArray) listers = g_ptr_array_new ();
  guint seen = 0, want = 2 * n_ports + held;
  gboolean agreed;

  rejoin.ids = g_hash_table_new (NULL, NULL);
  rejoin.notices =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  on_message = rejoin_message;
  for (guint node = 0; node < n_ports; node++)
    {
      g_autofree char *name = g_strdup_printf ("observer%u", node);

      g_ptr_array_add (observers, connect_client (node, name, 0, TRUE));
    }
  for (guint node = 0; node < n_ports; node++)
    {
      g_autofree char *name = g_strdup_printf ("lister%u", node);

      g_ptr_array_add (listers,
                       connect_client (node, name, SC_FLAG_NO_PRESENCE, TRUE));
    }
  for (guint i = 0; i < clients->len; i++)
    g_hash_table_add (rejoin.ids,
                      GUINT_TO_POINTER (((Client *) clients->pdata[i])->id));
  agreed = wait_lists_agree (listers, want, (guint) wait_ms, &seen);
  ok (agreed,
      "lists: the %u nodes list the same clients: %u (want %u) after %.1f s "
      "(bound %.0f s)",
      n_ports, seen, want, (now_us () - started) / 1e6, wait_ms / 1000.0);
  for (until = now_us () + 60 * G_USEC_PER_SEC;
       now_us () < until &&
       !(stop_path && g_file_test (stop_path, G_FILE_TEST_EXISTS));)
    pump (100);
  agreed = wait_lists_agree (listers, want, 10000, &seen);
  ok (agreed,
      "rejoin: once JetStream served the directory again the %u nodes list "
      "the same clients: %u (want %u)",
      n_ports, seen, want);
  check_rejoin_notices (observers, listers);
  return 0;
}

/* ------------------------------------------------------------------ */
/* kill */

typedef struct
{
  GHashTable *left;    /* client id set: CLIENT_LEFT seen by an observer */
  GHashTable *outcome; /* "message_id:recipient" -> count */
  guint failed, succeeded, dupes, delivered;
} Kill;

static Kill kill_state;

static void
kill_message (Client *client, ScMessage *message)
{
  if (message->type == SC_MSG_CLIENT_LEFT)
    {
      guint64 key = (guint64) client->id << 32 | message->client_id;

      g_hash_table_add (kill_state.left, g_memdup2 (&key, sizeof key));
    }
  else if (message->type == SC_MSG_MESSAGE)
    kill_state.delivered++;
  else if (message->type == SC_MSG_DELIVERY_RECEIPT)
    {
      g_autofree char *key = g_strdup_printf (
        "%" G_GUINT64_FORMAT ":%u", message->message_id, message->peer_id);
      guint n =
        GPOINTER_TO_UINT (g_hash_table_lookup (kill_state.outcome, key));

      if (n > 0)
        kill_state.dupes++;
      if (message->status == SC_STATUS_OK)
        kill_state.succeeded++;
      else
        kill_state.failed++;
      g_hash_table_replace (kill_state.outcome, g_steal_pointer (&key),
                            GUINT_TO_POINTER (n + 1));
    }
}

static guint kill_goal;

static gboolean
all_delivered (gpointer data)
{
  return kill_state.delivered >= kill_goal;
}

typedef struct
{
  GPtrArray *observers;
  GPtrArray *victims;
} KillWatch;

static gboolean
all_left (gpointer data)
{
  KillWatch *watch = data;

  for (guint i = 0; i < watch->observers->len; i++)
    for (guint j = 0; j < watch->victims->len; j++)
      {
        guint64 key =
          (guint64) ((Client *) g_ptr_array_index (watch->observers, i))->id
            << 32 |
          ((Client *) g_ptr_array_index (watch->victims, j))->id;

        if (!g_hash_table_contains (kill_state.left, &key))
          return FALSE;
      }
  return kill_state.failed >= kill_goal;
}

static int
run_kill (guint victim_node, GPid pid, guint n_victims, const char *out_path)
{
  g_autoptr (GPtrArray) observers = g_ptr_array_new ();
  g_autoptr (GPtrArray) victims = g_ptr_array_new ();
  g_autoptr (GPtrArray) senders = g_ptr_array_new ();
  g_autoptr (GPtrArray) listers = NULL;
  g_autoptr (GString) ids = g_string_new (NULL);
  KillWatch watch = { observers, victims };
  guint per_victim = 5;
  gint64 killed_at;
  double seconds;

  on_message = kill_message;
  kill_state.left =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  kill_state.outcome =
    g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  for (guint node = 0; node < n_ports; node++)
    if (node != victim_node)
      {
        g_autofree char *watcher = g_strdup_printf ("watcher%u", node);
        g_autofree char *sender = g_strdup_printf ("sender%u", node);

        g_ptr_array_add (observers, connect_client (node, watcher, 0, TRUE));
        g_ptr_array_add (
          senders, connect_client (node, sender, SC_FLAG_NO_PRESENCE, TRUE));
      }
  for (guint i = 0; i < n_victims; i++)
    {
      /* Nicknames are unique on a node. */
      g_autofree char *name = g_strdup_printf ("victim%u", i);
      Client *victim =
        connect_client (victim_node, name, SC_FLAG_NO_PRESENCE, TRUE);

      victim->acks = FALSE; /* holds every message unacknowledged */
      g_ptr_array_add (victims, victim);
      g_string_append_printf (ids, "%u\n", victim->id);
    }
  g_file_set_contents (out_path, ids->str, (gssize) ids->len, NULL);
  listers = g_ptr_array_copy (observers, NULL, NULL);
  /* Every victim listed on both other nodes before anything is sent to
   * them: lists that agree may still both lack the newest. */
  if (!wait_lists_agree (listers, observers->len + senders->len + victims->len,
                         10000, NULL))
    g_printerr ("# kill: lists did not agree before the kill\n");
  for (guint s = 0; s < senders->len; s++)
    for (guint v = 0; v < victims->len; v++)
      for (guint k = 0; k < per_victim; k++)
        {
          Client *sender = g_ptr_array_index (senders, s);
          ScMessage send;

          sc_message_init (&send, SC_MSG_SEND_MESSAGE, ++sender->next_request);
          send.flags = SC_FLAG_QUIET;
          send.peer_id = ((Client *) g_ptr_array_index (victims, v))->id;
          send.text = (char *) "unacknowledged";
          queue (sender, &send);
        }
  kill_goal = senders->len * victims->len * per_victim;
  ok (pump_until (all_delivered, NULL, 10000),
      "kill: %u messages reached the victim node's clients, unacknowledged",
      kill_goal);
  kill (pid, SIGKILL);
  killed_at = now_us ();
  for (guint i = 0; i < victims->len; i++)
    {
      Client *victim = g_ptr_array_index (victims, i);

      close (victim->fd);
      victim->fd = -1;
    }
  pump_until (all_left, &watch, 10000);
  seconds = (now_us () - killed_at) / 1e6;
  ok (all_left (&watch) && seconds <= 7.0,
      "kill: CLIENT_LEFT for all %u victims on the %u other nodes in %.2f s "
      "(bound 7 s)",
      victims->len, observers->len, seconds);
  ok (kill_state.failed == kill_goal && kill_state.succeeded == 0 &&
        kill_state.dupes == 0,
      "kill: one failed receipt per unacknowledged message: %u failed of %u, "
      "%u OK, %u duplicates",
      kill_state.failed, kill_goal, kill_state.succeeded, kill_state.dupes);
  for (guint i = 0; i < victims->len; i++)
    g_ptr_array_remove (clients, g_ptr_array_index (victims, i));
  return 0;
}

/* ------------------------------------------------------------------ */
/* unreachable: every NATS server killed */

typedef struct
{
  guint64 message_id;
  guint32 peer;
  ScStatus status;
  gint64 at;
} Receipt;

static Receipt last_receipt;

static void
unreachable_message (Client *client, ScMessage *message)
{
  if (message->type != SC_MSG_DELIVERY_RECEIPT)
    return;
  last_receipt.message_id = message->message_id;
  last_receipt.peer = message->peer_id;
  last_receipt.status = message->status;
  last_receipt.at = now_us ();
}

static gboolean
receipt_for (gpointer data)
{
  return last_receipt.message_id == *(guint64 *) data;
}

/* Sends one message from @from to @to and waits for its receipt: its
 * status, and the microseconds it took. */
static ScStatus
send_and_wait (Client *from, Client *to, gint64 *took)
{
  ScMessage send;
  guint64 id;
  gint64 sent_at;

  sc_message_init (&send, SC_MSG_SEND_MESSAGE, ++from->next_request);
  send.flags = SC_FLAG_QUIET;
  send.peer_id = to->id;
  send.text = (char *) "ping";
  id = (guint64) from->id << 32 | send.request_id;
  queue (from, &send);
  sent_at = now_us ();
  if (!pump_until (receipt_for, &id, 5000))
    {
      *took = -1;
      return SC_STATUS_TIMEOUT;
    }
  *took = last_receipt.at - sent_at;
  return last_receipt.status;
}

#define LOCAL_SENDS  5000
#define REMOTE_SENDS 500

/* The @fraction quantile of @samples (gint64), sorted in place; -1 for
 * none. */
static double
percentile (GArray *samples, double fraction)
{
  guint index;

  if (samples->len == 0)
    return -1;
  g_array_sort (samples, (GCompareFunc) compare_int64);
  index = (guint) (fraction * (samples->len - 1) + 0.5);
  return g_array_index (samples, gint64, index);
}

#define LOCAL_BLOCK 200

/* The lowest and highest p50 of @samples' blocks of LOCAL_BLOCK sends,
 * in the order taken: how much the shared machine moved the p50 within
 * a phase. */
static void
block_p50_range (GArray *samples, double *lowest, double *highest)
{
  *lowest = *highest = -1;
  for (guint start = 0; start + LOCAL_BLOCK <= samples->len;
       start += LOCAL_BLOCK)
    {
      g_autoptr (GArray) block =
        g_array_sized_new (FALSE, FALSE, sizeof (gint64), LOCAL_BLOCK);
      double p50;

      g_array_append_vals (block, &g_array_index (samples, gint64, start),
                           LOCAL_BLOCK);
      p50 = percentile (block, 0.5);
      if (*lowest < 0 || p50 < *lowest)
        *lowest = p50;
      *highest = MAX (*highest, p50);
    }
}

static int
run_unreachable (const char *pids)
{
  g_autoptr (GPtrArray) listers = g_ptr_array_new ();
  g_auto (GStrv) parts = g_strsplit (pids, ",", -1);
  g_autoptr (GArray) local_before = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) local_after = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) remote = g_array_new (FALSE, FALSE, sizeof (gint64));
  Client *a, *a2, *b;
  gint64 took;
  guint unreachable = 0, dropped = 0;
  double p50_before, p50_after, p99_remote, worst;
  double low_before, high_before, low_after, high_after;

  on_message = unreachable_message;
  a = connect_client (0, "a", SC_FLAG_NO_PRESENCE, TRUE);
  a2 = connect_client (0, "a2", SC_FLAG_NO_PRESENCE, TRUE);
  b = connect_client (1, "b", SC_FLAG_NO_PRESENCE, TRUE);
  g_ptr_array_add (listers, a);
  g_ptr_array_add (listers, b);
  wait_lists_agree (listers, 0, 10000, NULL);
  for (guint i = 0; i < LOCAL_SENDS; i++)
    if (send_and_wait (a, a2, &took) == SC_STATUS_OK)
      g_array_append_val (local_before, took);
  for (guint i = 0; parts[i]; i++)
    kill ((pid_t) g_ascii_strtoll (parts[i], NULL, 10), SIGKILL);
  /* The nodes see their NATS connection close at once. */
  for (gint64 until = now_us () + 300 * 1000; now_us () < until;)
    pump (10);
  for (guint i = 0; i < REMOTE_SENDS; i++)
    {
      ScStatus status = send_and_wait (a, b, &took);

      if (status == SC_STATUS_UNREACHABLE)
        unreachable++;
      g_array_append_val (remote, took);
    }
  /* The bound is on the 99th percentile of many sends: a single receipt
   * on the shared two-core test machine was once 21 ms late, the
   * scheduler's doing (the status is decided in the worker's round,
   * without any wait). */
  p99_remote = percentile (remote, 0.99);
  worst = percentile (remote, 1.0);
  ok (unreachable == REMOTE_SENDS && p99_remote <= 10000,
      "unreachable: with every NATS server killed, %u of %u messages to "
      "another node's client got status 20 UNREACHABLE: p50 %.2f ms, p99 "
      "%.2f ms (bound 10 ms), slowest %.2f ms",
      unreachable, REMOTE_SENDS, percentile (remote, 0.5) / 1000.0,
      p99_remote / 1000.0, worst / 1000.0);
  for (guint i = 0; i < LOCAL_SENDS; i++)
    if (send_and_wait (a, a2, &took) == SC_STATUS_OK)
      g_array_append_val (local_after, took);
  block_p50_range (local_before, &low_before, &high_before);
  block_p50_range (local_after, &low_after, &high_after);
  p50_before = percentile (local_before, 0.5);
  p50_after = percentile (local_after, 0.5);
  for (guint i = 0; i < clients->len; i++)
    if (((Client *) g_ptr_array_index (clients, i))->fd < 0)
      dropped++;
  ok (local_after->len == LOCAL_SENDS && dropped == 0,
      "unreachable: same-node messages go on: %u of %u delivered; %u "
      "clients disconnected",
      local_after->len, LOCAL_SENDS, dropped);
  /* run.sh puts node 1 and this driver on one CPU for this: on two, the
   * p50 takes one of two levels as the scheduler places the threads. */
  ok (p50_after <= p50_before * 1.10,
      "unreachable: same-node round trip p50 %.0f us with NATS down, %.0f us "
      "before (bound +10%%; %u sends each; the p50s of their blocks of %u: "
      "%.0f to %.0f us before, %.0f to %.0f us during)",
      p50_after, p50_before, LOCAL_SENDS, LOCAL_BLOCK, low_before, high_before,
      low_after, high_after);
  return 0;
}

/* ------------------------------------------------------------------ */
/* natskill: one NATS server (the directory's leader) killed under load */

typedef struct
{
  GHashTable *outcomes; /* message id -> count */
  GHashTable *sent_at;  /* message id -> gint64 */
  guint delivered, failed, ok, dupes;
  gint64 killed_at;
  gint64 last_late; /* latest send time (after the kill) whose message was
                       not delivered */
  GHashTable *undelivered; /* message id set, until delivered */
} NatsKill;

static NatsKill natskill;

static void
natskill_message (Client *client, ScMessage *message)
{
  if (message->type == SC_MSG_MESSAGE)
    {
      natskill.delivered++;
      g_hash_table_remove (natskill.undelivered, &message->message_id);
    }
  else if (message->type == SC_MSG_DELIVERY_RECEIPT)
    {
      guint n = GPOINTER_TO_UINT (
        g_hash_table_lookup (natskill.outcomes, &message->message_id));

      if (n > 0)
        natskill.dupes++;
      if (message->status == SC_STATUS_OK)
        natskill.ok++;
      else
        natskill.failed++;
      g_hash_table_replace (natskill.outcomes,
                            g_memdup2 (&message->message_id, 8),
                            GUINT_TO_POINTER (n + 1));
    }
}

static guint natskill_goal;

static gboolean
all_outcomes (gpointer data)
{
  return natskill.ok + natskill.failed >= natskill_goal;
}

static int
run_natskill (const char *pids, guint per_node)
{
  g_autoptr (GPtrArray) all = g_ptr_array_new ();
  g_autoptr (GPtrArray) listers = NULL;
  g_auto (GStrv) parts = g_strsplit (pids, ",", -1);
  guint total = per_node * n_ports, seen = 0, dropped = 0, late = 0;
  guint64 sent = 0;
  gboolean agreed;
  gint64 started;

  on_message = natskill_message;
  natskill.outcomes =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  natskill.undelivered =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  for (guint i = 0; i < total; i++)
    {
      g_autofree char *name = g_strdup_printf ("steady%u", i);

      g_ptr_array_add (
        all, connect_client (i % n_ports, name, SC_FLAG_NO_PRESENCE, TRUE));
    }
  listers = one_per_node (all);
  wait_lists_agree (listers, total, 10000, NULL);
  for (guint i = 0; parts[i]; i++)
    kill ((pid_t) g_ascii_strtoll (parts[i], NULL, 10), SIGKILL);
  natskill.killed_at = now_us ();
  /* Clients that say hello during the stall. */
  for (guint node = 0; node < n_ports; node++)
    {
      g_autofree char *name = g_strdup_printf ("late%u", node);

      g_ptr_array_add (all,
                       connect_client (node, name, SC_FLAG_NO_PRESENCE, TRUE));
    }
  /* Three seconds of traffic: every 20 ms each client sends one message
   * to a client of another node. */
  for (guint round = 0; now_us () - natskill.killed_at < 3 * G_USEC_PER_SEC;
       round++)
    {
      for (guint i = 0; i < total; i++)
        {
          Client *client = g_ptr_array_index (all, i);
          Client *peer = g_ptr_array_index (all, (i + 1 + round % 2) % total);
          ScMessage send;
          guint64 id;
          gint64 at = now_us ();

          if (peer->node == client->node)
            continue;
          sc_message_init (&send, SC_MSG_SEND_MESSAGE, ++client->next_request);
          send.flags = SC_FLAG_QUIET;
          send.peer_id = peer->id;
          send.text = (char *) "steady";
          id = (guint64) client->id << 32 | send.request_id;
          g_hash_table_insert (natskill.undelivered, g_memdup2 (&id, 8),
                               GSIZE_TO_POINTER ((gsize) at));
          if (at - natskill.killed_at >= G_USEC_PER_SEC)
            late++;
          queue (client, &send);
          sent++;
        }
      started = now_us ();
      while (now_us () - started < 20000)
        pump (5);
    }
  natskill_goal = (guint) sent;
  pump_until (all_outcomes, NULL, 15000);
  {
    /* Messages sent a second or more after the kill must all arrive. */
    GHashTableIter iter;
    gpointer value;
    guint lost_late = 0;

    g_hash_table_iter_init (&iter, natskill.undelivered);
    while (g_hash_table_iter_next (&iter, NULL, &value))
      if ((gint64) GPOINTER_TO_SIZE (value) - natskill.killed_at >=
          G_USEC_PER_SEC)
        lost_late++;
    ok (natskill.ok + natskill.failed == sent && natskill.dupes == 0,
        "natskill: one NATS server killed under load: %" G_GUINT64_FORMAT
        " messages, one outcome each: %u OK receipts, %u failed, %u "
        "duplicates",
        sent, natskill.ok, natskill.failed, natskill.dupes);
    ok (lost_late == 0,
        "natskill: routing resumed within 1 s: of the %u messages sent 1 s "
        "or more after the kill, %u not delivered (%u undelivered in all)",
        late, lost_late, g_hash_table_size (natskill.undelivered));
  }
  for (guint i = 0; i < clients->len; i++)
    if (((Client *) g_ptr_array_index (clients, i))->fd < 0)
      dropped++;
  ok (dropped == 0, "natskill: no SockChat client disconnected (%u)", dropped);
  agreed = wait_lists_agree (listers, total + n_ports, 10000, &seen);
  ok (agreed,
      "natskill: clients that said hello during the stall are listed on "
      "every node: %u of %u",
      seen, total + n_ports);
  return 0;
}

/* ------------------------------------------------------------------ */
/* idle: many clients that say nothing; run.sh counts the backplane's
 * messages meanwhile */

static gboolean
wave_has_ids (gpointer data)
{
  GPtrArray *wave = data;

  for (guint i = 0; i < wave->len; i++)
    if (!has_id (g_ptr_array_index (wave, i)))
      return FALSE;
  return TRUE;
}

/* @per_node clients on every node, connected in waves; once all have
 * their ids @ready_path is written, and they are held, silent, until
 * @stop_path exists, at most @hold_s seconds. */
static int
run_idle (guint per_node,
          const char *ready_path,
          const char *stop_path,
          guint hold_s)
{
  guint total = per_node * n_ports, dropped = 0;
  gint64 started = now_us (), until;
  g_autoptr (GError) error = NULL;

  on_message = NULL;
  while (clients->len < total)
    {
      g_autoptr (GPtrArray) wave = g_ptr_array_new ();
      guint n = MIN (500, total - clients->len);

      for (guint i = 0; i < n; i++)
        g_ptr_array_add (wave, connect_client (clients->len % n_ports, "",
                                               SC_FLAG_NO_PRESENCE, FALSE));
      /* Only the wave is polled: the others are silent, and polling
       * thousands of them each round made the connects quadratic. */
      for (gint64 deadline = now_us () + 20 * G_USEC_PER_SEC;
           !wave_has_ids (wave);)
        {
          if (now_us () > deadline)
            g_error ("idle: connections got no id");
          pump_set (wave, 5);
        }
    }
  g_print ("idle: %u clients connected in %.1f s\n", total,
           (now_us () - started) / 1e6);
  if (ready_path && !g_file_set_contents (ready_path, "ready\n", -1, &error))
    g_error ("%s", error->message);
  started = now_us ();
  for (until = started + (gint64) hold_s * G_USEC_PER_SEC;
       now_us () < until &&
       !(stop_path && g_file_test (stop_path, G_FILE_TEST_EXISTS));)
    pump (100);
  for (guint i = 0; i < clients->len; i++)
    if (((Client *) g_ptr_array_index (clients, i))->fd < 0)
      dropped++;
  ok (dropped == 0, "idle: %u clients held %.0f s, %u disconnected", total,
      (now_us () - started) / 1e6, dropped);
  /* Freeing 15,000 clients one by one took 19 s on the test machine;
   * the kernel closes them at exit at once. */
  fflush (stdout);
  _exit (n_failed == 0 ? 0 : 1);
}

/* ------------------------------------------------------------------ */

int
main (int argc, char **argv)
{
  g_autofree char *port_list = NULL, *mode = NULL, *out = NULL,
                  *forbidden = NULL, *nats_pids = NULL, *stop = NULL;
  int per_node = 100, messages = 100, broadcasts = 10, connects = 1000,
      rounds = 30, want = 0, victim = 3, pid = 0, victims = 20, wait_ms = 10000,
      hold_s = 30;
  GOptionEntry entries[] = {
    { "ports", 0, 0, G_OPTION_ARG_STRING, &port_list, "node ports", "P,P,P" },
    { "mode", 0, 0, G_OPTION_ARG_STRING, &mode, "what to check", "MODE" },
    { "clients", 0, 0, G_OPTION_ARG_INT, &per_node, "clients per node", "N" },
    { "messages", 0, 0, G_OPTION_ARG_INT, &messages, "per client", "N" },
    { "broadcasts", 0, 0, G_OPTION_ARG_INT, &broadcasts, "broadcasts", "N" },
    { "connects", 0, 0, G_OPTION_ARG_INT, &connects, "connections", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "presence rounds", "N" },
    { "wait", 0, 0, G_OPTION_ARG_INT, &wait_ms, "for the lists", "MS" },
    { "want", 0, 0, G_OPTION_ARG_INT, &want, "clients listed", "N" },
    { "hold", 0, 0, G_OPTION_ARG_INT, &hold_s, "idle clients' time", "S" },
    { "victim", 0, 0, G_OPTION_ARG_INT, &victim, "node to kill", "N" },
    { "pid", 0, 0, G_OPTION_ARG_INT, &pid, "its process", "PID" },
    { "victims", 0, 0, G_OPTION_ARG_INT, &victims, "its clients", "N" },
    { "nats-pids", 0, 0, G_OPTION_ARG_STRING, &nats_pids,
      "NATS servers to kill", "PID,PID" },
    { "out", 0, 0, G_OPTION_ARG_FILENAME, &out, "output file", "FILE" },
    { "stop", 0, 0, G_OPTION_ARG_FILENAME, &stop,
      "idle, rejoin: ends when it exists", "FILE" },
    { "forbidden", 0, 0, G_OPTION_ARG_FILENAME, &forbidden,
      "ids that must not be listed", "FILE" },
    { NULL }
  };
  g_autoptr (GOptionContext) context = g_option_context_new (NULL);
  g_autoptr (GError) error = NULL;
  g_auto (GStrv) parts = NULL;

  signal (SIGPIPE, SIG_IGN);
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || !port_list ||
      !mode)
    {
      g_printerr ("sc-cluster-load: %s\n",
                  error ? error->message : "--ports and --mode are needed");
      return 2;
    }
  parts = g_strsplit (port_list, ",", G_N_ELEMENTS (ports));
  for (n_ports = 0; parts[n_ports]; n_ports++)
    ports[n_ports] = (guint16) g_ascii_strtoull (parts[n_ports], NULL, 10);
  clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);

  if (g_str_equal (mode, "traffic"))
    run_traffic ((guint) per_node, (guint) messages, (guint) broadcasts);
  else if (g_str_equal (mode, "ids"))
    run_ids ((guint) connects, out);
  else if (g_str_equal (mode, "presence"))
    run_presence ((guint) rounds);
  else if (g_str_equal (mode, "lists"))
    run_lists ((guint) want, forbidden, wait_ms);
  else if (g_str_equal (mode, "rejoin"))
    run_rejoin ((guint) want, wait_ms, stop);
  else if (g_str_equal (mode, "natskill") && nats_pids)
    run_natskill (nats_pids, (guint) per_node);
  else if (g_str_equal (mode, "unreachable") && nats_pids)
    run_unreachable (nats_pids);
  else if (g_str_equal (mode, "idle"))
    run_idle ((guint) per_node, out, stop, (guint) hold_s);
  else if (g_str_equal (mode, "kill"))
    run_kill ((guint) victim - 1, (GPid) pid, (guint) victims, out);
  else
    g_error ("unknown mode %s", mode);
  g_ptr_array_unref (clients);
  return n_failed == 0 ? 0 : 1;
}
