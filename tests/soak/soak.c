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
 *
 * The long soak (issue 12) adds clients that read slowly or very slowly
 * (--slow, --very-slow: a few KiB, or a few hundred bytes, per tick),
 * clients that read but never acknowledge (--no-ack: they only receive,
 * and leave after a few seconds), silent connections and a password
 * guesser (soak-intruders.c), and an innocent client that times GET_TIME
 * (soak-probe.c); with --max-memory-mib it also samples the server's RSS
 * every second and checks that it stays within the limit plus what the
 * server held before the load began.  A client the server drops as too
 * slow is counted, not failed; the messages it sent are excused, as the
 * protocol promises receipts only to a sender still connected.
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
#include "soak-conn.h"
#include "soak-intruders.h"
#include "soak-probe.h"

#define TICK_MS     10
#define MAX_PENDING 4 /* outstanding requests per client */
/* A sender waits for a very slow recipient to read half an output cap. */
#define LEAVE_TIMEOUT_US   (45 * G_USEC_PER_SEC)
#define DRAIN_TIMEOUT_US   (60 * G_USEC_PER_SEC)
#define CONNECT_TIMEOUT_US (15 * G_USEC_PER_SEC)
/* Clients connecting at once: a server with a password checks only a few
 * attempts at once (docs/PROTOCOL.md 5.1). */
#define MAX_CONNECTING 4
/* Read speeds of the slow kinds, and how long a no-ack client stays. */
#define SLOW_BYTES_PER_S      (256 * 1024)
#define VERY_SLOW_BYTES_PER_S (24 * 1024)
#define PACED_RCVBUF          (16 * 1024)
#define PACED_LIFE_MIN_MS     15000
#define PACED_LIFE_MAX_MS     35000
#define NO_ACK_LIFE_MIN_MS    3000
#define NO_ACK_LIFE_MAX_MS    8000
#define PROBE_INTERVAL_MS     20
#define PROBE_WINDOW_S        10
#define PROBE_P99_BOUND_MS    50.0

typedef enum
{
  KIND_FAST,      /* reads all it can, acknowledges */
  KIND_SLOW,      /* reads SLOW_BYTES_PER_S, acknowledges */
  KIND_VERY_SLOW, /* reads VERY_SLOW_BYTES_PER_S, acknowledges */
  KIND_NO_ACK,    /* reads all it can, never acknowledges, never sends */
  N_KINDS,
} ClientKind;

static const char *const kind_names[N_KINDS] = { "fast", "slow", "very slow",
                                                 "no-ack" };

static gboolean
is_paced_kind (ClientKind kind)
{
  return kind == KIND_SLOW || kind == KIND_VERY_SLOW;
}

/* Statuses counted per kind: refusals of what it sent, and receipts. */
#define N_STATUSES (SC_STATUS_RATE_LIMITED + 1)

typedef struct
{
  guint connections, hello_refused, drops;
  guint sent, accepted, deliveries;
  guint refused[N_STATUSES];  /* SEND_MESSAGE / BROADCAST / LIST replies */
  guint receipts[N_STATUSES]; /* receipts it got, by status */
} KindStats;

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
  ClientKind kind;
  ClientState state;
  gboolean said_hello;
  gboolean dropped;  /* the server said it was too slow */
  gint64 leave_at;   /* no-ack clients: when to leave; 0 for others */
  gsize read_budget; /* slow kinds: bytes it may read this tick */
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
  guint n_kind[N_KINDS];
  guint text_bytes;
  guint max_memory_mib;
  guint max_per_address;
  guint n_silent, n_guessers;
  gboolean password_on, probe_on;
  char *password;
  char *password_file;

  /* The server */
  ScServerChild *server;
  guint16 port;

  GPtrArray *clients;     /* Client*, the current population */
  GHashTable *ready;      /* id -> Client*, clients a message may go to */
  GHashTable *records;    /* token -> Record* */
  GHashTable *by_message; /* message id -> Record* */
  guint64 next_token;
  GHashTable *seen_ids;    /* every client id ever greeted */
  GHashTable *dropped_ids; /* clients the server dropped as too slow */
  guint next_address;
  GRand *rand;
  gboolean acting;
  gint64 last_broadcast;

  /* Counters */
  guint n_errors;
  guint n_sent, n_broadcasts, n_accepted, n_refused;
  guint n_deliveries, n_receipts_ok, n_receipts_failed;
  guint n_lists, n_joins, n_leaves;
  guint n_excused;
  gsize rss_quarter, rss_end;
  gsize rss_start, rss_min, rss_max;
  KindStats kinds[N_KINDS];
  SoakProbe *probe;
  SoakIntruders *intruders;
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

/* A password file with a fresh password, for --with-password. */
static gboolean
write_password_file (Soak *soak)
{
  g_autoptr (GError) error = NULL;
  int fd =
    g_file_open_tmp ("sockchat-soak-XXXXXX", &soak->password_file, &error);

  if (fd < 0)
    {
      fail (soak, "cannot write a password file: %s", error->message);
      return FALSE;
    }
  close (fd);
  soak->password = g_strdup_printf ("soak-%08x", g_rand_int (soak->rand));
  if (!g_file_set_contents (soak->password_file, soak->password, -1, &error))
    {
      fail (soak, "cannot write a password file: %s", error->message);
      return FALSE;
    }
  return TRUE;
}

/* The command line: the short soak's settings, and the long soak's
 * limits when asked for. */
static GPtrArray *
server_args (Soak *soak)
{
  GPtrArray *args = g_ptr_array_new_with_free_func (g_free);
  const char *fixed[] = { "--port", "0", "--bind", "127.0.0.1" };

  for (guint i = 0; i < G_N_ELEMENTS (fixed); i++)
    g_ptr_array_add (args, g_strdup (fixed[i]));
  g_ptr_array_add (args, g_strdup ("--threads"));
  g_ptr_array_add (args, g_strdup_printf ("%u", soak->threads));
  g_ptr_array_add (args, g_strdup ("--max-clients"));
  g_ptr_array_add (args, g_strdup_printf ("%u", soak->n_clients * 2 + 8));
  if (soak->max_memory_mib > 0)
    {
      g_ptr_array_add (args, g_strdup ("--max-memory"));
      g_ptr_array_add (
        args, g_strdup_printf ("%" G_GUINT64_FORMAT,
                               (guint64) soak->max_memory_mib * 1024 * 1024));
    }
  if (soak->max_per_address > 0)
    {
      g_ptr_array_add (args, g_strdup ("--max-per-address"));
      g_ptr_array_add (args, g_strdup_printf ("%u", soak->max_per_address));
    }
  if (soak->password_file != NULL)
    {
      g_ptr_array_add (args, g_strdup ("--password-file"));
      g_ptr_array_add (args, g_strdup (soak->password_file));
    }
  g_ptr_array_add (args, NULL);
  return args;
}

/* The server binary as a child (tests/support), its log discarded: a
 * long soak would otherwise collect every connection's log line. */
static gboolean
start_server (Soak *soak)
{
  g_autoptr (GPtrArray) args = NULL;
  ScServerChildOptions options = {
    .binary = soak->server_binary,
    .discard_stderr = TRUE,
  };
  g_autoptr (GError) error = NULL;

  if (soak->password_on && !write_password_file (soak))
    return FALSE;
  args = server_args (soak);
  options.args = (const char *const *) args->pdata;
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

/* A client slot of @kind, not yet connected (state CLOSED). */
static Client *
client_new (ClientKind kind)
{
  Client *client = g_new0 (Client, 1);

  client->fd = -1;
  client->kind = kind;
  client->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_LIMIT);
  client->out = g_byte_array_new ();
  client->pending = g_hash_table_new (NULL, NULL);
  client->state = CLIENT_CLOSED;
  return client;
}

/* Connects @client's slot anew, from an address of 127.1.0.0/16 that no
 * other connection of the run has used lately: the server paces password
 * attempts per address. */
static void
client_start (Soak *soak, Client *client)
{
  guint n = soak->next_address++;
  g_autofree char *source =
    g_strdup_printf ("127.1.%u.%u", n / 250 % 256, n % 250 + 1);

  g_assert (client->state == CLIENT_CLOSED && client->fd < 0);
  sc_frame_reader_free (client->reader);
  client->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_LIMIT);
  g_byte_array_set_size (client->out, 0);
  client->out_head = 0;
  g_hash_table_remove_all (client->pending);
  client->id = 0;
  client->said_hello = FALSE;
  client->dropped = FALSE;
  client->leave_at = 0;
  client->owed_receipts = 0;
  client->next_request = 1;
  client->fd = soak_connect_from (soak->port, source);
  if (is_paced_kind (client->kind))
    {
      /* A small fixed window instead of loopback's autotuned megabytes:
       * what the client does not read then waits in the server. */
      int size = PACED_RCVBUF;

      setsockopt (client->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    }
  client->state = CLIENT_CONNECTING;
  client->deadline = g_get_monotonic_time () + CONNECT_TIMEOUT_US;
  soak->n_joins++;
  soak->kinds[client->kind].connections++;
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
  guint padding = g_rand_int_range (soak->rand, 0, (gint32) soak->text_bytes);

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

/* A recipient: a third of the time a paced client if one is ready, so
 * that slow readers get more than they read. */
static Client *
pick_recipient (Soak *soak, Client *sender)
{
  Client *to = random_ready (soak, sender);

  if (soak->n_kind[KIND_SLOW] + soak->n_kind[KIND_VERY_SLOW] == 0 ||
      g_rand_int_range (soak->rand, 0, 3) != 0)
    return to;
  for (guint tries = 0; tries < 8; tries++)
    {
      Client *paced = random_ready (soak, sender);

      if (paced != NULL && is_paced_kind (paced->kind))
        return paced;
    }
  return to;
}

static void
act (Soak *soak, Client *client)
{
  guint dice;
  gint64 now = g_get_monotonic_time ();

  /* No-ack clients only receive: a sender among them would wait for the
   * receipts of its messages to others like it, which come only when
   * those leave, while they wait for its own. */
  if (client->kind == KIND_NO_ACK ||
      g_hash_table_size (client->pending) >= MAX_PENDING)
    return;
  dice = g_rand_int_range (soak->rand, 0, 100);
  if (dice < 85)
    {
      Client *to = pick_recipient (soak, client);
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
      soak->kinds[client->kind].sent++;
    }
  else if (dice < 88 && now - soak->last_broadcast > 100 * 1000)
    {
      Record *record = new_record (soak, client->id, 0);
      ScMessage *request = sc_message_new (SC_MSG_BROADCAST, 0);

      soak->last_broadcast = now;
      request->text = make_text (soak, record->token, client->id, 0);
      queue_request (client, request, record);
      soak->n_broadcasts++;
      soak->kinds[client->kind].sent++;
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

/* When a client of @kind that joins now leaves, or 0 for the random
 * leaves of tick().  No-ack clients leave soon: senders wait for them to
 * leave for their receipts.  A paced client stays long: a slow reader
 * fills the kernel's socket buffers (megabytes on loopback) before its
 * queue in the server grows; but not for the whole run, since a leaving
 * sender waits for its receipts (LEAVE_TIMEOUT_US). */
static gint64
life_span (Soak *soak, ClientKind kind)
{
  gint64 now = g_get_monotonic_time ();

  if (kind == KIND_NO_ACK)
    return now + g_rand_int_range (soak->rand, NO_ACK_LIFE_MIN_MS,
                                   NO_ACK_LIFE_MAX_MS) *
                   (gint64) 1000;
  if (is_paced_kind (kind))
    return now +
           g_rand_int_range (soak->rand, PACED_LIFE_MIN_MS, PACED_LIFE_MAX_MS) *
             (gint64) 1000;
  return 0;
}

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
      /* Too many password attempts under way, or the memory limit
       * reached: the server closes the connection, and the slot is
       * connected again later. */
      if (reply->status == SC_STATUS_SERVER_FULL ||
          reply->status == SC_STATUS_SERVER_BUSY)
        {
          soak->kinds[client->kind].hello_refused++;
          soak->kinds[client->kind].refused[reply->status]++;
          client_closed (soak, client);
          return;
        }
      if (reply->status != SC_STATUS_OK || reply->client_id != client->id)
        {
          fail (soak, "client %u: HELLO failed: %s", client->id, reply->reason);
          return;
        }
      client->state = CLIENT_READY;
      g_hash_table_insert (soak->ready, GUINT_TO_POINTER (client->id), client);
      client->leave_at = life_span (soak, client->kind);
      /* A newcomer that joins while everyone drains leaves at once. */
      if (!soak->acting)
        begin_leave (soak, client);
      break;
    case SC_MSG_LIST_CLIENTS_REPLY:
      /* Lists are fair-use requests (docs/PROTOCOL.md 5.7). */
      if (reply->status == SC_STATUS_RATE_LIMITED ||
          reply->status == SC_STATUS_SERVER_BUSY)
        {
          soak->kinds[client->kind].refused[reply->status]++;
          break;
        }
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
          soak->kinds[client->kind].accepted++;
        }
      /* The recipient had gone, was just leaving, or could not keep up
       * (docs/PROTOCOL.md 5.4), the server was at its memory limit, or
       * the sender broadcast too much (5.7): refused, delivered to
       * nobody. */
      else if (reply->status == SC_STATUS_NO_SUCH_CLIENT ||
               reply->status == SC_STATUS_RECIPIENT_LEFT ||
               reply->status == SC_STATUS_RECIPIENT_SLOW ||
               reply->status == SC_STATUS_SERVER_BUSY ||
               reply->status == SC_STATUS_RATE_LIMITED)
        {
          record->state = RECORD_REFUSED;
          soak->n_refused++;
          soak->kinds[client->kind].refused[reply->status]++;
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

  soak->kinds[client->kind].deliveries++;
  if (client->state != CLIENT_CLOSING && client->kind != KIND_NO_ACK)
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

static gboolean
is_probe (Soak *soak, guint32 id)
{
  return soak->probe != NULL && soak_probe_get_id (soak->probe) == id;
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
      /* The innocent client keeps its own books. */
      if (!g_hash_table_contains (record->delivered, key) &&
          !is_probe (soak, receipt->peer_id))
        fail (soak,
              "T%" G_GUINT64_FORMAT ": delivered receipt from %u, "
              "which never got it",
              record->token, receipt->peer_id);
    }
  else if (receipt->status == SC_STATUS_RECIPIENT_LEFT ||
           receipt->status == SC_STATUS_RECIPIENT_SLOW ||
           receipt->status == SC_STATUS_SERVER_BUSY)
    soak->n_receipts_failed++;
  else
    fail (soak, "T%" G_GUINT64_FORMAT ": receipt status %u", record->token,
          receipt->status);
  if (receipt->status < N_STATUSES)
    soak->kinds[client->kind].receipts[receipt->status]++;
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
        hello->password = g_strdup (soak->password);
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
      /* Dropped as too slow (docs/PROTOCOL.md 5.7): an outcome for the
       * slow kinds, and for anyone at the memory limit. */
      if (message->status == SC_STATUS_RECIPIENT_SLOW && client->id != 0)
        {
          client->dropped = TRUE;
          g_hash_table_add (soak->dropped_ids, GUINT_TO_POINTER (client->id));
          g_hash_table_remove (soak->ready, GUINT_TO_POINTER (client->id));
          break;
        }
      G_GNUC_FALLTHROUGH;
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

/* Whether @client reads at its kind's pace now: an active slow client
 * does; one that is leaving hurries, so that leaving stays bounded. */
static gboolean
paced (Client *client)
{
  return client->state == CLIENT_READY && is_paced_kind (client->kind);
}

/* The connection ended: as it should (closing), as the server said
 * (dropped), or unexpectedly. */
static void
client_ended (Soak *soak, Client *client, ssize_t n)
{
  if (client->dropped)
    {
      soak->kinds[client->kind].drops++;
      client_closed (soak, client);
    }
  else if (client->state == CLIENT_CLOSING && n == 0)
    client_closed (soak, client);
  else
    client_lost (soak, client, n == 0 ? "end of stream" : g_strerror (errno));
}

static void
client_read (Soak *soak, Client *client, gboolean hung_up)
{
  gsize room;
  guint8 *buffer = sc_frame_reader_reserve (client->reader, 65536, &room);
  ssize_t n;

  /* A paced client out of budget reads on only to see the end. */
  if (paced (client) && !hung_up)
    room = MIN (room, client->read_budget);
  if (room == 0)
    return;
  n = recv (client->fd, buffer, room, MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    return;
  if (n <= 0)
    {
      client_ended (soak, client, n);
      return;
    }
  client->read_budget -= MIN (client->read_budget, (gsize) n);
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

/* Names up to three of @client's messages still owed receipts, and who
 * owes them. */
static void
explain_missing (Soak *soak, Client *client)
{
  GHashTableIter iter;
  gpointer value;
  guint shown = 0;

  g_hash_table_iter_init (&iter, soak->records);
  while (g_hash_table_iter_next (&iter, NULL, &value) && shown < 3)
    {
      Record *record = value;

      if (record->sender != client->id || record->state != RECORD_ACCEPTED ||
          g_hash_table_size (record->receipts) >= record->expected_receipts)
        continue;
      fail (soak,
            "  T%" G_GUINT64_FORMAT " (message %" G_GUINT64_FORMAT
            ") to %u: %u of %u receipts, delivered to %u of ours; "
            "recipient %s",
            record->token, record->message_id, record->recipient,
            g_hash_table_size (record->receipts), record->expected_receipts,
            g_hash_table_size (record->delivered),
            record->recipient == 0 ? "(broadcast)"
            : g_hash_table_contains (soak->ready,
                                     GUINT_TO_POINTER (record->recipient))
              ? "still active"
              : "not active");
      shown++;
    }
}

/* A client's phase ran out of time. */
static void
client_overdue (Soak *soak, Client *client)
{
  if (client->owed_receipts > 0)
    explain_missing (soak, client);
  fail (soak,
        "client %u timed out %s (%u requests unanswered, %u "
        "receipts missing)",
        client->id, state_name (client->state),
        g_hash_table_size (client->pending), client->owed_receipts);
  client_closed (soak, client);
}

/* The bytes a paced client may read in one tick. */
static gsize
tick_budget (ClientKind kind)
{
  if (kind == KIND_SLOW)
    return SLOW_BYTES_PER_S / (1000 / TICK_MS);
  if (kind == KIND_VERY_SLOW)
    return VERY_SLOW_BYTES_PER_S / (1000 / TICK_MS);
  return 0;
}

/* Moves leaving clients on and connects the closed slots again, a few at
 * a time; once the run is over, closed slots are dropped instead. */
static void
advance (Soak *soak)
{
  gint64 now = g_get_monotonic_time ();
  guint connecting = 0;

  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      if (client->state == CLIENT_READY && client->leave_at != 0 &&
          now > client->leave_at && soak->acting)
        begin_leave (soak, client);
      if (client->state == CLIENT_LEAVING &&
          g_hash_table_size (client->pending) == 0 &&
          client->owed_receipts == 0)
        begin_close (soak, client);
      if ((client->state == CLIENT_CONNECTING ||
           client->state == CLIENT_LEAVING ||
           client->state == CLIENT_CLOSING) &&
          now > client->deadline)
        client_overdue (soak, client);
      if (client->state == CLIENT_CONNECTING)
        connecting++;
    }
  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      if (client->state != CLIENT_CLOSED)
        continue;
      if (!soak->acting)
        {
          g_ptr_array_remove_index_fast (soak->clients, i);
          i--;
        }
      else if (connecting < MAX_CONNECTING)
        {
          client_start (soak, client);
          connecting++;
        }
    }
}

/* Each tick gives the paced clients their bytes to read. */
static void
refill_budgets (Soak *soak)
{
  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      client->read_budget = tick_budget (client->kind);
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
      pfds[i].events = paced (client) && client->read_budget == 0 ? 0 : POLLIN;
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
        client_read (soak, client,
                     (pfds[i].revents & (POLLHUP | POLLERR)) != 0);
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

      /* Paced and no-ack clients have lives of their own (see
       * life_span()). */
      if (client->state == CLIENT_READY && client->leave_at == 0)
        begin_leave (soak, client);
    }
}

/* ------------------------------------------------------------------ */

/* A message whose sender the server dropped as too slow may lack its
 * answer or receipts: they are promised only to a connected sender. */
static gboolean
excused (Soak *soak, Record *record)
{
  if (!g_hash_table_contains (soak->dropped_ids,
                              GUINT_TO_POINTER (record->sender)))
    return FALSE;
  return record->state == RECORD_PENDING ||
         (record->state == RECORD_ACCEPTED &&
          g_hash_table_size (record->receipts) < record->expected_receipts);
}

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

      if (excused (soak, record))
        {
          soak->n_excused++;
          continue;
        }
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

/* The server's RSS, into the run's minimum and maximum. */
static void
sample_rss (Soak *soak)
{
  gsize rss = server_rss (soak);

  if (rss == 0)
    return;
  soak->rss_min = soak->rss_min == 0 ? rss : MIN (soak->rss_min, rss);
  soak->rss_max = MAX (soak->rss_max, rss);
}

/* The innocent client joins before the load begins, so that the RSS read
 * then is the server's fixed overhead with one client. */
static gboolean
start_probe (Soak *soak)
{
  soak->probe = soak_probe_start (soak->port, "127.3.0.1", soak->password,
                                  PROBE_INTERVAL_MS);
  if (!soak_probe_wait_ready (soak->probe, 10000))
    {
      fail (soak, "the innocent client could not join");
      return FALSE;
    }
  return TRUE;
}

static void
start_intruders (Soak *soak)
{
  SoakIntrudersOptions options = {
    .port = soak->port,
    .n_silent = soak->n_silent,
    .n_silent_addresses = 8,
    .n_guessers = soak->n_guessers,
    .n_guess_addresses = 8,
    .open_rate = 50,
  };

  if (soak->n_silent > 0 || soak->n_guessers > 0)
    soak->intruders = soak_intruders_start (&options);
}

/* The acting part of the run: @seconds of load, the RSS sampled every
 * second. */
static void
act_for (Soak *soak, gint64 start)
{
  gint64 quarter = start + (gint64) soak->seconds * G_USEC_PER_SEC / 4;
  gint64 end = start + (gint64) soak->seconds * G_USEC_PER_SEC;
  gint64 next_tick = start, next_sample = start;
  gboolean sampled_quarter = FALSE;

  soak->acting = TRUE;
  while (g_get_monotonic_time () < end)
    {
      gint64 now = g_get_monotonic_time ();

      if (now >= next_tick)
        {
          tick (soak);
          refill_budgets (soak);
          flush_all (soak);
          next_tick = now + TICK_MS * 1000;
        }
      poll_once (soak, (int) MAX (0, (next_tick - now) / 1000));
      advance (soak);
      now = g_get_monotonic_time ();
      if (now >= next_sample)
        {
          sample_rss (soak);
          next_sample += G_USEC_PER_SEC;
        }
      if (!sampled_quarter && now >= quarter)
        {
          soak->rss_quarter = server_rss (soak);
          sampled_quarter = TRUE;
        }
    }
  soak->rss_end = server_rss (soak);
  soak->acting = FALSE;
}

/* Everyone leaves the same graceful way, collecting what it is owed. */
static void
drain (Soak *soak)
{
  gint64 drain_deadline = g_get_monotonic_time () + DRAIN_TIMEOUT_US;

  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      if (client->state == CLIENT_READY)
        begin_leave (soak, client);
    }
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
}

static const char *const status_names[N_STATUSES] = {
  "OK",
  "BAD_REQUEST",
  "VERSION_MISMATCH",
  "NOT_READY",
  "NO_SUCH_CLIENT",
  "TOO_LARGE",
  "RECIPIENT_SLOW",
  "RECIPIENT_LEFT",
  "SERVER_FULL",
  "SHUTTING_DOWN",
  "INVALID_NICKNAME",
  "PROTOCOL_ERROR",
  "TIMEOUT",
  "AUTH_FAILED",
  "INTERNAL",
  "SERVER_BUSY",
  "RATE_LIMITED",
};

/* "RECIPIENT_SLOW 12, SERVER_BUSY 3" for the non-zero @counts. */
static char *
format_statuses (const guint *counts, gboolean with_ok)
{
  GString *text = g_string_new (NULL);

  for (guint status = with_ok ? 0 : 1; status < N_STATUSES; status++)
    if (counts[status] > 0)
      g_string_append_printf (text, "%s%s %u", text->len ? ", " : "",
                              status_names[status], counts[status]);
  if (text->len == 0)
    g_string_append (text, "none");
  return g_string_free (text, FALSE);
}

static void
print_kinds (Soak *soak)
{
  for (guint kind = 0; kind < N_KINDS; kind++)
    {
      KindStats *stats = &soak->kinds[kind];
      g_autofree char *refused = NULL, *receipts = NULL;

      if (soak->n_kind[kind] == 0)
        continue;
      refused = format_statuses (stats->refused, FALSE);
      receipts = format_statuses (stats->receipts, TRUE);
      printf ("  %-9s x%u: %u connections (%u HELLO refused), %u drops; "
              "sent %u, accepted %u, refused: %s; %u deliveries; receipts "
              "got: %s\n",
              kind_names[kind], soak->n_kind[kind], stats->connections,
              stats->hello_refused, stats->drops, stats->sent, stats->accepted,
              refused, stats->deliveries, receipts);
    }
}

static double
mib (gsize bytes)
{
  return bytes / (1024.0 * 1024);
}

/* The RSS bounds: under --max-memory plus the overhead measured before
 * the load when a limit is set, else the growth bound of the short soak. */
static void
check_rss (Soak *soak)
{
  double growth_mib = mib (soak->rss_end) - mib (soak->rss_quarter);

  printf ("  server RSS: %.1f MiB at 25%%, %.1f MiB at 100%% (growth %.2f "
          "MiB); sampled every second: min %.1f, max %.1f MiB\n",
          mib (soak->rss_quarter), mib (soak->rss_end), growth_mib,
          mib (soak->rss_min), mib (soak->rss_max));
  if (soak->rss_quarter == 0 || soak->rss_end == 0)
    fail (soak, "could not read the server's memory");
  else if (soak->max_memory_mib > 0)
    {
      double bound = soak->max_memory_mib + mib (soak->rss_start);

      printf ("  RSS bound: --max-memory %u MiB + %.1f MiB fixed overhead "
              "(RSS with the innocent client only) = %.1f MiB\n",
              soak->max_memory_mib, mib (soak->rss_start), bound);
      if (mib (soak->rss_max) > bound)
        fail (soak, "server RSS reached %.1f MiB", mib (soak->rss_max));
    }
  else if (growth_mib > soak->rss_growth_mib)
    fail (soak, "server memory grew by %.2f MiB (bound %.1f MiB)", growth_mib,
          soak->rss_growth_mib);
}

static void
print_summary (Soak *soak)
{
  printf ("sockchat-soak: %u s, %u clients (%u joined, %u left), %u "
          "threads\n",
          soak->seconds, soak->n_clients, soak->n_joins, soak->n_leaves,
          soak->threads);
  printf ("  requests: %u messages, %u broadcasts, %u lists\n", soak->n_sent,
          soak->n_broadcasts, soak->n_lists);
  printf ("  accepted %u, refused %u; %u deliveries; receipts: %u "
          "delivered, %u failed; %u messages of dropped senders excused\n",
          soak->n_accepted, soak->n_refused, soak->n_deliveries,
          soak->n_receipts_ok, soak->n_receipts_failed, soak->n_excused);
  print_kinds (soak);
}

static int
run (Soak *soak)
{
  int exit_status;

  if (!start_server (soak))
    return 1;
  if (soak->probe_on && !start_probe (soak))
    {
      stop_server (soak);
      return 1;
    }
  soak->rss_start = server_rss (soak);
  for (guint kind = 0; kind < N_KINDS; kind++)
    for (guint i = 0; i < soak->n_kind[kind]; i++)
      g_ptr_array_add (soak->clients, client_new ((ClientKind) kind));
  start_intruders (soak);

  act_for (soak, g_get_monotonic_time ());
  if (soak->intruders != NULL)
    soak_intruders_stop (soak->intruders);
  if (soak->probe != NULL)
    soak_probe_stop (soak->probe);
  drain (soak);
  final_accounting (soak);
  exit_status = stop_server (soak);
  /* -1 is already reported, with the reason. */
  if (exit_status > 0)
    fail (soak, "the server exited with status %d", exit_status);

  print_summary (soak);
  check_rss (soak);
  if (soak->intruders != NULL &&
      !soak_intruders_report (soak->intruders, soak->seconds))
    fail (soak, "the intruders got further than the bounds allow");
  if (soak->probe != NULL &&
      !soak_probe_report (soak->probe, PROBE_WINDOW_S, PROBE_P99_BOUND_MS))
    fail (soak, "the innocent client was not served in time");
  if (soak->n_accepted == 0 || soak->n_receipts_ok == 0)
    fail (soak, "nothing was delivered");
  printf ("sockchat-soak: %s (%u errors)\n",
          soak->n_errors == 0 ? "PASS" : "FAIL", soak->n_errors);
  return soak->n_errors == 0 ? 0 : 1;
}

/* Sizes the population; FALSE when the kinds leave fewer than two fast
 * clients. */
static gboolean
set_kinds (Soak *soak, int clients, int slow, int very_slow, int no_ack)
{
  if (slow < 0 || very_slow < 0 || no_ack < 0 ||
      clients - slow - very_slow - no_ack < 2)
    return FALSE;
  soak->n_clients = (guint) clients;
  soak->n_kind[KIND_SLOW] = (guint) slow;
  soak->n_kind[KIND_VERY_SLOW] = (guint) very_slow;
  soak->n_kind[KIND_NO_ACK] = (guint) no_ack;
  soak->n_kind[KIND_FAST] = (guint) (clients - slow - very_slow - no_ack);
  return TRUE;
}

static void
soak_clear (Soak *soak)
{
  g_ptr_array_free (soak->clients, TRUE);
  g_hash_table_unref (soak->ready);
  g_hash_table_unref (soak->by_message);
  g_hash_table_unref (soak->seen_ids);
  g_hash_table_unref (soak->dropped_ids);
  g_hash_table_unref (soak->records);
  g_rand_free (soak->rand);
  g_clear_pointer (&soak->server, sc_server_child_free);
  g_clear_pointer (&soak->probe, soak_probe_free);
  g_clear_pointer (&soak->intruders, soak_intruders_free);
  if (soak->password_file != NULL)
    unlink (soak->password_file);
  g_free (soak->password_file);
  g_free (soak->password);
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  Soak soak = { 0 };
  gint seconds = 60, clients = 200, threads = 4, rate = 4000;
  gint slow = 0, very_slow = 0, no_ack = 0, text_bytes = 200;
  gint max_memory_mib = 0, max_per_address = 0, silent = 0, guessers = 0;
  gboolean with_password = FALSE, probe = FALSE;
  gint64 seed = 0;
  int status;
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
    { "clients", 'c', 0, G_OPTION_ARG_INT, &clients,
      "Clients of every kind together (200)", "N" },
    { "slow", 0, 0, G_OPTION_ARG_INT, &slow,
      "Of those, clients that read 256 KiB/s (0)", "N" },
    { "very-slow", 0, 0, G_OPTION_ARG_INT, &very_slow,
      "Of those, clients that read 24 KiB/s (0)", "N" },
    { "no-ack", 0, 0, G_OPTION_ARG_INT, &no_ack,
      "Of those, clients that never acknowledge and only receive (0)", "N" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &threads, "Server threads (4)", "N" },
    { "rate", 'r', 0, G_OPTION_ARG_INT, &rate,
      "Requests per second, all clients together (4000)", "N" },
    { "text-bytes", 0, 0, G_OPTION_ARG_INT, &text_bytes,
      "Most padding bytes in a message text (200)", "N" },
    { "max-memory-mib", 0, 0, G_OPTION_ARG_INT, &max_memory_mib,
      "Start the server with this --max-memory, sample its RSS every second "
      "and bound it by this plus its RSS before the load (0: the server's "
      "default, and the growth bound instead)",
      "MIB" },
    { "max-per-address", 0, 0, G_OPTION_ARG_INT, &max_per_address,
      "The server's --max-per-address (0: its default)", "N" },
    { "with-password", 0, 0, G_OPTION_ARG_NONE, &with_password,
      "Start the server with a --password-file", NULL },
    { "silent", 0, 0, G_OPTION_ARG_INT, &silent,
      "Connections that never say HELLO, replaced when closed (0)", "N" },
    { "guessers", 0, 0, G_OPTION_ARG_INT, &guessers,
      "Concurrent wrong-password guesses (0; needs --with-password)", "N" },
    { "probe", 0, 0, G_OPTION_ARG_NONE, &probe,
      "An innocent client timing GET_TIME, p99 bound 50 ms per 10 s", NULL },
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
  if (server == NULL || seconds < 1 || threads < 1 || rate < 1 ||
      text_bytes < 1 || max_memory_mib < 0 || max_per_address < 0 ||
      silent < 0 || guessers < 0 || (guessers > 0 && !with_password) ||
      !set_kinds (&soak, clients, slow, very_slow, no_ack))
    {
      fprintf (stderr, "sockchat-soak: need --server (or SC_SERVER_BINARY), "
                       "--seconds >= 1, at least 2 fast clients, and "
                       "--with-password for --guessers\n");
      return 2;
    }
  signal (SIGPIPE, SIG_IGN);

  soak.server_binary = server;
  soak.seconds = (guint) seconds;
  soak.threads = (guint) threads;
  soak.rate = (guint) rate;
  soak.text_bytes = (guint) text_bytes;
  soak.max_memory_mib = (guint) max_memory_mib;
  soak.max_per_address = (guint) max_per_address;
  soak.n_silent = (guint) silent;
  soak.n_guessers = (guint) guessers;
  soak.password_on = with_password;
  soak.probe_on = probe;
  soak.rss_growth_mib = rss_growth_mib;
  soak.seed = seed != 0 ? seed : g_get_real_time ();
  soak.rand = g_rand_new_with_seed ((guint32) soak.seed);
  soak.clients = g_ptr_array_new_with_free_func ((GDestroyNotify) client_free);
  soak.ready = g_hash_table_new (NULL, NULL);
  soak.records = g_hash_table_new_full (g_int64_hash, g_int64_equal, NULL,
                                        (GDestroyNotify) record_free);
  soak.by_message = g_hash_table_new (g_int64_hash, g_int64_equal);
  soak.seen_ids = g_hash_table_new (NULL, NULL);
  soak.dropped_ids = g_hash_table_new (NULL, NULL);
  printf ("sockchat-soak: seed %" G_GINT64_FORMAT "\n", soak.seed);

  status = run (&soak);
  soak_clear (&soak);
  return status;
}
