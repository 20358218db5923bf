/* sc-cluster-client.c: the clients of sc-cluster-load (see
 * sc-cluster-client.h): non-blocking sockets, one poll() over them all,
 * HELLO, acknowledgements and paged lists answered as they come. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-cluster-client.h"
#include "sc-socket.h"

guint16 ports[8];
guint n_ports;
GPtrArray *clients;
int n_failed;
void (*on_message) (Client *client, ScMessage *message);

void
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

gint64
now_us (void)
{
  return g_get_monotonic_time ();
}

void
queue (Client *client, ScMessage *message)
{
  sc_message_append_frame (message, client->out);
}

void
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
void
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
void
pump (int timeout_ms)
{
  pump_set (clients, timeout_ms);
}

gboolean
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

gboolean
has_id (gpointer data)
{
  Client *client = data;

  return client->id != 0 || client->fd < 0;
}

Client *
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

void
disconnect_client (Client *client)
{
  g_ptr_array_remove (clients, client);
}

void
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

gboolean
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
gboolean
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

gboolean
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

/* The first client of each node in @all, in node order (not owned). */
GPtrArray *
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
