/* soak-clients.c: the soak's clients: connecting, acting, leaving,
 * reading at their kind's pace, and the poll loop over all of them. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "soak-conn.h"
#include "soak-private.h"

/* ------------------------------------------------------------------ */
/* Clients */

void
client_queue (Client *client, ScMessage *message)
{
  g_autoptr (ScMessage) owned = message;

  sc_message_append_frame (owned, client->out);
}

guint32
queue_request (Client *client, ScMessage *message, Record *record)
{
  guint32 id = client->next_request++;

  if (client->next_request == 0)
    client->next_request = 1;
  message->request_id = id;
  g_hash_table_insert (client->pending, GUINT_TO_POINTER (id), record);
  client_queue (client, message);
  return id;
}

/* A client slot of @kind, not yet connected (state CLOSED). */
Client *
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

const char *
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

void
client_free (Client *client)
{
  if (client->fd >= 0)
    close (client->fd);
  sc_frame_reader_free (client->reader);
  g_byte_array_unref (client->out);
  g_hash_table_unref (client->pending);
  g_free (client);
}

void
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
void
client_lost (Soak *soak, Client *client, const char *why)
{
  soak_fail (soak, "client %u lost its connection while %s: %s", client->id,
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

void
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

/* The kind of the client that had @id, for diagnostics. */
static const char *
kind_name (Soak *soak, guint32 id)
{
  static const char *const names[N_KINDS + 1] = { "not ours", "fast", "slow",
                                                  "very slow", "no-ack" };
  guint kind = GPOINTER_TO_UINT (
    g_hash_table_lookup (soak->seen_ids, GUINT_TO_POINTER (id)));

  return names[MIN (kind, N_KINDS)];
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
      soak_fail (
        soak,
        "  T%" G_GUINT64_FORMAT " (message %" G_GUINT64_FORMAT
        ") to %u: %u of %u receipts, delivered to %u of ours; "
        "recipient (%s) %s; not acknowledged by %u, which %s",
        record->token, record->message_id, record->recipient,
        g_hash_table_size (record->receipts), record->expected_receipts,
        g_hash_table_size (record->delivered),
        kind_name (soak, record->recipient),
        record->recipient == 0 ? "(broadcast)"
        : g_hash_table_contains (soak->ready,
                                 GUINT_TO_POINTER (record->recipient))
          ? "still active"
          : "not active",
        record->unacked_by, record->unacked_why ? record->unacked_why : "-");
      shown++;
    }
}

/* A client's phase ran out of time. */
static void
client_overdue (Soak *soak, Client *client)
{
  if (client->owed_receipts > 0)
    explain_missing (soak, client);
  soak_fail (soak,
             "client %u (%s) timed out %s (%u requests unanswered, %u "
             "receipts missing)",
             client->id, kind_name (soak, client->id),
             state_name (client->state), g_hash_table_size (client->pending),
             client->owed_receipts);
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
void
soak_advance (Soak *soak)
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
void
soak_refill_budgets (Soak *soak)
{
  for (guint i = 0; i < soak->clients->len; i++)
    {
      Client *client = g_ptr_array_index (soak->clients, i);

      client->read_budget = tick_budget (client->kind);
    }
}

/* One poll over every socket, up to @timeout_ms. */
void
soak_poll_once (Soak *soak, int timeout_ms)
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
void
soak_flush_all (Soak *soak)
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
void
soak_tick (Soak *soak)
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
