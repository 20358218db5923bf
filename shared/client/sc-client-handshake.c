/* sc-client-handshake.c: see sc-client-handshake.h.  Everything here
 * may block, each step bounded by a timeout, since it runs on its own
 * thread; it touches nothing of the ScClient that started it. */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-client-handshake.h"
#include "sc-client-private.h"
#include "sc-socket.h"
#include "sc-tsan.h"

#define CONNECT_TIMEOUT_MS 5000

void
sc_client_handshake_free (Handshake *hs)
{
  /* Possibly in the handshake thread, after the owner is done with it:
   * before any field is read, as the owner may have taken some. */
  SC_HAPPENS_AFTER (hs);
  g_clear_pointer (&hs->previous, sc_client_sender_unref);
  sc_client_tls_free (hs->tls);
  if (hs->fd >= 0)
    close (hs->fd);
  g_free (hs->accepted_fingerprint);
  g_free (hs->known_servers_path);
  g_free (hs->fingerprint);
  g_free (hs->host);
  g_free (hs->nickname);
  g_free (hs->program);
  g_free (hs->password);
  sc_frame_reader_free (hs->reader);
  sc_message_free (hs->greeting);
  sc_message_free (hs->hello_reply);
  g_clear_pointer (&hs->early, g_ptr_array_unref);
  g_free (hs);
}

static ScMessage *
read_message (Handshake *hs, GError **error)
{
  for (;;)
    {
      ScFrameHeader header;
      const guint8 *payload;
      gsize room;
      guint8 *buffer;
      ssize_t n;
      const char *why = NULL;
      ScFrameStatus status =
        sc_frame_reader_next (hs->reader, &header, &payload, error);

      if (status == SC_FRAME_READY)
        return sc_message_decode (&header, payload, error);
      if (status == SC_FRAME_ERROR)
        return NULL;
      buffer = sc_frame_reader_reserve (hs->reader, 4096, &room);
      do
        n = hs->tls ? sc_client_tls_recv (hs->tls, buffer, room, &why)
                    : recv (hs->fd, buffer, room, 0);
      while (n < 0 && errno == EINTR);
      if (n <= 0)
        {
          g_set_error (error, SC_ERROR, SC_ERROR_CLOSED, "%s",
                       n == 0            ? "the server closed the connection"
                       : errno == EAGAIN ? "the server did not greet in time"
                       : why != NULL     ? why
                                         : g_strerror (errno));
          return NULL;
        }
      sc_frame_reader_commit (hs->reader, (gsize) n);
    }
}

static void
set_timeouts (int fd, int receive_s, int send_s)
{
  struct timeval rcv = { receive_s, 0 }, snd = { send_s, 0 };

  setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &rcv, sizeof rcv);
  setsockopt (fd, SOL_SOCKET, SO_SNDTIMEO, &snd, sizeof snd);
}

static gboolean
read_greeting (Handshake *hs, GError **error)
{
  hs->greeting = read_message (hs, error);
  if (hs->greeting == NULL)
    return FALSE;
  if (hs->greeting->type == SC_MSG_GREETING)
    {
      sc_frame_reader_set_max_payload (hs->reader, hs->greeting->max_payload);
      return TRUE;
    }
  g_set_error (
    error, SC_STATUS_ERROR,
    hs->greeting->type == SC_MSG_PROTOCOL_ERROR ? (int) hs->greeting->status
                                                : SC_STATUS_PROTOCOL_ERROR,
    "the server refused: %s",
    hs->greeting->type == SC_MSG_PROTOCOL_ERROR ? hs->greeting->reason
                                                : "it did not greet");
  return FALSE;
}

static gboolean
say_hello (Handshake *hs, GError **error)
{
  g_autoptr (ScMessage) hello = sc_message_new (SC_MSG_HELLO, 1);
  g_autoptr (GBytes) frame = NULL;
  gsize size;
  const guint8 *data;

  /* Checked before anything is sent: a server that refuses it over a
   * plain connection has already seen it by then. */
  if (hs->password != NULL && hs->tls == NULL && !hs->allow_plaintext_password)
    {
      g_set_error_literal (error, SC_ERROR, SC_ERROR_PLAINTEXT_PASSWORD,
                           "the password would cross the network "
                           "unencrypted: connect over TLS");
      return FALSE;
    }
  hello->name = g_strdup (hs->program);
  hello->nickname = g_strdup (hs->nickname ? hs->nickname : "");
  hello->password = g_strdup (hs->password);
  /* Many outcomes may come in one DELIVERY_RECEIPTS frame; each is still
   * reported on its own through ::delivery-receipt. */
  hello->flags = SC_FLAG_RECEIPT_BATCHES;
  frame = sc_message_encode (hello);
  data = g_bytes_get_data (frame, &size);
  if (hs->tls ? !sc_client_tls_send_all (hs->tls, data, size, error)
              : !sc_socket_send_all (hs->fd, data, size, error))
    return FALSE;

  hs->early = g_ptr_array_new_with_free_func ((GDestroyNotify) sc_message_free);
  for (;;)
    {
      ScMessage *message = read_message (hs, error);

      if (message == NULL)
        return FALSE;
      if (message->type == SC_MSG_HELLO_REPLY)
        {
          hs->hello_reply = message;
          break;
        }
      g_ptr_array_add (hs->early, message);
    }
  if (hs->hello_reply->status == SC_STATUS_OK)
    return TRUE;
  g_set_error (error, SC_STATUS_ERROR, (int) hs->hello_reply->status,
               "the server refused: %s", hs->hello_reply->reason);
  return FALSE;
}

/* Reconnecting at once after leaving: the server may not have let the
 * old connection go yet, and with it the nickname.  The old sender
 * closes only once the server has closed its side (or after its
 * linger time), so waiting for it first lets the same name be taken
 * again. */
#define PREVIOUS_CLOSE_WAIT_MS 2500

static gboolean
run_handshake (Handshake *hs, GError **error)
{
  if (hs->previous)
    sc_client_sender_wait_closed (hs->previous, PREVIOUS_CLOSE_WAIT_MS);
  hs->fd = sc_socket_connect (hs->host, hs->port, CONNECT_TIMEOUT_MS, error);
  if (hs->fd < 0)
    return FALSE;
  hs->reader = sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  set_timeouts (hs->fd, CONNECT_TIMEOUT_MS / 1000,
                SC_CLIENT_HANDSHAKE_SEND_TIMEOUT_S);
  if (hs->use_tls)
    {
      ScClientTlsPolicy policy = {
        .host = hs->host,
        .port = hs->port,
        .trust_new = hs->trust_new,
        .accepted = hs->accepted_fingerprint,
        .known_path = hs->known_servers_path,
      };

      hs->tls = sc_client_tls_handshake (hs->fd, &policy, &hs->fingerprint,
                                         &hs->trust, error);
      if (hs->tls == NULL)
        return FALSE;
    }
  if (!read_greeting (hs, error) || !say_hello (hs, error))
    return FALSE;
  set_timeouts (hs->fd, 0, SC_CLIENT_HANDSHAKE_SEND_TIMEOUT_S);
  sc_socket_set_keepalive (hs->fd, 60, 20, 3, 120000);
  return TRUE;
}

/* Runs in a GTask thread: everything here may block, bounded by
 * timeouts, without freezing the owner. */
void
sc_client_handshake_thread (GTask *task,
                            gpointer source,
                            gpointer data,
                            GCancellable *cancellable)
{
  Handshake *hs = data;
  GError *error = NULL;
  gboolean ok;

  SC_HAPPENS_AFTER (hs);
  ok = run_handshake (hs, &error);
  SC_HAPPENS_BEFORE (hs);
  if (ok)
    g_task_return_boolean (task, TRUE);
  else
    g_task_return_error (task, error);
}
