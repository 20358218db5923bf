/* sc-bench-adapter-floor.c: the floor relay (sc-bench-floor.c).
 *
 * Handshake: one line, "PAIR <n>\n" for side of pair n, "ECHO\n" for a
 * requester, "IDLE\n" for an idle connection; ready when the relay
 * answers "OK\n" (for a pair, once both sides have arrived).  After
 * that the stream carries bare fixed-size messages: every message is
 * exactly --payload bytes, the body itself, with no header at all.
 */
#include "sc-bench-adapter.h"

#include <stdio.h>

static void
floor_start (ScBenchConn *conn)
{
  char line[32];
  int length;

  switch (conn->role)
    {
    case SC_BENCH_ROLE_PEER:
      length = g_snprintf (line, sizeof line, "PAIR %u\n", conn->pair);
      break;
    case SC_BENCH_ROLE_REQUESTER:
      length = g_snprintf (line, sizeof line, "ECHO\n");
      break;
    case SC_BENCH_ROLE_IDLE:
    default: length = g_snprintf (line, sizeof line, "IDLE\n"); break;
    }
  g_byte_array_append (sc_bench_conn_output (conn), (const guint8 *) line,
                       length);
}

static gssize
floor_parse (ScBenchConn *conn, const guint8 *data, gsize length)
{
  gsize size = sc_bench_loop_get_payload (conn->loop);
  gsize pos = 0;

  if (!conn->ready)
    {
      if (length < 3)
        return 0;
      if (memcmp (data, "OK\n", 3) != 0)
        return -1;
      pos = 3;
      sc_bench_conn_emit (conn, SC_BENCH_EVENT_READY, NULL, 0);
    }
  while (length - pos >= size && !conn->dead)
    {
      sc_bench_conn_emit (conn,
                          conn->role == SC_BENCH_ROLE_REQUESTER
                            ? SC_BENCH_EVENT_RESPONSE
                            : SC_BENCH_EVENT_MESSAGE,
                          data + pos, size);
      pos += size;
    }
  return pos;
}

static void
floor_send (ScBenchConn *conn, const guint8 *body, gsize length)
{
  g_assert (length == sc_bench_loop_get_payload (conn->loop));
  g_byte_array_append (sc_bench_conn_output (conn), body, length);
}

const ScBenchAdapter sc_bench_adapter_floor = {
  .name = "floor",
  .start = floor_start,
  .parse = floor_parse,
  .send_message = floor_send,
  .send_request = floor_send,
};
