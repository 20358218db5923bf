/* sc-bench-adapter-redis.c: Redis pub/sub over RESP2.
 *
 * A subscribed RESP2 connection may only (un)subscribe and ping, so
 * every peer is two sockets, as a Redis chat client would have: the
 * PEER connection SUBSCRIBEs to "c:<index>" and is ready on the
 * confirmation; its COMPANION publishes, "PUBLISH c:<i> <body>" for peer
 * i, and needs no handshake.  A "message" push on the subscriber is a
 * message for this connection; PUBLISH's integer reply is the number of
 * subscribers reached, and 0 is reported as a refused send.  A
 * requester is one plain connection whose request is PING (+PONG):
 * Redis's cheapest round trip.
 */
#include "sc-bench-adapter.h"

#include <stdlib.h>

/* Header lines (array counts, bulk lengths, integers, status replies)
 * are short; a longer one is not RESP we expect. */
#define RESP_MAX_LINE  64
#define RESP_MAX_BULK  (1024 * 1024)
#define RESP_MAX_ITEMS 3

typedef enum
{
  RESP_ERROR = -1,
  RESP_INCOMPLETE = 0,
  RESP_COMPLETE = 1,
} RespStatus;

/* Finds the CRLF that ends the line starting at pos: the offset of its
 * '\r', or -1 when it has not arrived (or the line is past the cap,
 * then *too_long is set). */
static gssize
find_line_end (const guint8 *data, gsize length, gsize pos, gboolean *too_long)
{
  gsize limit = MIN (length, pos + RESP_MAX_LINE);

  *too_long = FALSE;
  for (gsize i = pos; i + 1 < limit; i++)
    if (data[i] == '\r' && data[i + 1] == '\n')
      return i;
  *too_long = limit - pos >= RESP_MAX_LINE;
  return -1;
}

/* Reads the decimal number of the line at *pos (after its type byte)
 * and moves *pos past the CRLF. */
static RespStatus
read_number_line (const guint8 *data, gsize length, gsize *pos, gint64 *value)
{
  gboolean too_long;
  gssize end = find_line_end (data, length, *pos, &too_long);
  char digits[RESP_MAX_LINE];
  char *tail;

  if (end < 0)
    return too_long ? RESP_ERROR : RESP_INCOMPLETE;
  if ((gsize) end == *pos + 1)
    return RESP_ERROR;
  memcpy (digits, data + *pos + 1, end - *pos - 1);
  digits[end - *pos - 1] = '\0';
  *value = g_ascii_strtoll (digits, &tail, 10);
  if (*tail != '\0')
    return RESP_ERROR;
  *pos = end + 2;
  return RESP_COMPLETE;
}

/* Reads one array of up to RESP_MAX_ITEMS bulk strings or integers
 * (what pub/sub pushes are) from *pos; items[] point into data. */
static RespStatus
read_array (const guint8 *data,
            gsize length,
            gsize *pos,
            const guint8 **items,
            gsize *lengths,
            guint *n_items)
{
  gsize p = *pos;
  gint64 count;
  RespStatus status;

  if (p >= length)
    return RESP_INCOMPLETE;
  if (data[p] != '*')
    return RESP_ERROR;
  status = read_number_line (data, length, &p, &count);
  if (status != RESP_COMPLETE)
    return status;
  if (count < 0 || count > RESP_MAX_ITEMS)
    return RESP_ERROR;
  for (gint64 i = 0; i < count; i++)
    {
      gint64 value;
      gsize start = p;

      if (p >= length)
        return RESP_INCOMPLETE;
      if (data[p] != '$' && data[p] != ':')
        return RESP_ERROR;
      status = read_number_line (data, length, &p, &value);
      if (status != RESP_COMPLETE)
        return status;
      if (data[start] == ':')
        {
          items[i] = data + start + 1;
          lengths[i] = p - 2 - (start + 1);
          continue;
        }
      if (value < 0 || value > RESP_MAX_BULK)
        return RESP_ERROR;
      if (length - p < (gsize) value + 2)
        return RESP_INCOMPLETE;
      items[i] = data + p;
      lengths[i] = value;
      p += value + 2;
    }
  *n_items = count;
  *pos = p;
  return RESP_COMPLETE;
}

static gboolean
item_is (const guint8 *item, gsize length, const char *word)
{
  return length == strlen (word) && memcmp (item, word, length) == 0;
}

static void
append_bulk (GByteArray *out, const void *data, gsize length)
{
  char header[24];
  int n =
    g_snprintf (header, sizeof header, "$%" G_GSIZE_FORMAT "\r\n", length);

  g_byte_array_append (out, (const guint8 *) header, n);
  g_byte_array_append (out, data, length);
  g_byte_array_append (out, (const guint8 *) "\r\n", 2);
}

static void
redis_start (ScBenchConn *conn)
{
  char channel[24];
  int n;
  GByteArray *out;

  if (conn->role == SC_BENCH_ROLE_COMPANION ||
      conn->role == SC_BENCH_ROLE_REQUESTER)
    {
      /* Redis speaks only when spoken to and needs no login here. */
      sc_bench_conn_emit (conn, SC_BENCH_EVENT_READY, NULL, 0);
      return;
    }
  out = sc_bench_conn_output (conn);
  n = g_snprintf (channel, sizeof channel, "c:%u", conn->index);
  g_byte_array_append (out, (const guint8 *) "*2\r\n", 4);
  append_bulk (out, "SUBSCRIBE", 9);
  append_bulk (out, channel, n);
}

/* The subscriber: "subscribe" confirmations and "message" pushes. */
static gssize
parse_subscriber (ScBenchConn *conn, const guint8 *data, gsize length)
{
  gsize pos = 0;

  while (pos < length && !conn->dead)
    {
      const guint8 *items[RESP_MAX_ITEMS];
      gsize lengths[RESP_MAX_ITEMS];
      guint n = 0;
      RespStatus status = read_array (data, length, &pos, items, lengths, &n);

      if (status == RESP_INCOMPLETE)
        break;
      if (status == RESP_ERROR || n == 0)
        {
          g_warning ("connection %u: unexpected reply from Redis: %.*s",
                     conn->index, (int) MIN (length - pos, 60),
                     (const char *) data + pos);
          return -1;
        }
      if (n == 3 && item_is (items[0], lengths[0], "message"))
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_MESSAGE, items[2], lengths[2]);
      else if (n == 3 && item_is (items[0], lengths[0], "subscribe"))
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_READY, NULL, 0);
    }
  return pos;
}

/* The publisher and the requester: one line per reply, ":<subscribers
 * reached>" for PUBLISH, "+PONG" for PING. */
static gssize
parse_replies (ScBenchConn *conn, const guint8 *data, gsize length)
{
  gsize pos = 0;

  while (pos < length && !conn->dead)
    {
      gboolean too_long;
      gssize end = find_line_end (data, length, pos, &too_long);

      if (end < 0)
        {
          if (too_long)
            return -1;
          break;
        }
      if (data[pos] == ':')
        {
          /* Nobody subscribed: the message went nowhere. */
          if (end == (gssize) pos + 2 && data[pos + 1] == '0')
            sc_bench_conn_emit (conn->companion, SC_BENCH_EVENT_SEND_FAILED,
                                NULL, 0);
        }
      else if (data[pos] == '+' && conn->role == SC_BENCH_ROLE_REQUESTER)
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_RESPONSE, NULL, 0);
      else
        {
          g_warning ("connection %u: Redis said: %.*s", conn->index,
                     (int) (end - pos), (const char *) data + pos);
          return -1;
        }
      pos = end + 2;
    }
  return pos;
}

static gssize
redis_parse (ScBenchConn *conn, const guint8 *data, gsize length)
{
  if (conn->role == SC_BENCH_ROLE_COMPANION ||
      conn->role == SC_BENCH_ROLE_REQUESTER)
    return parse_replies (conn, data, length);
  return parse_subscriber (conn, data, length);
}

static void
redis_send_message (ScBenchConn *conn, const guint8 *body, gsize length)
{
  GByteArray *out;
  char channel[24];
  int n = g_snprintf (channel, sizeof channel, "c:%u", conn->peer->index);

  g_assert (conn->companion != NULL);
  out = sc_bench_conn_output (conn->companion);
  g_byte_array_append (out, (const guint8 *) "*3\r\n", 4);
  append_bulk (out, "PUBLISH", 7);
  append_bulk (out, channel, n);
  append_bulk (out, body, length);
}

static void
redis_send_request (ScBenchConn *conn, const guint8 *body, gsize length)
{
  static const char ping[] = "*1\r\n$4\r\nPING\r\n";

  g_byte_array_append (sc_bench_conn_output (conn), (const guint8 *) ping,
                       sizeof ping - 1);
}

const ScBenchAdapter sc_bench_adapter_redis = {
  .name = "redis",
  .default_port = 6379,
  .peer_companion = TRUE,
  .start = redis_start,
  .parse = redis_parse,
  .send_message = redis_send_message,
  .send_request = redis_send_request,
};
