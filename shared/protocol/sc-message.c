/* sc-message.c: encoding and decoding of every message type, driven by
 * one table of field layouts so that the two directions cannot disagree. */
#include "config.h"

#include <string.h>

#include "sc-message.h"
#include "sc-wire.h"

typedef enum
{
  FIELD_END,
  FIELD_U8,
  FIELD_U16,
  FIELD_U32,
  FIELD_U64,
  FIELD_STATUS,
  FIELD_STRING,
  FIELD_OPTIONAL_STRING, /* trailing field older peers may omit */
  FIELD_CLIENT,
  FIELD_CLIENT_LIST,
  FIELD_ID_LIST, /* u32 count, then that many u64 */
} FieldKind;

typedef struct
{
  FieldKind kind;
  gsize offset;
} Field;

#define F(kind, member)                               \
  {                                                   \
    FIELD_##kind, G_STRUCT_OFFSET (ScMessage, member) \
  }
#define END      \
  {              \
    FIELD_END, 0 \
  }

/* The smallest encoding of one client entry: id, port, since, two empty
 * strings.  Used to bound a declared count before allocating. */
#define CLIENT_ENTRY_MIN_SIZE (4 + 2 + 8 + 2 + 2)

static const Field empty_fields[] = { END };
static const Field hello_fields[] = { F (U8, version), F (STRING, name),
                                      F (STRING, nickname),
                                      F (OPTIONAL_STRING, password), END };
static const Field list_fields[] = { F (U32, peer_id), END };
static const Field send_fields[] = { F (U32, peer_id), F (STRING, text), END };
static const Field text_fields[] = { F (STRING, text), END };
static const Field nickname_fields[] = { F (STRING, nickname), END };
/* The password is for a registered nickname, and optional as in HELLO. */
static const Field set_nickname_fields[] = { F (STRING, nickname),
                                             F (OPTIONAL_STRING, password),
                                             END };
static const Field token_fields[] = { F (U64, token), END };
static const Field ack_fields[] = { F (U64, message_id), END };
static const Field acks_fields[] = { F (ID_LIST, message_ids), END };
static const Field greeting_fields[] = { F (U32, client_id),
                                         F (U8, version),
                                         F (U32, max_payload),
                                         F (U32, max_clients),
                                         F (U32, heartbeat_s),
                                         F (STRING, name),
                                         END };
static const Field message_fields[] = { F (U64, message_id), F (U64, time_ms),
                                        F (U8, broadcast),   F (CLIENT, sender),
                                        F (STRING, text),    END };
static const Field receipt_fields[] = { F (U64, message_id), F (U32, peer_id),
                                        F (STATUS, status), F (STRING, reason),
                                        END };
static const Field receipts_fields[] = { F (U32, peer_id), F (STATUS, status),
                                         F (STRING, reason),
                                         F (ID_LIST, message_ids), END };
static const Field joined_fields[] = { F (CLIENT, sender), END };
static const Field left_fields[] = { F (U32, client_id), F (STATUS, status),
                                     F (STRING, reason), END };
static const Field renamed_fields[] = { F (U32, client_id),
                                        F (STRING, nickname), END };
static const Field reason_fields[] = { F (STRING, reason), END };
static const Field error_fields[] = { F (STATUS, status), F (STRING, reason),
                                      END };

/* Replies: status and reason first, then these only when status is OK. */
static const Field hello_reply_fields[] = { F (U32, client_id),
                                            F (STRING, nickname), END };
static const Field time_reply_fields[] = { F (U64, time_ms),
                                           F (STRING, iso_time),
                                           F (STRING, timezone), END };
static const Field name_reply_fields[] = { F (STRING, name), END };
static const Field list_reply_fields[] = { F (U32, count), F (U8, more),
                                           F (CLIENT_LIST, clients), END };
static const Field send_reply_fields[] = { F (U64, message_id), END };
static const Field broadcast_reply_fields[] = { F (U64, message_id),
                                                F (U32, count), END };

static const Field *
fields_for_type (guint type)
{
  switch (type)
    {
    case SC_MSG_HELLO: return hello_fields;
    case SC_MSG_GET_TIME:
    case SC_MSG_GET_NAME: return empty_fields;
    case SC_MSG_LIST_CLIENTS: return list_fields;
    case SC_MSG_SEND_MESSAGE: return send_fields;
    case SC_MSG_BROADCAST: return text_fields;
    case SC_MSG_SET_NICKNAME: return set_nickname_fields;
    case SC_MSG_PING:
    case SC_MSG_PONG:
    case SC_MSG_SERVER_PING:
    case SC_MSG_PING_REPLY: return token_fields;
    case SC_MSG_MESSAGE_ACK: return ack_fields;
    case SC_MSG_MESSAGE_ACKS: return acks_fields;
    case SC_MSG_GREETING: return greeting_fields;
    case SC_MSG_MESSAGE: return message_fields;
    case SC_MSG_DELIVERY_RECEIPT: return receipt_fields;
    case SC_MSG_DELIVERY_RECEIPTS: return receipts_fields;
    case SC_MSG_CLIENT_JOINED: return joined_fields;
    case SC_MSG_CLIENT_LEFT: return left_fields;
    case SC_MSG_CLIENT_RENAMED: return renamed_fields;
    case SC_MSG_SERVER_SHUTDOWN: return reason_fields;
    case SC_MSG_PROTOCOL_ERROR: return error_fields;
    case SC_MSG_HELLO_REPLY: return hello_reply_fields;
    case SC_MSG_GET_TIME_REPLY: return time_reply_fields;
    case SC_MSG_GET_NAME_REPLY: return name_reply_fields;
    case SC_MSG_LIST_CLIENTS_REPLY: return list_reply_fields;
    case SC_MSG_SEND_MESSAGE_REPLY: return send_reply_fields;
    case SC_MSG_BROADCAST_REPLY: return broadcast_reply_fields;
    case SC_MSG_SET_NICKNAME_REPLY: return nickname_fields;
    default: return NULL;
    }
}

/* Prepares a message that lives on the stack, for encoding fields that
 * are only borrowed; such a message is never passed to
 * sc_message_free(). */
void
sc_message_init (ScMessage *message, ScMessageType type, guint32 request_id)
{
  memset (message, 0, sizeof *message);
  message->type = type;
  message->request_id = request_id;
  message->version = SC_PROTOCOL_VERSION;
}

ScMessage *
sc_message_new (ScMessageType type, guint32 request_id)
{
  ScMessage *message = g_new (ScMessage, 1);

  sc_message_init (message, type, request_id);
  return message;
}

ScMessage *
sc_message_new_reply (const ScMessage *request,
                      ScStatus status,
                      const char *reason)
{
  ScMessage *reply;

  g_return_val_if_fail (request != NULL, NULL);
  g_return_val_if_fail (sc_message_type_kind (request->type) == SC_KIND_REQUEST,
                        NULL);

  reply =
    sc_message_new (request->type | SC_MSG_REPLY_BIT, request->request_id);
  reply->status = status;
  reply->reason = g_strdup (
    reason ? reason
           : (status == SC_STATUS_OK ? "" : sc_status_to_string (status)));
  return reply;
}

ScClientInfo *
sc_client_info_new (void)
{
  return g_new0 (ScClientInfo, 1);
}

void
sc_client_info_copy_into (ScClientInfo *dest, const ScClientInfo *src)
{
  dest->id = src->id;
  dest->port = src->port;
  dest->connected_since_ms = src->connected_since_ms;
  g_free (dest->nickname);
  g_free (dest->address);
  dest->nickname = g_strdup (src->nickname ? src->nickname : "");
  dest->address = g_strdup (src->address ? src->address : "");
}

ScClientInfo *
sc_client_info_copy (const ScClientInfo *info)
{
  ScClientInfo *copy = sc_client_info_new ();

  sc_client_info_copy_into (copy, info);
  return copy;
}

void
sc_client_info_clear (ScClientInfo *info)
{
  g_clear_pointer (&info->nickname, g_free);
  g_clear_pointer (&info->address, g_free);
}

void
sc_client_info_free (ScClientInfo *info)
{
  if (info == NULL)
    return;
  sc_client_info_clear (info);
  g_free (info);
}

void
sc_message_free (ScMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->reason);
  g_free (message->name);
  g_free (message->nickname);
  g_free (message->text);
  g_free (message->iso_time);
  g_free (message->timezone);
  g_free (message->password);
  sc_client_info_clear (&message->sender);
  g_clear_pointer (&message->clients, g_ptr_array_unref);
  g_clear_pointer (&message->message_ids, g_array_unref);
  g_free (message);
}

/* ------------------------------------------------------------------ */
/* Encoding */

#define MEMBER(message, type, offset) \
  (*(type *) (((guint8 *) (message)) + (offset)))

static void
append_client (GByteArray *out, const ScClientInfo *info)
{
  sc_wire_append_u32 (out, info->id);
  sc_wire_append_u16 (out, info->port);
  sc_wire_append_u64 (out, (guint64) info->connected_since_ms);
  sc_wire_append_string (out, info->nickname);
  sc_wire_append_string (out, info->address);
}

static void
append_fields (const ScMessage *message, const Field *fields, GByteArray *out)
{
  for (const Field *f = fields; f->kind != FIELD_END; f++)
    {
      switch (f->kind)
        {
        case FIELD_U8:
          sc_wire_append_u8 (out, MEMBER (message, guint8, f->offset));
          break;
        case FIELD_U16:
          sc_wire_append_u16 (out, MEMBER (message, guint16, f->offset));
          break;
        case FIELD_U32:
          sc_wire_append_u32 (out, MEMBER (message, guint32, f->offset));
          break;
        case FIELD_U64:
          sc_wire_append_u64 (out, MEMBER (message, guint64, f->offset));
          break;
        case FIELD_STATUS:
          sc_wire_append_u16 (out,
                              (guint16) MEMBER (message, ScStatus, f->offset));
          break;
        case FIELD_STRING:
          sc_wire_append_string (out, MEMBER (message, char *, f->offset));
          break;
        case FIELD_OPTIONAL_STRING:
          if (MEMBER (message, char *, f->offset) != NULL)
            sc_wire_append_string (out, MEMBER (message, char *, f->offset));
          break;
        case FIELD_CLIENT:
          append_client (out, &MEMBER (message, ScClientInfo, f->offset));
          break;
        case FIELD_CLIENT_LIST:
          {
            GPtrArray *list = MEMBER (message, GPtrArray *, f->offset);
            guint n = list ? list->len : 0;

            sc_wire_append_u32 (out, n);
            for (guint i = 0; i < n; i++)
              append_client (out, g_ptr_array_index (list, i));
          }
          break;
        case FIELD_ID_LIST:
          {
            GArray *ids = MEMBER (message, GArray *, f->offset);
            guint n = ids ? ids->len : 0;

            sc_wire_append_u32 (out, n);
            for (guint i = 0; i < n; i++)
              sc_wire_append_u64 (out, g_array_index (ids, guint64, i));
          }
          break;
        case FIELD_END:
        default: g_assert_not_reached ();
        }
    }
}

/* Appends the complete frame (header and payload) to @out. */
void
sc_message_append_frame (const ScMessage *message, GByteArray *out)
{
  const Field *fields = fields_for_type (message->type);
  ScFrameHeader header = { SC_PROTOCOL_VERSION, message->type, message->flags,
                           message->request_id, 0 };
  guint start = out->len;

  g_return_if_fail (fields != NULL);

  g_byte_array_set_size (out, start + SC_FRAME_HEADER_SIZE);
  if (sc_message_type_kind (message->type) == SC_KIND_RESPONSE)
    {
      sc_wire_append_u16 (out, (guint16) message->status);
      sc_wire_append_string (out, message->reason);
      if (message->status == SC_STATUS_OK)
        append_fields (message, fields, out);
    }
  else
    append_fields (message, fields, out);

  header.payload_length = out->len - start - SC_FRAME_HEADER_SIZE;
  sc_frame_header_write (&header, out->data + start);
}

/* Returns the frame as an immutable buffer. (transfer full) */
GBytes *
sc_message_encode (const ScMessage *message)
{
  /* Sized for the text, so that a forwarded message is encoded without
   * growing the buffer. */
  gsize text = message->text ? strlen (message->text) : 0;
  GByteArray *out = g_byte_array_sized_new (SC_FRAME_HEADER_SIZE + 128 + text);

  sc_message_append_frame (message, out);
  return g_byte_array_free_to_bytes (out);
}

/* ------------------------------------------------------------------ */
/* Decoding */

static gboolean
read_client (ScWireReader *reader, ScClientInfo *info, GError **error)
{
  guint64 since;

  if (!sc_wire_read_u32 (reader, &info->id, error) ||
      !sc_wire_read_u16 (reader, &info->port, error) ||
      !sc_wire_read_u64 (reader, &since, error) ||
      !sc_wire_read_string (reader, &info->nickname, error) ||
      !sc_wire_read_string (reader, &info->address, error))
    return FALSE;
  info->connected_since_ms = (gint64) since;
  return TRUE;
}

static gboolean
read_client_list (ScWireReader *reader, GPtrArray **out, GError **error)
{
  guint32 n;
  g_autoptr (GPtrArray) list = NULL;

  if (!sc_wire_read_u32 (reader, &n, error))
    return FALSE;
  /* Refuse a count the remaining bytes could never hold, before the
   * array is sized from it. */
  if (n > sc_wire_reader_remaining (reader) / CLIENT_ENTRY_MIN_SIZE)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_MALFORMED,
                   "client list claims %u entries but only %" G_GSIZE_FORMAT
                   " bytes follow",
                   n, sc_wire_reader_remaining (reader));
      return FALSE;
    }
  list = g_ptr_array_new_full (n, (GDestroyNotify) sc_client_info_free);
  for (guint32 i = 0; i < n; i++)
    {
      ScClientInfo *info = sc_client_info_new ();

      g_ptr_array_add (list, info);
      if (!read_client (reader, info, error))
        return FALSE;
    }
  *out = g_steal_pointer (&list);
  return TRUE;
}

static gboolean
read_id_list (ScWireReader *reader, GArray **out, GError **error)
{
  guint32 n;
  g_autoptr (GArray) ids = NULL;

  if (!sc_wire_read_u32 (reader, &n, error))
    return FALSE;
  if (n > sc_wire_reader_remaining (reader) / sizeof (guint64))
    {
      g_set_error (error, SC_ERROR, SC_ERROR_MALFORMED,
                   "id list claims %u entries but only %" G_GSIZE_FORMAT
                   " bytes follow",
                   n, sc_wire_reader_remaining (reader));
      return FALSE;
    }
  ids = g_array_sized_new (FALSE, FALSE, sizeof (guint64), n);
  for (guint32 i = 0; i < n; i++)
    {
      guint64 id;

      if (!sc_wire_read_u64 (reader, &id, error))
        return FALSE;
      g_array_append_val (ids, id);
    }
  *out = g_steal_pointer (&ids);
  return TRUE;
}

static gboolean
read_field (ScWireReader *reader,
            ScMessage *message,
            const Field *f,
            GError **error)
{
  guint16 status;

  switch (f->kind)
    {
    case FIELD_U8:
      return sc_wire_read_u8 (reader, &MEMBER (message, guint8, f->offset),
                              error);
    case FIELD_U16:
      return sc_wire_read_u16 (reader, &MEMBER (message, guint16, f->offset),
                               error);
    case FIELD_U32:
      return sc_wire_read_u32 (reader, &MEMBER (message, guint32, f->offset),
                               error);
    case FIELD_U64:
      return sc_wire_read_u64 (reader, &MEMBER (message, guint64, f->offset),
                               error);
    case FIELD_STATUS:
      if (!sc_wire_read_u16 (reader, &status, error))
        return FALSE;
      MEMBER (message, ScStatus, f->offset) = (ScStatus) status;
      return TRUE;
    case FIELD_STRING:
      return sc_wire_read_string (reader, &MEMBER (message, char *, f->offset),
                                  error);
    case FIELD_OPTIONAL_STRING:
      if (sc_wire_reader_remaining (reader) == 0)
        return TRUE;
      return sc_wire_read_string (reader, &MEMBER (message, char *, f->offset),
                                  error);
    case FIELD_CLIENT:
      return read_client (reader, &MEMBER (message, ScClientInfo, f->offset),
                          error);
    case FIELD_CLIENT_LIST:
      return read_client_list (
        reader, &MEMBER (message, GPtrArray *, f->offset), error);
    case FIELD_ID_LIST:
      return read_id_list (reader, &MEMBER (message, GArray *, f->offset),
                           error);
    case FIELD_END:
    default: g_assert_not_reached ();
    }
  return FALSE;
}

static gboolean
read_fields (ScWireReader *reader,
             ScMessage *message,
             const Field *fields,
             GError **error)
{
  for (const Field *f = fields; f->kind != FIELD_END; f++)
    if (!read_field (reader, message, f, error))
      return FALSE;
  return TRUE;
}

/* Requests and responses carry the requester's non-zero id; notices and
 * indications carry zero. */
static gboolean
check_request_id (const ScFrameHeader *header, GError **error)
{
  ScMessageKind kind = sc_message_type_kind (header->type);
  gboolean wants_id = kind == SC_KIND_REQUEST || kind == SC_KIND_RESPONSE;

  if (wants_id == (header->request_id != 0))
    return TRUE;
  g_set_error (
    error, SC_ERROR, SC_ERROR_BAD_REQUEST_ID, "%s must carry %s request id",
    sc_message_type_name (header->type), wants_id ? "a non-zero" : "a zero");
  return FALSE;
}

/* A failed response carries none of its success fields.  Their strings
 * get the empty value, so that every string field of a decoded message's
 * type is non-NULL whatever its status; fields of other types stay NULL
 * and cost nothing. */
static void
fill_absent_strings (ScMessage *message, const Field *fields)
{
  for (const Field *f = fields; f->kind != FIELD_END; f++)
    {
      if (f->kind == FIELD_STRING &&
          MEMBER (message, char *, f->offset) == NULL)
        MEMBER (message, char *, f->offset) = g_strdup ("");
      if (f->kind == FIELD_CLIENT)
        {
          ScClientInfo *info = &MEMBER (message, ScClientInfo, f->offset);

          if (info->nickname == NULL)
            info->nickname = g_strdup ("");
          if (info->address == NULL)
            info->address = g_strdup ("");
        }
    }
}

/* Decodes the payload that follows @header, which must already have been
 * validated by sc_frame_header_parse().  Bytes after the last known field
 * are ignored: that is how later versions add fields (docs/PROTOCOL.md,
 * "Extending the protocol"). (transfer full) */
ScMessage *
sc_message_decode (const ScFrameHeader *header,
                   const guint8 *payload,
                   GError **error)
{
  const Field *fields = fields_for_type (header->type);
  g_autoptr (ScMessage) message = NULL;
  ScWireReader reader;

  g_return_val_if_fail (header != NULL, NULL);
  g_return_val_if_fail (payload != NULL || header->payload_length == 0, NULL);

  if (fields == NULL)
    {
      g_set_error (error, SC_ERROR, SC_ERROR_UNKNOWN_TYPE,
                   "unknown message type 0x%02x", header->type);
      return NULL;
    }
  if (!check_request_id (header, error))
    return NULL;

  message = sc_message_new (header->type, header->request_id);
  message->flags = header->flags;
  message->version = 0;
  sc_wire_reader_init (&reader, payload, header->payload_length);

  if (sc_message_type_kind (header->type) == SC_KIND_RESPONSE)
    {
      if (!read_fields (&reader, message, error_fields, error))
        goto malformed;
      if (message->status == SC_STATUS_OK &&
          !read_fields (&reader, message, fields, error))
        goto malformed;
      if (message->status != SC_STATUS_OK)
        fill_absent_strings (message, fields);
    }
  else if (!read_fields (&reader, message, fields, error))
    goto malformed;

  return g_steal_pointer (&message);

malformed:
  g_prefix_error (error, "%s: ", sc_message_type_name (header->type));
  return NULL;
}
