/* sc-protocol.c: the frame header and message type tables. */
#include "config.h"

#include <string.h>

#include "sc-protocol.h"

GQuark
sc_error_quark (void)
{
  return g_quark_from_static_string ("sc-error-quark");
}

ScMessageKind
sc_message_type_kind (guint type)
{
  if (!sc_message_type_is_known (type))
    return SC_KIND_INVALID;
  if (type & SC_MSG_REPLY_BIT)
    return SC_KIND_RESPONSE;
  if (type >= 0x40)
    return SC_KIND_INDICATION;
  if (type >= 0x10)
    return SC_KIND_NOTICE;
  return SC_KIND_REQUEST;
}

gboolean
sc_message_type_is_known (guint type)
{
  switch (type)
    {
    case SC_MSG_HELLO ... SC_MSG_PING:
    case SC_MSG_MESSAGE_ACK:
    case SC_MSG_PONG:
    case SC_MSG_MESSAGE_ACKS:
    case SC_MSG_GREETING ... SC_MSG_DELIVERY_RECEIPTS:
    case SC_MSG_HELLO_REPLY ... SC_MSG_PING_REPLY: return TRUE;
    default: return FALSE;
    }
}

const char *
sc_message_type_name (guint type)
{
  switch (type)
    {
    case SC_MSG_HELLO: return "HELLO";
    case SC_MSG_GET_TIME: return "GET_TIME";
    case SC_MSG_GET_NAME: return "GET_NAME";
    case SC_MSG_LIST_CLIENTS: return "LIST_CLIENTS";
    case SC_MSG_SEND_MESSAGE: return "SEND_MESSAGE";
    case SC_MSG_BROADCAST: return "BROADCAST";
    case SC_MSG_SET_NICKNAME: return "SET_NICKNAME";
    case SC_MSG_PING: return "PING";
    case SC_MSG_MESSAGE_ACK: return "MESSAGE_ACK";
    case SC_MSG_MESSAGE_ACKS: return "MESSAGE_ACKS";
    case SC_MSG_PONG: return "PONG";
    case SC_MSG_GREETING: return "GREETING";
    case SC_MSG_MESSAGE: return "MESSAGE";
    case SC_MSG_DELIVERY_RECEIPT: return "DELIVERY_RECEIPT";
    case SC_MSG_CLIENT_JOINED: return "CLIENT_JOINED";
    case SC_MSG_CLIENT_LEFT: return "CLIENT_LEFT";
    case SC_MSG_CLIENT_RENAMED: return "CLIENT_RENAMED";
    case SC_MSG_SERVER_SHUTDOWN: return "SERVER_SHUTDOWN";
    case SC_MSG_PROTOCOL_ERROR: return "PROTOCOL_ERROR";
    case SC_MSG_SERVER_PING: return "SERVER_PING";
    case SC_MSG_DELIVERY_RECEIPTS: return "DELIVERY_RECEIPTS";
    case SC_MSG_HELLO_REPLY: return "HELLO_REPLY";
    case SC_MSG_GET_TIME_REPLY: return "GET_TIME_REPLY";
    case SC_MSG_GET_NAME_REPLY: return "GET_NAME_REPLY";
    case SC_MSG_LIST_CLIENTS_REPLY: return "LIST_CLIENTS_REPLY";
    case SC_MSG_SEND_MESSAGE_REPLY: return "SEND_MESSAGE_REPLY";
    case SC_MSG_BROADCAST_REPLY: return "BROADCAST_REPLY";
    case SC_MSG_SET_NICKNAME_REPLY: return "SET_NICKNAME_REPLY";
    case SC_MSG_PING_REPLY: return "PING_REPLY";
    default: return "UNKNOWN";
    }
}

const char *
sc_status_to_string (ScStatus status)
{
  switch (status)
    {
    case SC_STATUS_OK: return "ok";
    case SC_STATUS_BAD_REQUEST: return "bad request";
    case SC_STATUS_VERSION_MISMATCH: return "protocol version mismatch";
    case SC_STATUS_NOT_READY: return "hello not completed";
    case SC_STATUS_NO_SUCH_CLIENT: return "no such client";
    case SC_STATUS_TOO_LARGE: return "too large";
    case SC_STATUS_RECIPIENT_SLOW: return "recipient too slow";
    case SC_STATUS_RECIPIENT_LEFT: return "recipient left";
    case SC_STATUS_SERVER_FULL: return "server full";
    case SC_STATUS_SHUTTING_DOWN: return "server shutting down";
    case SC_STATUS_INVALID_NICKNAME: return "invalid nickname";
    case SC_STATUS_PROTOCOL_ERROR: return "protocol error";
    case SC_STATUS_TIMEOUT: return "timed out";
    case SC_STATUS_AUTH_FAILED: return "authentication failed";
    case SC_STATUS_INTERNAL: return "internal server error";
    case SC_STATUS_SERVER_BUSY: return "server busy";
    case SC_STATUS_RATE_LIMITED: return "rate limited";
    case SC_STATUS_NICKNAME_IN_USE: return "nickname in use";
    case SC_STATUS_NICKNAME_REGISTERED: return "nickname registered";
    case SC_STATUS_ENCRYPTION_REQUIRED: return "encryption required";
    case SC_STATUS_UNREACHABLE: return "unreachable";
    default: return "unknown status";
    }
}

static guint16
read_be16 (const guint8 *p)
{
  guint16 v;
  memcpy (&v, p, sizeof v);
  return GUINT16_FROM_BE (v);
}

static guint32
read_be32 (const guint8 *p)
{
  guint32 v;
  memcpy (&v, p, sizeof v);
  return GUINT32_FROM_BE (v);
}

/* Validates a complete header.  Everything is decided from these 16 bytes,
 * so a hostile length is refused before a single payload byte is stored. */
gboolean
sc_frame_header_parse (const guint8 *bytes,
                       gsize length,
                       guint32 max_payload,
                       ScFrameHeader *header,
                       GError **error)
{
  g_return_val_if_fail (bytes != NULL, FALSE);
  g_return_val_if_fail (header != NULL, FALSE);

  if (length < SC_FRAME_HEADER_SIZE)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_MALFORMED,
                   "frame header truncated (%" G_GSIZE_FORMAT " of %d bytes)",
                   length, SC_FRAME_HEADER_SIZE);
      return FALSE;
    }
  if (read_be16 (bytes) != SC_PROTOCOL_MAGIC)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_BAD_MAGIC,
                   "bad magic 0x%02x%02x (not a SockChat peer)", bytes[0],
                   bytes[1]);
      return FALSE;
    }
  header->version = bytes[2];
  header->type = bytes[3];
  header->flags = read_be16 (bytes + 4);
  header->request_id = read_be32 (bytes + 8);
  header->payload_length = read_be32 (bytes + 12);

  if (header->version != SC_PROTOCOL_VERSION)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_BAD_VERSION,
                   "unsupported protocol version %u (this peer speaks %u)",
                   header->version, SC_PROTOCOL_VERSION);
      return FALSE;
    }
  if (!sc_message_type_is_known (header->type))
    {
      g_set_error (error, SC_ERROR, SC_ERROR_UNKNOWN_TYPE,
                   "unknown message type 0x%02x", header->type);
      return FALSE;
    }
  if (header->payload_length > MIN (max_payload, SC_MAX_PAYLOAD_LIMIT))
    {
      g_set_error (error, SC_ERROR, SC_ERROR_TOO_LARGE,
                   "declared payload of %u bytes exceeds the limit of %u",
                   header->payload_length,
                   MIN (max_payload, SC_MAX_PAYLOAD_LIMIT));
      return FALSE;
    }
  return TRUE;
}

void
sc_frame_header_write (const ScFrameHeader *header,
                       guint8 bytes[SC_FRAME_HEADER_SIZE])
{
  guint16 magic = GUINT16_TO_BE (SC_PROTOCOL_MAGIC);
  guint16 flags = GUINT16_TO_BE (header->flags);
  guint16 reserved = 0;
  guint32 request_id = GUINT32_TO_BE (header->request_id);
  guint32 length = GUINT32_TO_BE (header->payload_length);

  memcpy (bytes, &magic, 2);
  bytes[2] = header->version;
  bytes[3] = header->type;
  memcpy (bytes + 4, &flags, 2);
  memcpy (bytes + 6, &reserved, 2);
  memcpy (bytes + 8, &request_id, 4);
  memcpy (bytes + 12, &length, 4);
}

/* Returns how many bytes the whole frame starting at @bytes occupies
 * (header included), 0 when fewer than a header's worth of bytes are
 * available, or -1 with @error set when the header is invalid.  The sum
 * cannot overflow: the payload length was capped by max_payload, which is
 * at most SC_MAX_PAYLOAD_LIMIT. */
gssize
sc_frame_bytes_needed (const guint8 *bytes,
                       gsize length,
                       guint32 max_payload,
                       GError **error)
{
  ScFrameHeader header;

  if (length < SC_FRAME_HEADER_SIZE)
    return 0;
  if (!sc_frame_header_parse (bytes, length, max_payload, &header, error))
    return -1;
  return (gssize) SC_FRAME_HEADER_SIZE + (gssize) header.payload_length;
}
