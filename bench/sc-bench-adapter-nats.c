/* sc-bench-adapter-nats.c: the NATS client protocol (nats-server).
 *
 * Handshake: the server's INFO line may come first or not; the client
 * sends CONNECT {"verbose":false,"pedantic":false} (no +OK for every
 * command), SUB "c.<index>" (not a requester), and PING; ready on the
 * first PONG, which tells that the subscriptions are in place.  A
 * message for peer i is PUB "c.<i>"; a MSG is a message for this
 * connection.  The server's own PINGs get their PONG.  A request is
 * PING, answered by PONG, NATS's cheapest round trip, in either mode.
 *
 * Modes: "pubsub" (the default) is plain publish/subscribe, fire and
 * forget.  "request" is NATS request-reply, the closest NATS has to a
 * per-message acknowledgement: each peer also subscribes to its inbox
 * "_INBOX.<index>.*" (one wildcard subscription for all its replies, as
 * the client libraries do), publishes every message with a reply
 * subject "_INBOX.<index>.<n>", and the recipient answers each message
 * it gets with an empty PUB to that subject.  As for every system, a
 * message counts as delivered, and the sender's window is refilled,
 * when the recipient has read it; the replies the sender gets are read
 * and dropped, like SockChat's DELIVERY_RECEIPTs.
 */
#include "sc-bench-adapter.h"

#include <stdio.h>
#include <stdlib.h>

/* INFO lines carry a JSON object of some hundred bytes; a control line
 * past this is not NATS. */
#define NATS_MAX_LINE    4096
#define NATS_MAX_PAYLOAD (1024 * 1024)

/* The modes, in the order of nats_modes[]. */
enum
{
  NATS_MODE_PUBSUB,
  NATS_MODE_REQUEST,
};

/* The subscription ids: messages for this connection, and replies. */
#define NATS_SID_MESSAGES "1"
#define NATS_SID_REPLIES  "2"

static gboolean
request_mode (const ScBenchConn *conn)
{
  return sc_bench_loop_get_mode (conn->loop) == NATS_MODE_REQUEST;
}

static void
append_string (GByteArray *out, const char *string)
{
  g_byte_array_append (out, (const guint8 *) string, strlen (string));
}

static void
nats_start (ScBenchConn *conn)
{
  GByteArray *out = sc_bench_conn_output (conn);

  append_string (out, "CONNECT {\"verbose\":false,\"pedantic\":false,"
                      "\"name\":\"sockchat-bench\"}\r\n");
  if (conn->role != SC_BENCH_ROLE_REQUESTER)
    {
      char sub[40];

      g_snprintf (sub, sizeof sub, "SUB c.%u " NATS_SID_MESSAGES "\r\n",
                  conn->index);
      append_string (out, sub);
      if (request_mode (conn))
        {
          g_snprintf (sub, sizeof sub,
                      "SUB _INBOX.%u.* " NATS_SID_REPLIES "\r\n", conn->index);
          append_string (out, sub);
        }
    }
  append_string (out, "PING\r\n");
}

static gboolean
line_is (const guint8 *line, gsize length, const char *word)
{
  gsize n = strlen (word);

  return length >= n && g_ascii_strncasecmp ((const char *) line, word, n) == 0;
}

/* "MSG <subject> <sid> [reply-to] <#bytes>": the fields after the
 * subject.  reply is NULL when there is no reply subject. */
typedef struct
{
  const guint8 *sid;
  gsize sid_length;
  const guint8 *reply;
  gsize reply_length;
  gsize size;
} MsgLine;

static gboolean
parse_msg_line (const guint8 *line, gsize length, MsgLine *msg)
{
  const guint8 *field[5];
  gsize field_length[5], n = 0, pos = 0;
  guint64 value = 0;

  while (pos < length)
    {
      gsize start;

      while (pos < length && (line[pos] == ' ' || line[pos] == '\t'))
        pos++;
      if (pos == length)
        break;
      if (n == G_N_ELEMENTS (field))
        return FALSE;
      start = pos;
      while (pos < length && line[pos] != ' ' && line[pos] != '\t')
        pos++;
      field[n] = line + start;
      field_length[n++] = pos - start;
    }
  /* "MSG", subject, sid, [reply-to,] size. */
  if (n < 4 || field_length[n - 1] > 9)
    return FALSE;
  for (gsize i = 0; i < field_length[n - 1]; i++)
    {
      if (!g_ascii_isdigit (field[n - 1][i]))
        return FALSE;
      value = value * 10 + (field[n - 1][i] - '0');
    }
  if (value > NATS_MAX_PAYLOAD)
    return FALSE;
  msg->sid = field[2];
  msg->sid_length = field_length[2];
  msg->reply = n == 5 ? field[3] : NULL;
  msg->reply_length = n == 5 ? field_length[3] : 0;
  msg->size = value;
  return TRUE;
}

static gboolean
msg_is_reply (const MsgLine *msg)
{
  return msg->sid_length == strlen (NATS_SID_REPLIES) &&
         memcmp (msg->sid, NATS_SID_REPLIES, msg->sid_length) == 0;
}

/* The recipient's answer to a request: an empty message to its reply
 * subject. */
static void
send_reply (ScBenchConn *conn, const MsgLine *msg)
{
  GByteArray *out = sc_bench_conn_output (conn);

  append_string (out, "PUB ");
  g_byte_array_append (out, msg->reply, msg->reply_length);
  append_string (out, " 0\r\n\r\n");
}

static gssize
nats_parse (ScBenchConn *conn, const guint8 *data, gsize length)
{
  gsize pos = 0;

  while (pos < length && !conn->dead)
    {
      const guint8 *line = data + pos;
      const guint8 *end =
        memchr (line, '\n', MIN (length - pos, NATS_MAX_LINE));
      gsize line_length;

      if (end == NULL)
        {
          if (length - pos >= NATS_MAX_LINE)
            return -1;
          break;
        }
      line_length = end - line;
      if (line_length > 0 && line[line_length - 1] == '\r')
        line_length--;

      if (line_is (line, line_length, "MSG "))
        {
          gsize body = end + 1 - data;
          MsgLine msg;

          if (!parse_msg_line (line, line_length, &msg))
            return -1;
          if (length - body < msg.size + 2)
            break;
          pos = body + msg.size + 2;
          if (msg_is_reply (&msg))
            continue;
          /* Answered before the workload sees it (and may send), as a
           * responder would. */
          if (msg.reply != NULL)
            send_reply (conn, &msg);
          sc_bench_conn_emit (conn, SC_BENCH_EVENT_MESSAGE, data + body,
                              msg.size);
          continue;
        }
      if (line_is (line, line_length, "PING"))
        append_string (sc_bench_conn_output (conn), "PONG\r\n");
      else if (line_is (line, line_length, "PONG"))
        sc_bench_conn_emit (
          conn, conn->ready ? SC_BENCH_EVENT_RESPONSE : SC_BENCH_EVENT_READY,
          NULL, 0);
      else if (line_is (line, line_length, "-ERR"))
        {
          g_warning ("connection %u: NATS said: %.*s", conn->index,
                     (int) line_length, (const char *) line);
          return -1;
        }
      /* INFO and +OK need nothing. */
      pos = end + 1 - data;
    }
  return pos;
}

static void
nats_send_message (ScBenchConn *conn, const guint8 *body, gsize length)
{
  GByteArray *out = sc_bench_conn_output (conn);
  char header[80];
  int n;

  if (request_mode (conn))
    n = g_snprintf (
      header, sizeof header, "PUB c.%u _INBOX.%u.%u %" G_GSIZE_FORMAT "\r\n",
      conn->peer->index, conn->index, conn->next_request_id++, length);
  else
    n = g_snprintf (header, sizeof header, "PUB c.%u %" G_GSIZE_FORMAT "\r\n",
                    conn->peer->index, length);

  g_byte_array_append (out, (const guint8 *) header, n);
  g_byte_array_append (out, body, length);
  g_byte_array_append (out, (const guint8 *) "\r\n", 2);
}

static void
nats_send_request (ScBenchConn *conn, const guint8 *body, gsize length)
{
  append_string (sc_bench_conn_output (conn), "PING\r\n");
}

static const char *const nats_modes[] = { "pubsub", "request", NULL };

const ScBenchAdapter sc_bench_adapter_nats = {
  .name = "nats",
  .default_port = 4222,
  .modes = nats_modes,
  .start = nats_start,
  .parse = nats_parse,
  .send_message = nats_send_message,
  .send_request = nats_send_request,
};
