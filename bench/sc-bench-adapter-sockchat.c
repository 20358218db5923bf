/* sc-bench-adapter-sockchat.c: the SockChat protocol (docs/PROTOCOL.md).
 *
 * Handshake: wait for GREETING, send HELLO, ready on an OK HELLO_REPLY;
 * the connection's address is its client id.  HELLO carries the
 * NO_PRESENCE flag: the bench has no use for join and leave notices, and
 * with thousands of clients they would be most of the traffic (every
 * arrival is announced to every client that asked for presence).  A message is
 * SEND_MESSAGE to the peer's id; every MESSAGE received is acknowledged at once
 * with MESSAGE_ACK, and SERVER_PING is answered with PONG, as the protocol
 * requires.  SEND_MESSAGE_REPLY and DELIVERY_RECEIPT are read and
 * dropped (a refusal is reported).  A request is GET_TIME.
 *
 * Modes (--mode):
 *  - "receipts" (default): every message is acknowledged and its sender
 *    gets its receipt, with protocol 1.1's savings: SEND_MESSAGE with
 *    QUIET (no reply unless refused), the acknowledgements of everything
 *    one read brought in one MESSAGE_ACKS, receipts in DELIVERY_RECEIPTS
 *    (HELLO flag RECEIPT_BATCHES).
 *  - "no-receipt": SEND_MESSAGE with QUIET and NO_RECEIPT: the recipient
 *    gets the MESSAGE with NO_ACK, nobody acknowledges and no receipt
 *    follows (MQTT's QoS 0).
 *  - "receipts-1.0": what a protocol 1.0 client does: a reply per
 *    message, a MESSAGE_ACK per message, a DELIVERY_RECEIPT per message.
 *
 * The hot frames (MESSAGE, replies, receipts) are read field by field
 * with ScWireReader instead of sc_message_decode(), which would allocate
 * every string: the bench shares the machine with the server and must
 * stay cheap.
 */
#include "sc-bench-adapter.h"

#include "sc-message.h"
#include "sc-protocol.h"
#include "sc-wire.h"

static void
append_header_flags (GByteArray *out,
                     guint8 type,
                     guint16 flags,
                     guint32 request_id,
                     guint32 payload_length)
{
  ScFrameHeader header = { SC_PROTOCOL_VERSION, type, flags, request_id,
                           payload_length };
  guint8 bytes[SC_FRAME_HEADER_SIZE];

  sc_frame_header_write (&header, bytes);
  g_byte_array_append (out, bytes, sizeof bytes);
}

static void
append_header (GByteArray *out,
               guint8 type,
               guint32 request_id,
               guint32 payload_length)
{
  append_header_flags (out, type, 0, request_id, payload_length);
}

enum
{
  MODE_RECEIPTS,
  MODE_NO_RECEIPT,
  MODE_RECEIPTS_1_0,
};

static guint
mode_of (ScBenchConn *conn)
{
  return sc_bench_loop_get_mode (conn->loop);
}

/* The ids of the MESSAGEs one parse() call read, acknowledged together at
 * its end.  The bench is single-threaded. */
static GArray *pending_acks;

static guint32
next_request_id (ScBenchConn *conn)
{
  guint32 id = conn->next_request_id++;

  if (conn->next_request_id == 0)
    conn->next_request_id = 1;
  return id;
}

static void
sockchat_start (ScBenchConn *conn)
{
  /* The server speaks first (GREETING). */
}

static void
send_hello (ScBenchConn *conn)
{
  g_autoptr (ScMessage) hello = sc_message_new (SC_MSG_HELLO, 0);
  g_autofree char *nickname = g_strdup_printf ("bench%u", conn->index);

  hello->request_id = next_request_id (conn);
  hello->version = SC_PROTOCOL_VERSION;
  hello->name = g_strdup ("sockchat-bench");
  hello->nickname = g_steal_pointer (&nickname);
  hello->flags = SC_FLAG_NO_PRESENCE;
  if (mode_of (conn) != MODE_RECEIPTS_1_0)
    hello->flags |= SC_FLAG_RECEIPT_BATCHES;
  sc_message_append_frame (hello, sc_bench_conn_output (conn));
}

static void
send_u64_notice (ScBenchConn *conn, guint8 type, guint64 value)
{
  GByteArray *out = sc_bench_conn_output (conn);

  append_header (out, type, 0, 8);
  sc_wire_append_u64 (out, value);
}

static gboolean
skip_string (ScWireReader *reader)
{
  guint16 length;

  if (!sc_wire_read_u16 (reader, &length, NULL) ||
      sc_wire_reader_remaining (reader) < length)
    return FALSE;
  reader->pos += length;
  return TRUE;
}

static void
acknowledge (ScBenchConn *conn, guint16 flags, guint64 message_id)
{
  if (flags & SC_FLAG_NO_ACK)
    return;
  if (mode_of (conn) == MODE_RECEIPTS_1_0)
    send_u64_notice (conn, SC_MSG_MESSAGE_ACK, message_id);
  else
    g_array_append_val (pending_acks, message_id);
}

/* One MESSAGE_ACKS for every MESSAGE read in one go (a MESSAGE_ACK when
 * there was only one). */
static void
flush_acks (ScBenchConn *conn)
{
  GByteArray *out;

  if (pending_acks->len == 0)
    return;
  if (pending_acks->len == 1)
    send_u64_notice (conn, SC_MSG_MESSAGE_ACK,
                     g_array_index (pending_acks, guint64, 0));
  else
    {
      out = sc_bench_conn_output (conn);
      append_header (out, SC_MSG_MESSAGE_ACKS, 0, 4 + 8 * pending_acks->len);
      sc_wire_append_u32 (out, pending_acks->len);
      for (guint i = 0; i < pending_acks->len; i++)
        sc_wire_append_u64 (out, g_array_index (pending_acks, guint64, i));
    }
  g_array_set_size (pending_acks, 0);
}

/* MESSAGE: message_id, time_ms, broadcast, sender client-info, text. */
static gboolean
handle_message (ScBenchConn *conn,
                guint16 flags,
                const guint8 *payload,
                gsize length)
{
  ScWireReader reader;
  guint64 message_id, time_ms;
  guint32 sender_id;
  guint16 port, text_length;
  guint8 broadcast;

  sc_wire_reader_init (&reader, payload, length);
  if (!sc_wire_read_u64 (&reader, &message_id, NULL) ||
      !sc_wire_read_u64 (&reader, &time_ms, NULL) ||
      !sc_wire_read_u8 (&reader, &broadcast, NULL) ||
      !sc_wire_read_u32 (&reader, &sender_id, NULL) ||
      !sc_wire_read_u16 (&reader, &port, NULL) ||
      !sc_wire_read_u64 (&reader, &time_ms, NULL) || !skip_string (&reader) ||
      !skip_string (&reader) ||
      !sc_wire_read_u16 (&reader, &text_length, NULL) ||
      sc_wire_reader_remaining (&reader) < text_length)
    return FALSE;
  acknowledge (conn, flags, message_id);
  sc_bench_conn_emit (conn, SC_BENCH_EVENT_MESSAGE, payload + reader.pos,
                      text_length);
  return TRUE;
}

static gboolean
read_status (const guint8 *payload, gsize length, guint16 *status)
{
  ScWireReader reader;

  sc_wire_reader_init (&reader, payload, length);
  return sc_wire_read_u16 (&reader, status, NULL);
}

static gboolean
handle_frame (ScBenchConn *conn,
              const ScFrameHeader *header,
              const guint8 *payload)
{
  gsize length = header->payload_length;
  guint16 status = 0;

  switch (header->type)
    {
    case SC_MSG_MESSAGE:
      return handle_message (conn, header->flags, payload, length);

    case SC_MSG_SEND_MESSAGE_REPLY:
      if (!read_status (payload, length, &status))
        return FALSE;
      if (status != SC_STATUS_OK)
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_SEND_FAILED, NULL, 0);
      return TRUE;

    case SC_MSG_DELIVERY_RECEIPT:
    case SC_MSG_DELIVERY_RECEIPTS:
    case SC_MSG_CLIENT_JOINED:
    case SC_MSG_CLIENT_LEFT:
    case SC_MSG_CLIENT_RENAMED: return TRUE;

    case SC_MSG_GET_TIME_REPLY:
      if (!read_status (payload, length, &status))
        return FALSE;
      sc_bench_conn_emit (conn,
                          status == SC_STATUS_OK ? SC_BENCH_EVENT_RESPONSE
                                                 : SC_BENCH_EVENT_SEND_FAILED,
                          NULL, 0);
      return TRUE;

    case SC_MSG_SERVER_PING:
      {
        ScWireReader reader;
        guint64 token;

        sc_wire_reader_init (&reader, payload, length);
        if (!sc_wire_read_u64 (&reader, &token, NULL))
          return FALSE;
        send_u64_notice (conn, SC_MSG_PONG, token);
        return TRUE;
      }

    case SC_MSG_GREETING:
      {
        g_autoptr (ScMessage) greeting =
          sc_message_decode (header, payload, NULL);

        if (greeting == NULL)
          return FALSE;
        if (mode_of (conn) != MODE_RECEIPTS_1_0 &&
            !(header->flags & SC_FLAG_PROTOCOL_1_1))
          {
            g_warning ("connection %u: the server does not speak protocol "
                       "1.1; use --mode receipts-1.0",
                       conn->index);
            return FALSE;
          }
        conn->max_payload = greeting->max_payload;
        conn->address = greeting->client_id;
        send_hello (conn);
        return TRUE;
      }

    case SC_MSG_HELLO_REPLY:
      {
        g_autoptr (ScMessage) reply = sc_message_decode (header, payload, NULL);

        if (reply == NULL || reply->status != SC_STATUS_OK)
          {
            g_warning ("connection %u: hello refused: %s", conn->index,
                       reply != NULL ? reply->reason : "malformed reply");
            return FALSE;
          }
        conn->address = reply->client_id;
        sc_bench_conn_emit (conn, SC_BENCH_EVENT_READY, NULL, 0);
        return TRUE;
      }

    case SC_MSG_PROTOCOL_ERROR:
    case SC_MSG_SERVER_SHUTDOWN:
      {
        g_autoptr (ScMessage) message =
          sc_message_decode (header, payload, NULL);

        g_warning ("connection %u: %s: %s", conn->index,
                   sc_message_type_name (header->type),
                   message != NULL ? message->reason : "(malformed)");
        return FALSE;
      }

    default: return TRUE;
    }
}

static gssize
sockchat_parse (ScBenchConn *conn, const guint8 *data, gsize length)
{
  gsize pos = 0;

  if (pending_acks == NULL)
    pending_acks = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_array_set_size (pending_acks, 0);

  while (length - pos >= SC_FRAME_HEADER_SIZE && !conn->dead)
    {
      ScFrameHeader header;
      g_autoptr (GError) error = NULL;

      if (!sc_frame_header_parse (
            data + pos, SC_FRAME_HEADER_SIZE,
            MAX (conn->max_payload, SC_MAX_PAYLOAD_DEFAULT), &header, &error))
        {
          g_warning ("connection %u: %s", conn->index, error->message);
          return -1;
        }
      if (length - pos - SC_FRAME_HEADER_SIZE < header.payload_length)
        break;
      if (!handle_frame (conn, &header, data + pos + SC_FRAME_HEADER_SIZE))
        return -1;
      pos += SC_FRAME_HEADER_SIZE + header.payload_length;
    }
  flush_acks (conn);
  return pos;
}

static guint16
send_flags (ScBenchConn *conn)
{
  switch (mode_of (conn))
    {
    case MODE_RECEIPTS: return SC_FLAG_QUIET;
    case MODE_NO_RECEIPT: return SC_FLAG_QUIET | SC_FLAG_NO_RECEIPT;
    default: return 0;
    }
}

static void
sockchat_send_message (ScBenchConn *conn, const guint8 *body, gsize length)
{
  GByteArray *out = sc_bench_conn_output (conn);

  g_assert (conn->peer != NULL && length <= G_MAXUINT16);
  append_header_flags (out, SC_MSG_SEND_MESSAGE, send_flags (conn),
                       next_request_id (conn), 4 + 2 + length);
  sc_wire_append_u32 (out, (guint32) conn->peer->address);
  sc_wire_append_u16 (out, length);
  g_byte_array_append (out, body, length);
}

static void
sockchat_send_request (ScBenchConn *conn, const guint8 *body, gsize length)
{
  append_header (sc_bench_conn_output (conn), SC_MSG_GET_TIME,
                 next_request_id (conn), 0);
}

static const char *const sockchat_modes[] = { "receipts", "no-receipt",
                                              "receipts-1.0", NULL };

const ScBenchAdapter sc_bench_adapter_sockchat = {
  .name = "sockchat",
  .default_port = SC_DEFAULT_PORT,
  .modes = sockchat_modes,
  .start = sockchat_start,
  .parse = sockchat_parse,
  .send_message = sockchat_send_message,
  .send_request = sockchat_send_request,
};
