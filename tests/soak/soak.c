/* soak.c: sockchat-soak, a long mixed workload against the server binary
 * that accounts for every message.
 *
 * One process, one poll() loop, raw non-blocking sockets.  A population
 * of clients sends messages to each other, broadcasts, lists clients,
 * leaves and is replaced by newcomers.  Every message text carries a
 * unique token naming its sender and its addressee, so a recipient checks
 * that what it got was meant for it, and the soak keeps a record per
 * token of replies, deliveries and receipts.  At the end every message
 * must be accounted for:
 *
 *  - refused (an error reply): delivered to nobody;
 *  - accepted: exactly one receipt per recipient (one for a message, the
 *    announced count for a broadcast); an OK receipt only from a
 *    recipient that got the message, and no recipient got it twice.
 *
 * A client leaves gracefully: it stops sending, waits for the answers and
 * receipts it is owed (still acknowledging what it receives), then shuts
 * its side down and reads until the server closes.  So every sender is
 * connected when its receipts come and nothing escapes the accounting.
 *
 * The server's resident memory is read at 25% and at 100% of the run;
 * see --rss-growth-mib for the bound.
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-frame-reader.h"
#include "sc-message.h"
#include "sc-server-child.h"

#define TICK_MS            10
#define MAX_PENDING        4 /* outstanding requests per client */
#define LEAVE_TIMEOUT_US   (15 * G_USEC_PER_SEC)
#define DRAIN_TIMEOUT_US   (20 * G_USEC_PER_SEC)
#define CONNECT_TIMEOUT_US (10 * G_USEC_PER_SEC)

typedef enum
{
  CLIENT_CONNECTING, /* waiting for GREETING, then HELLO_REPLY */
  CLIENT_READY,      /* acting */
  CLIENT_LEAVING,    /* no new requests; waiting for what it is owed */
  CLIENT_CLOSING,    /* shut down for writing; reading until EOF */
  CLIENT_CLOSED,
} ClientState;

typedef enum
{
  RECORD_PENDING,
  RECORD_ACCEPTED,
  RECORD_REFUSED,
} RecordState;

/* One message, by its token. */
typedef struct
{
  guint64 token;
  guint32 sender;
  guint32 recipient; /* 0: broadcast */
  RecordState state;
  guint64 message_id;
  guint expected_receipts;
  GHashTable *delivered; /* recipient id -> times */
  GHashTable *receipts;  /* recipient id -> status + 1 */
} Record;

typedef struct
{
  int fd;
  guint32 id;
  ClientState state;
  gboolean said_hello;
  ScFrameReader *reader;
  GByteArray *out;
  gsize out_head;
  GHashTable *pending; /* request id -> Record* (NULL for LIST/HELLO) */
  guint owed_receipts;
  guint32 next_request;
  gint64 deadline; /* of the current phase (connect, leave, close) */
} Client;

typedef struct
{
  /* Options */
  char *server_binary;
  guint seconds;
  guint n_clients;
  guint threads;
  guint rate;
  double rss_growth_mib;
  gint64 seed;

  /* The server */
  ScServerChild *server;
  guint16 port;

  GPtrArray *clients;     /* Client*, the current population */
  GHashTable *ready;      /* id -> Client*, clients a message may go to */
  GHashTable *records;    /* token -> Record* */
  GHashTable *by_message; /* message id -> Record* */
  guint64 next_token;
  GHashTable *seen_ids; /* every client id ever greeted */
  GRand *rand;
  gboolean acting;
  gint64 last_broadcast;

  /* Counters */
  guint n_errors;
  guint n_sent, n_broadcasts, n_accepted, n_refused;
  guint n_deliveries, n_receipts_ok, n_receipts_failed;
  guint n_lists, n_joins, n_leaves;
  gsize rss_quarter, rss_end;
} Soak;

static void G_GNUC_PRINTF (2, 3) fail (Soak *soak, const char *format, ...)
{
  va_list args;

  soak->n_errors++;
  if (soak->n_errors > 20)
    return;
  fputs ("sockchat-soak: ERROR: ", stderr);
  va_start (args, format);
  vfprintf (stderr, format, args);
  va_end (args);
  fputc ('\n', stderr);
}

static void
record_free (Record *record)
{
  g_hash_table_unref (record->delivered);
  g_hash_table_unref (record->receipts);
  g_free (record);
}

/* ------------------------------------------------------------------ */
/* The server */

/* The server binary as a child (tests/support), its log discarded: a
 * long soak would otherwise collect every connection's log line. */
static gboolean
start_server (Soak *soak)
{
  g_autofree char *threads = g_strdup_printf ("%u", soak->threads);
  g_autofree char *max_clients = g_strdup_printf ("%u", soak->n_clients * 2);
  const char *args[] = { "--port",        "0",         "--bind",
                         "127.0.0.1",     "--threads", threads,
                         "--max-clients", max_clients, NULL };
  ScServerChildOptions options = {
    .binary = soak->server_binary,
    .args = args,
    .discard_stderr = TRUE,
  };
  g_autoptr (GError) error = NULL;

  soak->server = sc_server_child_spawn (&options, &error);
  if (soak->server != NULL)
    soak->port = sc_server_child_read_port (soak->server, 10000, &error);
  if (error != NULL)
    {
      fail (soak, "cannot start %s: %s", soak->server_binary, error->message);
      return FALSE;
    }
  return TRUE;
}

static gsize
server_rss (Soak *soak)
{
  g_autofree char *path = g_strdup_printf (
    "/proc/%d/status", (int) sc_server_child_get_pid (soak->server));
  g_autofree char *status = NULL;
  const char *line;

  if (!g_file_get_contents (path, &status, NULL, NULL) ||
      (line = strstr (status, "\nVmRSS:")) == NULL)
    return 0;
  return (gsize) g_ascii_strtoull (line + strlen ("\nVmRSS:"), NULL, 10) * 1024;
}

/* SIGTERM and the exit status; -1 when it died by a signal or had to be
 * killed. */
static int
stop_server (Soak *soak)
{
  g_autoptr (GError) error = NULL;
  int status = sc_server_child_stop (soak->server, 10000, &error);

  if (error != NULL)
    fail (soak, "%s", error->message);
  return status;
}

/* ------------------------------------------------------------------ */
/* Clients */

static void
queue (Client *client, ScMessage *message)
{
  g_autoptr (ScMessage) owned = message;

  sc_message_append_frame (owned, client->out);
}

static guint32
queue_request (Client *client, ScMessage *message, Record *record)
{
  guint32 id = client->next_request++;

  if (client->next_request == 0)
    client->next_request = 1;
  message->request_id = id;
  g_hash_table_insert (client->pending, GUINT_TO_POINTER (id), record);
  queue (client, message);
  return id;
}

static Client *
client_new (Soak *soak)
{
  Client *client = g_new0 (Client, 1);
  struct sockaddr_in address = { 0 };
  int one = 1;

  client->fd = socket (AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (client->fd < 0)
    g_error ("socket: %s", g_strerror (errno));
  /* Acknowledgements go out at once, not behind Nagle's algorithm. */
  setsockopt (client->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  address.sin_family = AF_INET;
  address.sin_port = htons (soak->port);
  address.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
  if (connect (client->fd, (struct sockaddr *) &address, sizeof address) < 0 &&
      errno != EINPROGRESS)
    g_error ("connect: %s", g_strerror (errno));
  client->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_LIMIT);
  client->out = g_byte_array_new ();
  client->pending = g_hash_table_new (NULL, NULL);
  client->next_request = 1;
  client->state = CLIENT_CONNECTING;
  client->deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_US;
  soak->n_joins++;
  return client;
}

static const char *
state_name (ClientState state)
{
  switch (state)
    {
    case CLIENT_CONNECTING: return "connecting";
    case CLIENT_READY: return "active";
    case CLIENT_LEAVING: return "waiting for answers";
    case CLIENT_CLOSING: return "waiting for the close";
    case CLIENT_CLOSED: return "closed";
    default: g_assert_not_reached ();
    }
}

static void
client_free (Client *client)
{
  if (client->fd >= 0)
    close (client->fd);
  sc_frame_reader_free (client->reader);
  g_byte_array_unref (client->out);
  g_hash_table_unref (client->pending);
  g_free (client);
}

static void
client_closed (Soak *soak, Client *client)
{
  if (client->id != 0)
    g_hash_table_remove (soak->ready, GUINT_TO_POINTER (client->id));
  if (client->fd >= 0)
    close (client->fd);
  client->fd = -1;
  client->state = CLIENT_CLOSED;
}

/* The connection ended before the client was done with it. */
static void
client_lost (Soak *soak, Client *client, const char *why)
{
  fail (soak, "client %u lost its connection while %s: %s", client->id,
        state_name (client->state), why);
  client_closed (soak, client);
}

static void
begin_close (Soak *soak, Client *client)
{
  g_hash_table_remove (soak->ready, GUINT_TO_POINTER (client->id));
  client->state = CLIENT_CLOSING;
  client->deadline = g_get_monotonic_time () + LEAVE_TIMEOUT_US;
  /* Only once everything queued is out: the server then answers what
   * it got and closes, and the client reads until it does. */
  if (client->out_head == client->out->len)
    shutdown (client->fd, SHUT_WR);
}

static void
begin_leave (Soak *soak, Client *client)
{
  g_hash_table_remove (soak->ready, GUINT_TO_POINTER (client->id));
  client->state = CLIENT_LEAVING;
  client->deadline = g_get_monotonic_time () + LEAVE_TIMEOUT_US;
  soak->n_leaves++;
}

/* "soak T<token> from <sender> to <recipient or all> " and padding. */
static char *
make_text (Soak *soak, guint64 token, guint32 sender, guint32 recipient)
{
  GString *text = g_string_new (NULL);
  guint padding = g_rand_int_range (soak->rand, 0, 200);

  if (recipient == 0)
    g_string_printf (text, "soak T%" G_GUINT64_FORMAT " from %u to all ", token,
                     sender);
  else
    g_string_printf (text, "soak T%" G_GUINT64_FORMAT " from %u to %u ", token,
                     sender, recipient);
  for (guint i = 0; i < padding; i++)
    g_string_append_c (text, 'a' + (char) (i % 26));
  return g_string_free (text, FALSE);
}

static Record *
new_record (Soak *soak, guint32 sender, guint32 recipient)
{
  Record *record = g_new0 (Record, 1);

  record->token = ++soak->next_token;
  record->sender = sender;
  record->recipient = recipient;
  record->delivered = g_hash_table_new (NULL, NULL);
  record->receipts = g_hash_table_new (NULL, NULL);
  g_hash_table_insert (soak->records, &record->token, record);
  return record;
}

static Client *
random_ready (Soak *soak, Client *not_this)
{
  guint n = g_hash_table_size (soak->ready);
  GHashTableIter iter;
  gpointer value;
  guint pick;

  if (n < 2)
    return NULL;
  pick = g_rand_int_range (soak->rand, 0, (gint32) n);
  g_hash_table_iter_init (&iter, soak->ready);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (pick-- == 0)
      return value == not_this ? NULL : value;
  return NULL;
}

static void
act (Soak *soak, Client *client)
{
  guint dice = g_rand_int_range (soak->rand, 0, 100);
  gint64 now = g_get_monotonic_time ();

  if (g_hash_table_size (client->pending) >= MAX_PENDING)
    return;
  if (dice < 85)
    {
      Client *to = random_ready (soak, client);
      ScMessage *request;
      Record *record;

      if (to == NULL)
        return;
      record = new_record (soak, client->id, to->id);
      request = sc_message_new (SC_MSG_SEND_MESSAGE, 0);
      request->peer_id = to->id;
      request->text = make_text (soak, record->token, client->id, to->id);
      queue_request (client, request, record);
      soak->n_sent++;
    }
  else if (dice < 88 && now - soak->last_broadcast > 100 * 1000)
    {
      Record *record = new_record (soak, client->id, 0);
      ScMessage *request = sc_message_new (SC_MSG_BROADCAST, 0);

      soak->last_broadcast = now;
      request->text = make_text (soak, record->token, client->id, 0);
      queue_request (client, request, record);
      soak->n_broadcasts++;
    }
  else if (dice >= 92)
    {
      ScMessage *request = sc_message_new (SC_MSG_LIST_CLIENTS, 0);

      request->peer_id = g_rand_boolean (soak->rand) ? 0 : client->id;
      queue_request (client, request, NULL);
      soak->n_lists++;
    }
}

/* ------------------------------------------------------------------ */
/* What a client receives */

static void
on_reply (Soak *soak, Client *client, ScMessage *reply)
{
  gpointer key = GUINT_TO_POINTER (reply->request_id);
  Record *record;

  if (!g_hash_table_contains (client->pending, key))
    {
      fail (soak, "client %u: a %s for request %u it never sent", client->id,
            sc_message_type_name (reply->type), reply->request_id);
      return;
    }
  record = g_hash_table_lookup (client->pending, key);
  g_hash_table_remove (client->pending, key);

  switch ((int) reply->type)
    {
    case SC_MSG_HELLO_REPLY:
      if (reply->status != SC_STATUS_OK || reply->client_id != client->id)
        {
          fail (soak, "client %u: HELLO failed: %s", client->id, reply->reason);
          return;
        }
      client->state = CLIENT_READY;
      g_hash_table_insert (soak->ready, GUINT_TO_POINTER (client->id), client);
      /* A newcomer that joins while everyone drains leaves at once. */
      if (!soak->acting)
        begin_leave (soak, client);
      break;
    case SC_MSG_LIST_CLIENTS_REPLY:
      if (reply->status != SC_STATUS_OK || reply->clients == NULL ||
          reply->count == 0)
        fail (soak, "client %u: LIST_CLIENTS failed: %s", client->id,
              reply->reason);
      for (guint i = 1; reply->clients && i < reply->clients->len; i++)
        {
          ScClientInfo *before = g_ptr_array_index (reply->clients, i - 1);
          ScClientInfo *info = g_ptr_array_index (reply->clients, i);

          if (info->id <= before->id)
            fail (soak, "client %u: LIST_CLIENTS out of order", client->id);
        }
      break;
    case SC_MSG_SEND_MESSAGE_REPLY:
    case SC_MSG_BROADCAST_REPLY:
      if (reply->status == SC_STATUS_OK)
        {
          record->state = RECORD_ACCEPTED;
          record->message_id = reply->message_id;
          record->expected_receipts =
            reply->type == SC_MSG_BROADCAST_REPLY ? reply->count : 1;
          client->owed_receipts += record->expected_receipts;
          if (!g_hash_table_insert (soak->by_message, &record->message_id,
                                    record))
            fail (soak, "message id %" G_GUINT64_FORMAT " given twice",
                  reply->message_id);
          soak->n_accepted++;
        }
      /* The recipient had gone, was just leaving, or could not keep up
       * (docs/PROTOCOL.md 5.4): refused, delivered to nobody. */
      else if (reply->status == SC_STATUS_NO_SUCH_CLIENT ||
               reply->status == SC_STATUS_RECIPIENT_LEFT ||
               reply->status == SC_STATUS_RECIPIENT_SLOW)
        {
          record->state = RECORD_REFUSED;
          soak->n_refused++;
        }
      else
        fail (soak,
              "client %u: unexpected status %u for T%" G_GUINT64_FORMAT ": %s",
              client->id, reply->status, record->token, reply->reason);
      break;
    default:
      fail (soak, "client %u: unexpected %s", client->id,
            sc_message_type_name (reply->type));
    }
}

static void
on_message (Soak *soak, Client *client, ScMessage *message)
{
  guint64 token;
  Record *record;
  guint times;
  const char *p;

  if (client->state != CLIENT_CLOSING)
    {
      ScMessage *ack = sc_message_new (SC_MSG_MESSAGE_ACK, 0);

      ack->message_id = message->message_id;
      queue (client, ack);
    }
  soak->n_deliveries++;
  if (!g_str_has_prefix (message->text, "soak T"))
    {
      fail (soak, "client %u: a text that is not ours", client->id);
      return;
    }
  token = g_ascii_strtoull (message->text + strlen ("soak T"), NULL, 10);
  record = g_hash_table_lookup (soak->records, &token);
  if (record == NULL)
    {
      fail (soak, "client %u: unknown token in “%.40s”", client->id,
            message->text);
      return;
    }
  if (record->recipient != 0 && record->recipient != client->id)
    fail (soak, "client %u got T%" G_GUINT64_FORMAT ", which was for %u",
          client->id, token, record->recipient);
  if (record->recipient == 0 &&
      (!message->broadcast || record->sender == client->id))
    fail (soak, "client %u got broadcast T%" G_GUINT64_FORMAT " wrongly",
          client->id, token);
  if (record->recipient != 0 && message->broadcast)
    fail (soak, "T%" G_GUINT64_FORMAT " arrived as a broadcast", token);
  if (message->sender.id != record->sender)
    fail (soak, "T%" G_GUINT64_FORMAT " claims sender %u, not %u", token,
          message->sender.id, record->sender);
  p = strstr (message->text, " from ");
  if (p == NULL || g_ascii_strtoull (p + 6, NULL, 10) != record->sender)
    fail (soak, "T%" G_GUINT64_FORMAT ": text damaged", token);
  if (record->state == RECORD_ACCEPTED &&
      record->message_id != message->message_id)
    fail (soak, "T%" G_GUINT64_FORMAT " arrived under another message id",
          token);
  times = GPOINTER_TO_UINT (
    g_hash_table_lookup (record->delivered, GUINT_TO_POINTER (client->id)));
  if (times > 0)
    fail (soak, "T%" G_GUINT64_FORMAT " delivered twice to %u", token,
          client->id);
  g_hash_table_insert (record->delivered, GUINT_TO_POINTER (client->id),
                       GUINT_TO_POINTER (times + 1));
}

static void
on_receipt (Soak *soak, Client *client, ScMessage *receipt)
{
  Record *record = g_hash_table_lookup (soak->by_message, &receipt->message_id);
  gpointer key = GUINT_TO_POINTER (receipt->peer_id);

  if (record == NULL || record->sender != client->id)
    {
      fail (soak,
            "client %u: receipt for message %" G_GUINT64_FORMAT
            " it did not send",
            client->id, receipt->message_id);
      return;
    }
  if (g_hash_table_contains (record->receipts, key))
    fail (soak, "T%" G_GUINT64_FORMAT ": a second receipt from %u",
          record->token, receipt->peer_id);
  if (record->recipient != 0 && record->recipient != receipt->peer_id)
    fail (soak, "T%" G_GUINT64_FORMAT ": receipt from %u, sent to %u",
          record->token, receipt->peer_id, record->recipient);
  g_hash_table_insert (record->receipts, key,
                       GUINT_TO_POINTER (receipt->status + 1));
  if (receipt->status == SC_STATUS_OK)
    {
      soak->n_receipts_ok++;
      if (!g_hash_table_contains (record->delivered, key))
        fail (soak,
              "T%" G_GUINT64_FORMAT ": delivered receipt from %u, "
              "which never got it",
              record->token, receipt->peer_id);
    }
  else if (receipt->status == SC_STATUS_RECIPIENT_LEFT ||
           receipt->status == SC_STATUS_RECIPIENT_SLOW)
    soak->n_receipts_failed++;
  else
    fail (soak, "T%" G_GUINT64_FORMAT ": receipt status %u", record->token,
          receipt->status);
  if (client->owed_receipts == 0)
    fail (soak, "client %u: more receipts than announced", client->id);
  else
    client->owed_receipts--;
}

static void
on_frame (Soak *soak, Client *client, ScMessage *message)
{
  switch ((int) message->type)
    {
    case SC_MSG_GREETING:
      if (client->said_hello)
        {
          fail (soak, "a second GREETING");
          break;
        }
      /* Greetings of concurrent connections come in any order, but an
       * id is never given twice. */
      if (!g_hash_table_add (soak->seen_ids,
                             GUINT_TO_POINTER (message->client_id)))
        fail (soak, "client id %u given twice", message->client_id);
      client->id = message->client_id;
      client->said_hello = TRUE;
      sc_frame_reader_set_max_payload (client->reader, message->max_payload);
      {
        ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
        g_autofree char *nickname = g_strdup_printf ("soak%u", client->id);

        hello->version = SC_PROTOCOL_VERSION;
        hello->name = g_strdup ("sockchat-soak");
        hello->nickname = g_strdup (nickname);
        queue_request (client, hello, NULL);
      }
      break;
    case SC_MSG_MESSAGE: on_message (soak, client, message); break;
    case SC_MSG_DELIVERY_RECEIPT: on_receipt (soak, client, message); break;
    case SC_MSG_SERVER_PING:
      if (client->state != CLIENT_CLOSING)
        {
          ScMessage *pong = sc_message_new (SC_MSG_PONG, 0);

          pong->token = message->token;
          queue (client, pong);
        }
      break;
    case SC_MSG_CLIENT_JOINED:
    case SC_MSG_CLIENT_LEFT:
    case SC_MSG_CLIENT_RENAMED: break;
    case SC_MSG_PROTOCOL_ERROR:
    case SC_MSG_SERVER_SHUTDOWN:
      fail (soak, "client %u: %s: %s", client->id,
            sc_message_type_name (message->type), message->reason);
      break;
    default:
      if (sc_message_type_kind (message->type) == SC_KIND_RESPONSE)
        on_reply (soak, client, message);
      else
        fail (soak, "client %u: unexpected %s", client->id,
              sc_message_type_name (message->type));
    }
}

static void
client_read (Soak *soak, Client *client)
{
  gsize room;
  guint8 *buffer = sc_frame_reader_reserve (client->reader, 65536, &room);
  ssize_t n = recv (client->fd, buffer, room, MSG_DONTWAIT);

  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      if (client->state == CLIENT_CLOSING && n == 0)
        client_closed (soak, client);
      else
        client_lost (soak, client,
                     n == 0 ? "end of stream" : g_strerror (errno));
      return;
    }
  sc_frame_reader_commit (client->reader, (gsize) n);
  for (;;)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ScMessage) message = NULL;
      ScFrameHeader header;
      const guint8 *payload;
      ScFrameStatus status =
        sc_frame_reader_next (client->reader, &header, &payload, &error);

      if (status == SC_FRAME_INCOMPLETE)
        break;
      if (status == SC_FRAME_READY)
        message = sc_message_decode (&header, payload, &error);
      if (message == NULL)
        {
          client_lost (soak, client, error->message);
          return;
        }
      on_frame (soak, client, message);
    }
}

static void
client_write (Soak *soak, Client *client)
{
  while (client->out_head < client->out->len)
    {
      ssize_t n =
        send (client->fd, client->out->data + client->out_head,
              client->out->len - client->out_head, MSG_NOSIGNAL | MSG_DONTWAIT);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        return;
      if (n < 0)
        {
          client_lost (soak, client, g_strerror (errno));
          return;
        }
      client->out_head += (gsize) n;
    }
  g_byte_array_set_size (client->out, 0);
  client->out_head = 0;
  if (client->state == CLIENT_CLOSING)
    shutdown (client->fd, SHUT_WR);
}

/* Moves leaving clients on and replaces the closed ones. */
static void
advance (Soak *soak)
{
  gint64 now = g_get_monotonic_time ();

  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      if (client->state == CLIENT_LEAVING &&
          g_hash_table_size (client->pending) == 0 &&
          client->owed_receipts == 0)
        begin_close (soak, client);
      if ((client->state == CLIENT_CONNECTING ||
           client->state == CLIENT_LEAVING ||
           client->state == CLIENT_CLOSING) &&
          now > client->deadline)
        {
          fail (soak,
                "client %u timed out %s (%u requests unanswered, %u "
                "receipts missing)",
                client->id, state_name (client->state),
                g_hash_table_size (client->pending), client->owed_receipts);
          client_closed (soak, client);
        }
      if (client->state == CLIENT_CLOSED)
        {
          if (soak->acting)
            {
              client_free (client);
              soak->clients->pdata[i] = client_new (soak);
            }
          else
            {
              g_ptr_array_remove_index_fast (soak->clients, i);
              i--;
            }
        }
    }
}

/* One poll over every socket, up to @timeout_ms. */
static void
poll_once (Soak *soak, int timeout_ms)
{
  guint n = soak->clients->len;
  g_autofree struct pollfd *pfds = g_new0 (struct pollfd, n);
  int ready;

  for (guint i = 0; i < n; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      pfds[i].fd = client->fd;
      pfds[i].events = POLLIN;
      if (client->out_head < client->out->len)
        pfds[i].events |= POLLOUT;
    }
  ready = poll (pfds, n, timeout_ms);
  if (ready < 0 && errno != EINTR)
    g_error ("poll: %s", g_strerror (errno));
  for (guint i = 0; i < n && ready > 0; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
        client_read (soak, client);
      if (client->state != CLIENT_CLOSED && client->out_head < client->out->len)
        client_write (soak, client);
    }
}

/* Everyone flushes what was queued this round. */
static void
flush_all (Soak *soak)
{
  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      if (client->state != CLIENT_CLOSED && client->fd >= 0 &&
          client->out_head < client->out->len)
        client_write (soak, client);
    }
}

/* One tick of activity: about rate × tick actions, and some leaves. */
static void
tick (Soak *soak)
{
  guint n_actions = MAX (1, soak->rate * TICK_MS / 1000);
  g_autoptr (GPtrArray) ready = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, soak->ready);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (ready, value);
  if (ready->len == 0)
    return;
  for (guint i = 0; i < n_actions; i++)
    act (soak, g_ptr_array_index (
                 ready, g_rand_int_range (soak->rand, 0, (gint32) ready->len)));
  /* About five leaves a second, each replaced by a newcomer. */
  if (g_rand_int_range (soak->rand, 0, 1000) < 5 * TICK_MS)
    {
      Client *client = g_ptr_array_index (
        ready, g_rand_int_range (soak->rand, 0, (gint32) ready->len));

      if (client->state == CLIENT_READY)
        begin_leave (soak, client);
    }
}

/* ------------------------------------------------------------------ */

static void
final_accounting (Soak *soak)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, soak->records);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Record *record = value;
      GHashTableIter deliveries;
      gpointer key;

      switch (record->state)
        {
        case RECORD_PENDING:
          fail (soak, "T%" G_GUINT64_FORMAT " never answered", record->token);
          break;
        case RECORD_REFUSED:
          if (g_hash_table_size (record->delivered) > 0)
            fail (soak, "T%" G_GUINT64_FORMAT " refused yet delivered",
                  record->token);
          break;
        case RECORD_ACCEPTED:
          if (g_hash_table_size (record->receipts) != record->expected_receipts)
            fail (soak, "T%" G_GUINT64_FORMAT ": %u receipts, %u recipients",
                  record->token, g_hash_table_size (record->receipts),
                  record->expected_receipts);
          g_hash_table_iter_init (&deliveries, record->delivered);
          while (g_hash_table_iter_next (&deliveries, &key, NULL))
            if (!g_hash_table_contains (record->receipts, key))
              fail (soak, "T%" G_GUINT64_FORMAT ": delivered to %u, no receipt",
                    record->token, GPOINTER_TO_UINT (key));
          break;
        default: g_assert_not_reached ();
        }
    }
}

static gboolean
all_drained (Soak *soak)
{
  return soak->clients->len == 0;
}

static int
run (Soak *soak)
{
  gint64 start, end, quarter, drain_deadline;
  gboolean sampled_quarter = FALSE;
  gint64 next_tick;
  double growth_mib;
  int exit_status;

  if (!start_server (soak))
    return 1;
  for (guint i = 0; i < soak->n_clients; i++)
    g_ptr_array_add (soak->clients, client_new (soak));
  soak->n_joins = 0;

  start = g_get_monotonic_time ();
  quarter = start + (gint64) soak->seconds * G_USEC_PER_SEC / 4;
  end = start + (gint64) soak->seconds * G_USEC_PER_SEC;
  next_tick = start;
  soak->acting = TRUE;
  while (g_get_monotonic_time () < end)
    {
      gint64 now = g_get_monotonic_time ();

      if (now >= next_tick)
        {
          tick (soak);
          flush_all (soak);
          next_tick = now + TICK_MS * 1000;
        }
      poll_once (soak, (int) MAX (0, (next_tick - now) / 1000));
      advance (soak);
      if (!sampled_quarter && g_get_monotonic_time () >= quarter)
        {
          soak->rss_quarter = server_rss (soak);
          sampled_quarter = TRUE;
        }
    }
  soak->rss_end = server_rss (soak);

  /* Everyone leaves the same graceful way, collecting what it is owed. */
  soak->acting = FALSE;
  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      if (client->state == CLIENT_READY)
        begin_leave (soak, client);
    }
  drain_deadline = g_get_monotonic_time () + DRAIN_TIMEOUT_US;
  while (!all_drained (soak) && g_get_monotonic_time () < drain_deadline)
    {
      flush_all (soak);
      poll_once (soak, TICK_MS);
      advance (soak);
    }
  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      fail (soak,
            "client %u still not done after the drain: %s, %u requests "
            "unanswered, %u receipts missing, %u bytes unsent",
            client->id, state_name (client->state),
            g_hash_table_size (client->pending), client->owed_receipts,
            client->out->len - (guint) client->out_head);
    }
  final_accounting (soak);
  exit_status = stop_server (soak);
  /* -1 is already reported, with the reason. */
  if (exit_status > 0)
    fail (soak, "the server exited with status %d", exit_status);

  growth_mib =
    ((double) soak->rss_end - (double) soak->rss_quarter) / (1024 * 1024);
  printf ("sockchat-soak: %u s, %u clients (%u joined, %u left), %u "
          "threads\n",
          soak->seconds, soak->n_clients, soak->n_joins, soak->n_leaves,
          soak->threads);
  printf ("  requests: %u messages, %u broadcasts, %u lists\n", soak->n_sent,
          soak->n_broadcasts, soak->n_lists);
  printf ("  accepted %u, refused %u; %u deliveries; receipts: %u "
          "delivered, %u failed\n",
          soak->n_accepted, soak->n_refused, soak->n_deliveries,
          soak->n_receipts_ok, soak->n_receipts_failed);
  printf ("  server RSS: %.1f MiB at 25%%, %.1f MiB at 100%% (growth %.2f "
          "MiB, bound %.1f MiB)\n",
          soak->rss_quarter / (1024.0 * 1024), soak->rss_end / (1024.0 * 1024),
          growth_mib, soak->rss_growth_mib);
  if (soak->rss_quarter == 0 || soak->rss_end == 0)
    fail (soak, "could not read the server's memory");
  else if (growth_mib > soak->rss_growth_mib)
    fail (soak, "server memory grew by %.2f MiB", growth_mib);
  if (soak->n_accepted == 0 || soak->n_receipts_ok == 0)
    fail (soak, "nothing was delivered");
  printf ("sockchat-soak: %s (%u errors)\n",
          soak->n_errors == 0 ? "PASS" : "FAIL", soak->n_errors);
  return soak->n_errors == 0 ? 0 : 1;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  Soak soak = { 0 };
  gint seconds = 60, clients = 200, threads = 4, rate = 4000;
  gint64 seed = 0;
  /* An absolute bound: with a fixed population the server's working
   * set is flat once every worker's allocator arena has grown, and at a
   * few MiB of RSS a relative bound would be within allocator noise.  A
   * per-message leak of even a few dozen bytes exceeds it within a
   * minute.  Sanitizer builds keep freed memory in quarantine. */
#if defined(__SANITIZE_ADDRESS__)
  double rss_growth_mib = 128;
#else
  double rss_growth_mib = 8;
#endif
  g_autofree char *server = NULL;
  const GOptionEntry entries[] = {
    { "server", 's', 0, G_OPTION_ARG_FILENAME, &server,
      "The sockchat-server binary (default: $SC_SERVER_BINARY)", "PATH" },
    { "seconds", 't', 0, G_OPTION_ARG_INT, &seconds, "Run time (60)", "S" },
    { "clients", 'c', 0, G_OPTION_ARG_INT, &clients, "Clients (200)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Server threads (4)", "N" },
    { "rate", 'r', 0, G_OPTION_ARG_INT, &rate,
      "Requests per second, all clients together (4000)", "N" },
    { "rss-growth-mib", 0, 0, G_OPTION_ARG_DOUBLE, &rss_growth_mib,
      "Allowed server RSS growth from 25% to 100% of the run (8)", "MIB" },
    { "seed", 0, 0, G_OPTION_ARG_INT64, &seed, "Random seed", "N" },
    G_OPTION_ENTRY_NULL,
  };

  setlocale (LC_ALL, "");
  context = g_option_context_new ("- account for every message under load");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "sockchat-soak: %s\n", error->message);
      return 2;
    }
  if (server == NULL)
    server = g_strdup (g_getenv ("SC_SERVER_BINARY"));
  if (server == NULL || seconds < 1 || clients < 2 || threads < 1 || rate < 1)
    {
      fprintf (stderr, "sockchat-soak: need --server (or SC_SERVER_BINARY), "
                       "--seconds >= 1, --clients >= 2\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);

  soak.server_binary = server;
  soak.seconds = (guint) seconds;
  soak.n_clients = (guint) clients;
  soak.threads = (guint) threads;
  soak.rate = (guint) rate;
  soak.rss_growth_mib = rss_growth_mib;
  soak.seed = seed != 0 ? seed : g_get_real_time ();
  soak.rand = g_rand_new_with_seed ((guint32) soak.seed);
  soak.clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
  soak.ready = g_hash_table_new (NULL, NULL);
  soak.records = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                        (GDestroyNotify) record_free);
  soak.by_message = g_hash_table_new (g_int64_hash, g_int64_equal);
  soak.seen_ids = g_hash_table_new (NULL, NULL);
  printf ("sockchat-soak: seed %" G_GINT64_FORMAT "\n", soak.seed);

  {
    int status = run (&soak);

    g_ptr_array_free (soak.clients, TRUE);
    g_hash_table_unref (soak.ready);
    g_hash_table_unref (soak.by_message);
    g_hash_table_unref (soak.seen_ids);
    g_hash_table_unref (soak.records);
    g_rand_free (soak.rand);
    g_clear_pointer (&soak.server, sc_server_child_free);
    return status;
  }
}
