/* sc-bench-adapter-nats.c: the NATS client protocol (nats-server).
 *
 * Handshake: the server's INFO line may come first or not; the client
 * sends CONNECT {"verbose":false,"pedantic":false} (no +OK for every
 * command), SUB "c.<index>" (not a requester), and PING; ready on the
 * first PONG, which tells that the subscription is in place.  A message
 * for peer i is PUB "c.<i>"; a MSG is a message for this connection.
 * The server's own PINGs get their PONG.  A request is PING, answered
 * by PONG, NATS's cheapest round trip.
 */
#include "sc-bench-adapter.h"

#include <stdio.h>
#include <stdlib.h>

/* INFO lines carry a JSON object of some hundred bytes; a control line
 * past this is not NATS. */
#define NATS_MAX_LINE    4096
#define NATS_MAX_PAYLOAD (1024 * 1024)

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

      g_snprintf (sub, sizeof sub, "SUB c.%u 1\r\n", conn->index);
      append_string (out, sub);
    }
  append_string (out, "PING\r\n");
}

static gboolean
line_is (const guint8 *line, gsize length, const char *word)
{
  gsize n = strlen (word);

  return length >= n && g_ascii_strncasecmp ((const char *) line, word, n) == 0;
}

/* "MSG <subject> <sid> [reply-to] <#bytes>": the size is the last
 * field. */
static gboolean
msg_size (const guint8 *line, gsize length, gsize *size)
{
  gsize start = length;
  guint64 value = 0;

  while (start > 0 && g_ascii_isdigit (line[start - 1]))
    start--;
  if (start == length || start == 0 || line[start - 1] != ' ' ||
      length - start > 9)
    return FALSE;
  for (gsize i = start; i < length; i++)
    value = value * 10 + (line[i] - '0');
  if (value > NATS_MAX_PAYLOAD)
    return FALSE;
  *size = value;
  return TRUE;
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
          gsize size, body = end + 1 - data;

          if (!msg_size (line, line_length, &size))
            return -1;
          if (length - body < size + 2)
            break;
          sc_bench_conn_emit (conn, SC_BENCH_EVENT_MESSAGE, data + body, size);
          pos = body + size + 2;
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
  char header[48];
  int n = g_snprintf (header, sizeof header, "PUB c.%u %" G_GSIZE_FORMAT "\r\n",
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

const ScBenchAdapter sc_bench_adapter_nats = {
  .name = "nats",
  .default_port = 4222,
  .start = nats_start,
  .parse = nats_parse,
  .send_message = nats_send_message,
  .send_request = nats_send_request,
};
