/* test-message.c: encoding and decoding of every SockChat message type.
 *
 * Round trips go field by field through the whole ScMessage, so a field
 * the codec drops, adds or swaps shows up; a few frames are pinned to
 * hand-written bytes so that both directions agreeing on a wrong layout
 * shows up too.  Hostile payloads (truncated, oversized counts, bad UTF-8)
 * must fail cleanly with the right SC_ERROR code.
 */
#include "config.h"

#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "sc-message.h"
#include "sc-protocol.h"
#include "sc-test-types.h"

/* The status error-variant responses carry in these tests. */
#define ERROR_STATUS SC_STATUS_NO_SUCH_CLIENT
#define ERROR_REASON "no client with that id"

/* A test case is a message type and, for responses, its status, packed
 * into the test data pointer. */
#define CASE_PACK(type, status) GUINT_TO_POINTER ((type) | ((status) << 8))
#define CASE_TYPE(data)         ((ScMessageType) (GPOINTER_TO_UINT (data) & 0xff))
#define CASE_STATUS(data)       ((ScStatus) (GPOINTER_TO_UINT (data) >> 8))

static gboolean
is_response (guint type)
{
  return sc_message_type_kind (type) == SC_KIND_RESPONSE;
}

static gboolean
wants_request_id (guint type)
{
  ScMessageKind kind = sc_message_type_kind (type);

  return kind == SC_KIND_REQUEST || kind == SC_KIND_RESPONSE;
}

static ScClientInfo *
make_client (guint32 id,
             guint16 port,
             gint64 since,
             const char *nickname,
             const char *address)
{
  ScClientInfo *info = sc_client_info_new ();

  info->id = id;
  info->port = port;
  info->connected_since_ms = since;
  info->nickname = g_strdup (nickname);
  info->address = g_strdup (address);
  return info;
}

static void
set_sender (ScMessage *message)
{
  g_autoptr (ScClientInfo) sender = make_client (
    0x0a0b0c0d, 40000, G_GINT64_CONSTANT (1699999999000), "carol", "192.0.2.7");

  sc_client_info_copy_into (&message->sender, sender);
}

/* Sets every field @message's type carries to a distinct non-zero value,
 * and leaves every other field as the decoder leaves it (zero or NULL).
 * Responses get the success fields and an OK status. */
static void
fill_sample (ScMessage *message)
{
  /* sc_message_new() defaults version to 1; the decoder sets it only for
   * the types that carry it. */
  message->version = 0;

  switch (message->type)
    {
    case SC_MSG_HELLO:
      message->version = SC_PROTOCOL_VERSION;
      message->name = g_strdup ("sockchat-test 0.1");
      message->nickname = g_strdup ("alice");
      message->password = g_strdup ("s3cr\xc3\xa9t");
      break;
    case SC_MSG_GET_TIME:
    case SC_MSG_GET_NAME: break;
    case SC_MSG_LIST_CLIENTS: message->peer_id = 17; break;
    case SC_MSG_SEND_MESSAGE:
      message->peer_id = 0x01020304;
      message->text = g_strdup ("h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93");
      break;
    case SC_MSG_BROADCAST:
      message->text = g_strdup ("to everyone \xf0\x9f\x8e\x89");
      break;
    case SC_MSG_SET_NICKNAME:
      message->nickname = g_strdup ("bob");
      message->password = g_strdup ("hunter2");
      break;
    case SC_MSG_PING:
    case SC_MSG_PONG:
    case SC_MSG_SERVER_PING:
      message->token = G_GUINT64_CONSTANT (0x0102030405060708);
      break;
    case SC_MSG_MESSAGE_ACK:
      message->message_id = G_GUINT64_CONSTANT (0x1122334455667788);
      break;
    case SC_MSG_GREETING:
      message->client_id = 7;
      message->version = SC_PROTOCOL_VERSION;
      message->max_payload = SC_MAX_PAYLOAD_DEFAULT;
      message->max_clients = 100;
      message->heartbeat_s = 30;
      message->name = g_strdup ("sockchat-server on host");
      break;
    case SC_MSG_MESSAGE:
      message->message_id = G_GUINT64_CONSTANT (0x8000000000000001);
      message->time_ms = G_GINT64_CONSTANT (1700000000123);
      message->broadcast = 1;
      set_sender (message);
      message->text = g_strdup ("hi there");
      break;
    case SC_MSG_DELIVERY_RECEIPT:
      message->message_id = 99;
      message->peer_id = 12;
      message->status = SC_STATUS_RECIPIENT_SLOW;
      message->reason = g_strdup ("recipient too slow");
      break;
    case SC_MSG_MESSAGE_ACKS:
      {
        const guint64 ids[] = { 1, G_GUINT64_CONSTANT (0x0000000200000005) };

        message->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
        g_array_append_vals (message->message_ids, ids, G_N_ELEMENTS (ids));
      }
      break;
    case SC_MSG_DELIVERY_RECEIPTS:
      {
        const guint64 ids[] = { 5, 6, G_GUINT64_CONSTANT (0x8000000000000007) };

        message->peer_id = 13;
        message->status = SC_STATUS_RECIPIENT_LEFT;
        message->reason = g_strdup ("the recipient left");
        message->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
        g_array_append_vals (message->message_ids, ids, G_N_ELEMENTS (ids));
      }
      break;
    case SC_MSG_CLIENT_JOINED: set_sender (message); break;
    case SC_MSG_CLIENT_LEFT:
      message->client_id = 0xfffffffe;
      message->status = SC_STATUS_TIMEOUT;
      message->reason = g_strdup ("timed out");
      break;
    case SC_MSG_CLIENT_RENAMED:
      message->client_id = 5;
      message->nickname = g_strdup ("dave");
      break;
    case SC_MSG_SERVER_SHUTDOWN:
      message->reason = g_strdup ("maintenance");
      break;
    case SC_MSG_PROTOCOL_ERROR:
      message->status = SC_STATUS_PROTOCOL_ERROR;
      message->reason = g_strdup ("bad frame");
      break;

    case SC_MSG_HELLO_REPLY:
      message->client_id = 42;
      message->nickname = g_strdup ("alice_");
      break;
    case SC_MSG_GET_TIME_REPLY:
      message->time_ms = G_GINT64_CONSTANT (1700000000123);
      message->iso_time = g_strdup ("2023-11-14T22:13:20.123Z");
      message->timezone = g_strdup ("Europe/Z\xc3\xbcrich");
      break;
    case SC_MSG_GET_NAME_REPLY:
      message->name = g_strdup ("host.example.org");
      break;
    case SC_MSG_LIST_CLIENTS_REPLY:
      message->count = 3;
      message->more = 1;
      message->clients =
        g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
      g_ptr_array_add (message->clients,
                       make_client (1, 1, 1, "a", "127.0.0.1"));
      g_ptr_array_add (message->clients,
                       make_client (0xffffffff, 65535,
                                    G_GINT64_CONSTANT (0x7fffffffffffffff),
                                    "z\xc3\xa9", "::1"));
      g_ptr_array_add (message->clients, make_client (3, 0, 0, "", ""));
      break;
    case SC_MSG_SEND_MESSAGE_REPLY: message->message_id = 1234567890123; break;
    case SC_MSG_BROADCAST_REPLY:
      message->message_id = 77;
      message->count = 4;
      break;
    case SC_MSG_SET_NICKNAME_REPLY:
      message->nickname = g_strdup ("bobby");
      break;
    case SC_MSG_PING_REPLY:
      message->token = G_GUINT64_CONSTANT (0xfedcba9876543210);
      break;
    default: g_assert_not_reached ();
    }

  if (is_response (message->type))
    {
      message->status = SC_STATUS_OK;
      message->reason = g_strdup ("");
    }
}

static ScMessage *
make_sample (ScMessageType type, ScStatus status)
{
  ScMessage *message =
    sc_message_new (type, wants_request_id (type) ? 0x00c0ffee : 0);

  fill_sample (message);
  if (status != SC_STATUS_OK)
    {
      g_assert_true (is_response (type));
      message->status = status;
      g_free (message->reason);
      message->reason = g_strdup (ERROR_REASON);
    }
  return message;
}

/* What decoding an error response gives: status and reason only. */
static ScMessage *
make_error_expectation (ScMessageType type, ScStatus status)
{
  ScMessage *message = sc_message_new (type, 0x00c0ffee);

  message->version = 0;
  message->status = status;
  message->reason = g_strdup (ERROR_REASON);
  return message;
}

/* A string the sender left unset decodes as "" when it belongs to the
 * message's type, and stays NULL when it belongs to another type. */
static void
assert_string_field (const char *expected, const char *actual)
{
  if (expected == NULL && actual == NULL)
    return;
  g_assert_nonnull (actual);
  g_assert_cmpstr (actual, ==, expected ? expected : "");
}

static void
assert_client_equal (const ScClientInfo *expected, const ScClientInfo *actual)
{
  g_assert_cmpuint (actual->id, ==, expected->id);
  g_assert_cmpuint (actual->port, ==, expected->port);
  g_assert_cmpint (actual->connected_since_ms, ==,
                   expected->connected_since_ms);
  assert_string_field (expected->nickname, actual->nickname);
  assert_string_field (expected->address, actual->address);
}

/* Compares every field, not only the ones @expected's type uses, so a
 * decoder that fills a field from the wrong bytes is caught. */
static void
assert_message_equal (const ScMessage *expected, const ScMessage *actual)
{
  guint expected_clients = expected->clients ? expected->clients->len : 0;
  guint actual_clients = actual->clients ? actual->clients->len : 0;
  guint expected_ids = expected->message_ids ? expected->message_ids->len : 0;
  guint actual_ids = actual->message_ids ? actual->message_ids->len : 0;

  g_assert_cmpuint (actual->type, ==, expected->type);
  g_assert_cmpuint (actual->flags, ==, expected->flags);
  g_assert_cmpuint (actual->request_id, ==, expected->request_id);
  g_assert_cmpuint (actual->status, ==, expected->status);
  assert_string_field (expected->reason, actual->reason);
  g_assert_cmpuint (actual->version, ==, expected->version);
  g_assert_cmpuint (actual->client_id, ==, expected->client_id);
  g_assert_cmpuint (actual->peer_id, ==, expected->peer_id);
  g_assert_cmpuint (actual->message_id, ==, expected->message_id);
  g_assert_cmpuint (actual->token, ==, expected->token);
  g_assert_cmpint (actual->time_ms, ==, expected->time_ms);
  g_assert_cmpuint (actual->count, ==, expected->count);
  g_assert_cmpuint (actual->more, ==, expected->more);
  g_assert_cmpuint (actual->broadcast, ==, expected->broadcast);
  g_assert_cmpuint (actual->max_payload, ==, expected->max_payload);
  g_assert_cmpuint (actual->max_clients, ==, expected->max_clients);
  g_assert_cmpuint (actual->heartbeat_s, ==, expected->heartbeat_s);
  assert_string_field (expected->name, actual->name);
  assert_string_field (expected->nickname, actual->nickname);
  assert_string_field (expected->text, actual->text);
  assert_string_field (expected->iso_time, actual->iso_time);
  assert_string_field (expected->timezone, actual->timezone);
  /* The optional password stays NULL when absent: "" is a password. */
  g_assert_cmpstr (actual->password, ==, expected->password);
  assert_client_equal (&expected->sender, &actual->sender);

  g_assert_cmpuint (actual_clients, ==, expected_clients);
  for (guint i = 0; i < expected_clients; i++)
    assert_client_equal (g_ptr_array_index (expected->clients, i),
                         g_ptr_array_index (actual->clients, i));
  g_assert_cmpuint (actual_ids, ==, expected_ids);
  for (guint i = 0; i < expected_ids; i++)
    g_assert_cmpuint (g_array_index (actual->message_ids, guint64, i), ==,
                      g_array_index (expected->message_ids, guint64, i));
}

/* Parses the header of the encoded @frame and decodes its payload from a
 * copy of exactly @payload_length bytes, so that any read past the end
 * is caught by the sanitizers. */
static ScMessage *
decode_with_length (GBytes *frame, guint32 payload_length, GError **error)
{
  gsize length;
  const guint8 *bytes = g_bytes_get_data (frame, &length);
  g_autofree guint8 *payload = NULL;
  g_autoptr (GError) header_error = NULL;
  ScFrameHeader header;

  g_assert_cmpuint (length, >=, SC_FRAME_HEADER_SIZE);
  g_assert_true (sc_frame_header_parse (bytes, length, SC_MAX_PAYLOAD_LIMIT,
                                        &header, &header_error));
  g_assert_no_error (header_error);
  g_assert_cmpuint (header.payload_length, ==, length - SC_FRAME_HEADER_SIZE);
  g_assert_cmpuint (payload_length, <=, header.payload_length);

  header.payload_length = payload_length;
  payload = g_memdup2 (bytes + SC_FRAME_HEADER_SIZE, payload_length);
  return sc_message_decode (&header, payload, error);
}

static ScMessage *
decode_frame (GBytes *frame, GError **error)
{
  return decode_with_length (
    frame, g_bytes_get_size (frame) - SC_FRAME_HEADER_SIZE, error);
}

/* Decodes a frame built from @header_bytes and @payload. */
static ScMessage *
decode_raw (const guint8 *header_bytes,
            const guint8 *payload,
            gsize payload_length,
            GError **error)
{
  g_autoptr (GError) header_error = NULL;
  g_autofree guint8 *copy = g_memdup2 (payload, payload_length);
  ScFrameHeader header;

  g_assert_true (sc_frame_header_parse (header_bytes, SC_FRAME_HEADER_SIZE,
                                        SC_MAX_PAYLOAD_LIMIT, &header,
                                        &header_error));
  g_assert_no_error (header_error);
  header.payload_length = payload_length;
  return sc_message_decode (&header, copy, error);
}

static void
write_header (guint8 bytes[SC_FRAME_HEADER_SIZE],
              guint type,
              guint32 request_id,
              guint32 payload_length)
{
  ScFrameHeader header = { SC_PROTOCOL_VERSION, type, 0, request_id,
                           payload_length };

  sc_frame_header_write (&header, bytes);
}

static char *
type_path_name (guint type)
{
  char *name = g_ascii_strdown (sc_message_type_name (type), -1);

  g_strdelimit (name, "_", '-');
  return name;
}

/* ------------------------------------------------------------------ */
/* Types */

static void
test_types (void)
{
  guint known = 0;

  g_assert_cmpuint (G_N_ELEMENTS (sc_test_all_types), ==, 29);
  for (guint type = 0; type <= 0xff; type++)
    if (sc_message_type_is_known (type))
      known++;
  g_assert_cmpuint (known, ==, G_N_ELEMENTS (sc_test_all_types));

  for (gsize i = 0; i < G_N_ELEMENTS (sc_test_all_types); i++)
    {
      guint type = sc_test_all_types[i];
      ScMessageKind kind = sc_message_type_kind (type);

      g_assert_true (sc_message_type_is_known (type));
      g_assert_cmpstr (sc_message_type_name (type), !=, "UNKNOWN");
      g_assert_cmpint (kind, !=, SC_KIND_INVALID);
      if (type < 0x10)
        g_assert_cmpint (kind, ==, SC_KIND_REQUEST);
      else if (type < 0x40)
        g_assert_cmpint (kind, ==, SC_KIND_NOTICE);
      else if (type < 0x80)
        g_assert_cmpint (kind, ==, SC_KIND_INDICATION);
      else
        g_assert_cmpint (kind, ==, SC_KIND_RESPONSE);

      /* Requests and responses pair up through the reply bit. */
      if (kind == SC_KIND_REQUEST)
        g_assert_cmpint (sc_message_type_kind (type | SC_MSG_REPLY_BIT), ==,
                         SC_KIND_RESPONSE);
      if (kind == SC_KIND_RESPONSE)
        g_assert_cmpint (sc_message_type_kind (type & ~SC_MSG_REPLY_BIT), ==,
                         SC_KIND_REQUEST);
    }
  g_assert_cmpint (sc_message_type_kind (0x00), ==, SC_KIND_INVALID);
  g_assert_cmpint (sc_message_type_kind (0x80), ==, SC_KIND_INVALID);
  g_assert_cmpstr (sc_message_type_name (0x09), ==, "UNKNOWN");
}

static void
test_new_reply (void)
{
  g_autoptr (ScMessage) request = sc_message_new (SC_MSG_SET_NICKNAME, 9);
  g_autoptr (ScMessage) ok = NULL;
  g_autoptr (ScMessage) failed = NULL;
  g_autoptr (ScMessage) explained = NULL;

  ok = sc_message_new_reply (request, SC_STATUS_OK, NULL);
  g_assert_cmpuint (ok->type, ==, SC_MSG_SET_NICKNAME_REPLY);
  g_assert_cmpuint (ok->request_id, ==, 9);
  g_assert_cmpuint (ok->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (ok->reason, ==, "");

  failed = sc_message_new_reply (request, SC_STATUS_INVALID_NICKNAME, NULL);
  g_assert_cmpuint (failed->status, ==, SC_STATUS_INVALID_NICKNAME);
  g_assert_cmpstr (failed->reason, ==,
                   sc_status_to_string (SC_STATUS_INVALID_NICKNAME));

  explained =
    sc_message_new_reply (request, SC_STATUS_INVALID_NICKNAME, "taken");
  g_assert_cmpstr (explained->reason, ==, "taken");
}

/* ------------------------------------------------------------------ */
/* Round trips */

static void
test_roundtrip (gconstpointer data)
{
  ScMessageType type = CASE_TYPE (data);
  ScStatus status = CASE_STATUS (data);
  g_autoptr (ScMessage) sample = make_sample (type, status);
  g_autoptr (ScMessage) expected = NULL;
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GBytes) frame = sc_message_encode (sample);
  g_autoptr (GBytes) again = NULL;
  g_autoptr (GByteArray) appended = g_byte_array_new ();
  g_autoptr (GError) error = NULL;
  const guint8 *bytes = g_bytes_get_data (frame, NULL);

  /* The header says what the message is. */
  g_assert_cmpuint (bytes[0], ==, 0x53);
  g_assert_cmpuint (bytes[1], ==, 0x43);
  g_assert_cmpuint (bytes[2], ==, SC_PROTOCOL_VERSION);
  g_assert_cmpuint (bytes[3], ==, type);

  decoded = decode_frame (frame, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded);

  if (status == SC_STATUS_OK)
    assert_message_equal (sample, decoded);
  else
    {
      /* The success fields set on the sample never reach the wire. */
      expected = make_error_expectation (type, status);
      assert_message_equal (expected, decoded);
      g_assert_cmpuint (g_bytes_get_size (frame), ==,
                        SC_FRAME_HEADER_SIZE + 2 + 2 + strlen (ERROR_REASON));
    }

  /* Re-encoding what was decoded gives the same bytes. */
  again = sc_message_encode (decoded);
  g_assert_true (g_bytes_equal (again, frame));

  /* Appending to a buffer that already holds data writes the same frame
   * after it, with the header at the right place. */
  g_byte_array_append (appended, (const guint8 *) "xyz", 3);
  sc_message_append_frame (sample, appended);
  g_assert_cmpmem (appended->data + 3, appended->len - 3, bytes,
                   g_bytes_get_size (frame));
}

static void
test_roundtrip_hello_without_password (void)
{
  g_autoptr (ScMessage) sample = make_sample (SC_MSG_HELLO, SC_STATUS_OK);
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&sample->password, g_free);
  frame = sc_message_encode (sample);
  decoded = decode_frame (frame, &error);
  g_assert_no_error (error);
  g_assert_null (decoded->password);
  assert_message_equal (sample, decoded);

  /* An empty password is present, and distinct from none. */
  g_clear_pointer (&decoded, sc_message_free);
  g_clear_pointer (&frame, g_bytes_unref);
  sample->password = g_strdup ("");
  frame = sc_message_encode (sample);
  decoded = decode_frame (frame, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (decoded->password, ==, "");
}

static void
test_roundtrip_empty_list (void)
{
  g_autoptr (ScMessage) sample =
    make_sample (SC_MSG_LIST_CLIENTS_REPLY, SC_STATUS_OK);
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&sample->clients, g_ptr_array_unref);
  sample->more = 0;
  sample->count = 0;
  frame = sc_message_encode (sample);
  decoded = decode_frame (frame, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded->clients);
  g_assert_cmpuint (decoded->clients->len, ==, 0);
  assert_message_equal (sample, decoded);
}

static void
test_roundtrip_flags (void)
{
  g_autoptr (ScMessage) sample = make_sample (SC_MSG_PING, SC_STATUS_OK);
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (GError) error = NULL;

  sample->flags = 0x8001;
  frame = sc_message_encode (sample);
  decoded = decode_frame (frame, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (decoded->flags, ==, 0x8001);
  assert_message_equal (sample, decoded);
}

static void
test_string_cut_at_character (void)
{
  g_autoptr (ScMessage) sample = sc_message_new (SC_MSG_BROADCAST, 1);
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (GError) error = NULL;
  GString *text = g_string_new (NULL);

  /* 40000 two-byte characters: the 16-bit length cannot hold them, and
   * byte 65535 is the middle of one.  The encoder must cut before it. */
  for (guint i = 0; i < 40000; i++)
    g_string_append (text, "\xc3\xa9");
  sample->text = g_string_free (text, FALSE);

  frame = sc_message_encode (sample);
  g_assert_cmpuint (g_bytes_get_size (frame), ==,
                    SC_FRAME_HEADER_SIZE + 2 + 65534);
  decoded = decode_frame (frame, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (decoded->text), ==, 65534);
  g_assert_true (g_utf8_validate (decoded->text, -1, NULL));
  g_assert_cmpmem (decoded->text, 65534, sample->text, 65534);
}

/* ------------------------------------------------------------------ */
/* Pinned layouts */

typedef struct
{
  const char *what;
  ScMessage *(*build) (void);
  const guint8 *bytes;
  gsize length;
} Pinned;

static ScMessage *
build_get_time (void)
{
  return sc_message_new (SC_MSG_GET_TIME, 0x01020304);
}

static ScMessage *
build_send_message (void)
{
  ScMessage *message = sc_message_new (SC_MSG_SEND_MESSAGE, 5);

  message->peer_id = 0x0a0b0c0d;
  message->text = g_strdup ("hi");
  return message;
}

static ScMessage *
build_hello (void)
{
  ScMessage *message = sc_message_new (SC_MSG_HELLO, 1);

  message->name = g_strdup ("c");
  message->nickname = g_strdup ("n");
  return message;
}

static ScMessage *
build_hello_reply_full (void)
{
  ScMessage *message = sc_message_new (SC_MSG_HELLO_REPLY, 9);

  message->status = SC_STATUS_SERVER_FULL;
  message->reason = g_strdup ("full");
  message->client_id = 1234; /* not on the wire */
  return message;
}

static ScMessage *
build_hello_reply_ok (void)
{
  ScMessage *message = sc_message_new (SC_MSG_HELLO_REPLY, 9);

  message->client_id = 0x2a;
  message->nickname = g_strdup ("al");
  return message;
}

static ScMessage *
build_client_joined (void)
{
  ScMessage *message = sc_message_new (SC_MSG_CLIENT_JOINED, 0);

  message->sender.id = 1;
  message->sender.port = 8080;
  message->sender.connected_since_ms = G_GINT64_CONSTANT (0x0102030405060708);
  message->sender.nickname = g_strdup ("x");
  message->sender.address = g_strdup ("::1");
  return message;
}

static ScMessage *
build_ping (void)
{
  ScMessage *message = sc_message_new (SC_MSG_PING, 0xffffffff);

  message->flags = 0x8001;
  message->token = G_GUINT64_CONSTANT (0x1122334455667788);
  return message;
}

static ScMessage *
build_list_reply (void)
{
  ScMessage *message = sc_message_new (SC_MSG_LIST_CLIENTS_REPLY, 2);

  message->count = 1;
  message->more = 0;
  message->clients =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
  g_ptr_array_add (message->clients, make_client (3, 1, 2, "z", ""));
  return message;
}

static ScMessage *
build_greeting (void)
{
  ScMessage *message = sc_message_new (SC_MSG_GREETING, 0);

  message->client_id = 1;
  message->version = 1;
  message->max_payload = 65536;
  message->max_clients = 64;
  message->heartbeat_s = 60;
  message->name = g_strdup ("chathost");
  return message;
}

static ScMessage *
build_message (void)
{
  ScMessage *message = sc_message_new (SC_MSG_MESSAGE, 0);

  message->message_id = 1;
  message->time_ms = G_GINT64_CONSTANT (1795764380500);
  message->broadcast = 0;
  message->sender.id = 1;
  message->sender.port = 50312;
  message->sender.connected_since_ms = G_GINT64_CONSTANT (1795764000000);
  message->sender.nickname = g_strdup ("alice");
  message->sender.address = g_strdup ("192.168.1.10");
  message->text = g_strdup ("Hello, Bob!");
  return message;
}

/* Client 1's requests 5 and 6, acknowledged together (section 5.4). */
static ScMessage *
build_message_acks (void)
{
  static const guint64 ids[] = { G_GUINT64_CONSTANT (0x0000000100000005),
                                 G_GUINT64_CONSTANT (0x0000000100000006) };
  ScMessage *message = sc_message_new (SC_MSG_MESSAGE_ACKS, 0);

  message->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_array_append_vals (message->message_ids, ids, G_N_ELEMENTS (ids));
  return message;
}

static ScMessage *
build_delivery_receipts (void)
{
  static const guint64 ids[] = { G_GUINT64_CONSTANT (0x0000000100000005),
                                 G_GUINT64_CONSTANT (0x0000000100000006) };
  ScMessage *message = sc_message_new (SC_MSG_DELIVERY_RECEIPTS, 0);

  message->peer_id = 2;
  message->status = SC_STATUS_RECIPIENT_LEFT;
  message->reason = g_strdup ("recipient left");
  message->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
  g_array_append_vals (message->message_ids, ids, G_N_ELEMENTS (ids));
  return message;
}

/* clang-format off */
static const guint8 get_time_bytes[] = {
  0x53, 0x43, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
  0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x00,
};
static const guint8 send_message_bytes[] = {
  0x53, 0x43, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x00, 0x08,
  0x0a, 0x0b, 0x0c, 0x0d,             /* recipient */
  0x00, 0x02, 'h', 'i',               /* text */
};
static const guint8 hello_bytes[] = {
  0x53, 0x43, 0x01, 0x01, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x07,
  0x01,                               /* version */
  0x00, 0x01, 'c',                    /* program */
  0x00, 0x01, 'n',                    /* nickname; no password */
};
static const guint8 hello_reply_full_bytes[] = {
  0x53, 0x43, 0x01, 0x81, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x08,
  0x00, 0x08,                         /* SC_STATUS_SERVER_FULL */
  0x00, 0x04, 'f', 'u', 'l', 'l',     /* reason; nothing else */
};
static const guint8 hello_reply_ok_bytes[] = {
  0x53, 0x43, 0x01, 0x81, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x0c,
  0x00, 0x00,                         /* SC_STATUS_OK */
  0x00, 0x00,                         /* empty reason */
  0x00, 0x00, 0x00, 0x2a,             /* client id */
  0x00, 0x02, 'a', 'l',               /* nickname */
};
static const guint8 client_joined_bytes[] = {
  0x53, 0x43, 0x01, 0x43, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x16,
  0x00, 0x00, 0x00, 0x01,             /* id */
  0x1f, 0x90,                         /* port 8080 */
  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* since */
  0x00, 0x01, 'x',                    /* nickname */
  0x00, 0x03, ':', ':', '1',          /* address */
};
static const guint8 ping_bytes[] = {
  0x53, 0x43, 0x01, 0x08, 0x80, 0x01, 0x00, 0x00,
  0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x08,
  0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
};
static const guint8 list_reply_bytes[] = {
  0x53, 0x43, 0x01, 0x84, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x20,
  0x00, 0x00, 0x00, 0x00,             /* OK, empty reason */
  0x00, 0x00, 0x00, 0x01,             /* total */
  0x00,                               /* more */
  0x00, 0x00, 0x00, 0x01,             /* entries */
  0x00, 0x00, 0x00, 0x03, 0x00, 0x01,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
  0x00, 0x01, 'z', 0x00, 0x00,
};
/* The GREETING and MESSAGE examples of docs/PROTOCOL.md, section 4. */
static const guint8 greeting_bytes[] = {
  0x53, 0x43, 0x01, 0x40, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1b,
  0x00, 0x00, 0x00, 0x01,             /* client_id */
  0x01,                               /* version */
  0x00, 0x01, 0x00, 0x00,             /* max_payload */
  0x00, 0x00, 0x00, 0x40,             /* max_clients */
  0x00, 0x00, 0x00, 0x3c,             /* heartbeat_s */
  0x00, 0x08, 'c', 'h', 'a', 't', 'h', 'o', 's', 't',
};
static const guint8 message_bytes[] = {
  0x53, 0x43, 0x01, 0x41, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x41,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* message_id */
  0x00, 0x00, 0x01, 0xa2, 0x1b, 0xe5, 0xe3, 0x54, /* time_ms */
  0x00,                                           /* broadcast */
  0x00, 0x00, 0x00, 0x01,                         /* sender.id */
  0xc4, 0x88,                                     /* sender.port */
  0x00, 0x00, 0x01, 0xa2, 0x1b, 0xe0, 0x15, 0x00, /* sender.since */
  0x00, 0x05, 'a', 'l', 'i', 'c', 'e',
  0x00, 0x0c, '1', '9', '2', '.', '1', '6', '8', '.', '1', '.', '1', '0',
  0x00, 0x0b, 'H', 'e', 'l', 'l', 'o', ',', ' ', 'B', 'o', 'b', '!',
};
/* The MESSAGE_ACKS example of docs/PROTOCOL.md, section 4.8b. */
static const guint8 message_acks_bytes[] = {
  0x53, 0x43, 0x01, 0x12, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14,
  0x00, 0x00, 0x00, 0x02,                         /* id count */
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, /* message ids */
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06,
};
/* The DELIVERY_RECEIPTS example of docs/PROTOCOL.md, section 4.9b. */
static const guint8 delivery_receipts_bytes[] = {
  0x53, 0x43, 0x01, 0x49, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2a,
  0x00, 0x00, 0x00, 0x02,                         /* recipient_id */
  0x00, 0x07,                                     /* RECIPIENT_LEFT */
  0x00, 0x0e, 'r', 'e', 'c', 'i', 'p', 'i', 'e', 'n', 't', ' ',
  'l', 'e', 'f', 't',                             /* reason */
  0x00, 0x00, 0x00, 0x02,                         /* id count */
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x05, /* message ids */
  0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x06,
};
/* clang-format on */

static const Pinned pinned[] = {
  { "get-time", build_get_time, get_time_bytes, sizeof get_time_bytes },
  { "send-message", build_send_message, send_message_bytes,
    sizeof send_message_bytes },
  { "hello", build_hello, hello_bytes, sizeof hello_bytes },
  { "hello-reply-error", build_hello_reply_full, hello_reply_full_bytes,
    sizeof hello_reply_full_bytes },
  { "hello-reply-ok", build_hello_reply_ok, hello_reply_ok_bytes,
    sizeof hello_reply_ok_bytes },
  { "client-joined", build_client_joined, client_joined_bytes,
    sizeof client_joined_bytes },
  { "ping", build_ping, ping_bytes, sizeof ping_bytes },
  { "list-clients-reply", build_list_reply, list_reply_bytes,
    sizeof list_reply_bytes },
  { "greeting", build_greeting, greeting_bytes, sizeof greeting_bytes },
  { "message", build_message, message_bytes, sizeof message_bytes },
  { "message-acks", build_message_acks, message_acks_bytes,
    sizeof message_acks_bytes },
  { "delivery-receipts", build_delivery_receipts, delivery_receipts_bytes,
    sizeof delivery_receipts_bytes },
};

static void
test_pinned (gconstpointer data)
{
  const Pinned *pin = data;
  g_autoptr (ScMessage) message = pin->build ();
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GBytes) frame = sc_message_encode (message);
  g_autoptr (GBytes) expected = g_bytes_new_static (pin->bytes, pin->length);
  g_autoptr (GError) error = NULL;

  g_assert_cmpmem (g_bytes_get_data (frame, NULL), g_bytes_get_size (frame),
                   pin->bytes, pin->length);

  /* And the other way: the hand-written bytes decode to the message. */
  decoded = decode_frame (expected, &error);
  g_assert_no_error (error);
  /* A failed response carries no success fields; an indication's status
   * is just one of its fields. */
  if (is_response (message->type) && message->status != SC_STATUS_OK)
    {
      g_autoptr (ScMessage) bare =
        make_error_expectation (message->type, message->status);

      g_free (bare->reason);
      bare->reason = g_strdup (message->reason);
      bare->request_id = message->request_id;
      assert_message_equal (bare, decoded);
    }
  else
    {
      /* Fields a type lacks decode as zero, version included. */
      if (message->type != SC_MSG_HELLO && message->type != SC_MSG_GREETING)
        message->version = 0;
      assert_message_equal (message, decoded);
    }
}

/* ------------------------------------------------------------------ */
/* Truncated, extended and hostile payloads */

static void
test_truncated (gconstpointer data)
{
  ScMessageType type = CASE_TYPE (data);
  ScStatus status = CASE_STATUS (data);
  g_autoptr (ScMessage) sample = make_sample (type, status);
  g_autoptr (GBytes) frame = sc_message_encode (sample);
  guint32 full = g_bytes_get_size (frame) - SC_FRAME_HEADER_SIZE;
  guint32 shorter_valid = G_MAXUINT32;

  /* The password of HELLO and SET_NICKNAME is the one trailing optional
   * field: the frame cut exactly before it is the request without a
   * password.  Every other cut of every type leaves a field or a string
   * incomplete. */
  if (type == SC_MSG_HELLO || type == SC_MSG_SET_NICKNAME)
    {
      g_assert_nonnull (sample->password);
      shorter_valid = full - 2 - strlen (sample->password);
    }

  for (guint32 n = 0; n < full; n++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (ScMessage) decoded = decode_with_length (frame, n, &error);

      if (n == shorter_valid)
        {
          g_autofree char *password = g_steal_pointer (&sample->password);

          g_assert_no_error (error);
          g_assert_nonnull (decoded);
          assert_message_equal (sample, decoded);
          sample->password = g_steal_pointer (&password);
          continue;
        }
      g_assert_null (decoded);
      g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
      g_assert_nonnull (strstr (error->message, sc_message_type_name (type)));
    }
}

static void
test_trailing_bytes_ignored (gconstpointer data)
{
  ScMessageType type = CASE_TYPE (data);
  ScStatus status = CASE_STATUS (data);
  g_autoptr (ScMessage) sample = make_sample (type, status);
  g_autoptr (ScMessage) expected = NULL;
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GBytes) frame = sc_message_encode (sample);
  g_autoptr (GError) error = NULL;
  g_autofree guint8 *payload = NULL;
  const guint8 *bytes = g_bytes_get_data (frame, NULL);
  static const guint8 extra[] = { 0x00, 0x05, 0xff, 0x00, 0xfe, 0x80, 0x01 };
  gsize full = g_bytes_get_size (frame) - SC_FRAME_HEADER_SIZE;
  ScFrameHeader header;

  /* A later protocol version appended fields (here, bytes that would be
   * malformed as any field) after the ones this version knows. */
  g_assert_true (sc_frame_header_parse (bytes, SC_FRAME_HEADER_SIZE,
                                        SC_MAX_PAYLOAD_LIMIT, &header, NULL));
  header.payload_length = full + sizeof extra;
  payload = g_malloc (header.payload_length);
  memcpy (payload, bytes + SC_FRAME_HEADER_SIZE, full);
  memcpy (payload + full, extra, sizeof extra);

  decoded = sc_message_decode (&header, payload, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded);
  if (status == SC_STATUS_OK)
    assert_message_equal (sample, decoded);
  else
    {
      expected = make_error_expectation (type, status);
      assert_message_equal (expected, decoded);
    }
}

static void
test_bad_request_id (gconstpointer data)
{
  ScMessageType type = CASE_TYPE (data);
  g_autoptr (ScMessage) sample = make_sample (type, SC_STATUS_OK);
  g_autoptr (GBytes) frame = sc_message_encode (sample);
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GError) error = NULL;
  const guint8 *bytes = g_bytes_get_data (frame, NULL);
  gsize length = g_bytes_get_size (frame) - SC_FRAME_HEADER_SIZE;
  ScFrameHeader header;

  g_assert_true (sc_frame_header_parse (bytes, SC_FRAME_HEADER_SIZE,
                                        SC_MAX_PAYLOAD_LIMIT, &header, NULL));
  g_assert_cmpuint (header.payload_length, ==, length);

  /* Requests and responses need the requester's id; notices and
   * indications must not carry one. */
  if (wants_request_id (type))
    {
      g_assert_cmpuint (header.request_id, !=, 0);
      header.request_id = 0;
    }
  else
    {
      g_assert_cmpuint (header.request_id, ==, 0);
      header.request_id = 1;
    }
  decoded = sc_message_decode (&header, bytes + SC_FRAME_HEADER_SIZE, &error);
  g_assert_null (decoded);
  g_assert_error (error, SC_ERROR, SC_ERROR_BAD_REQUEST_ID);

  /* And the largest id is as good as any other non-zero one. */
  if (wants_request_id (type))
    {
      g_clear_error (&error);
      header.request_id = G_MAXUINT32;
      decoded =
        sc_message_decode (&header, bytes + SC_FRAME_HEADER_SIZE, &error);
      g_assert_no_error (error);
      g_assert_nonnull (decoded);
      g_assert_cmpuint (decoded->request_id, ==, G_MAXUINT32);
    }
}

static void
test_unknown_type (void)
{
  ScFrameHeader header = { SC_PROTOCOL_VERSION, 0x09, 0, 1, 0 };
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GError) error = NULL;

  /* sc_message_decode() is meant for parsed headers, but does not trust
   * that the type is one it knows. */
  decoded = sc_message_decode (&header, NULL, &error);
  g_assert_null (decoded);
  g_assert_error (error, SC_ERROR, SC_ERROR_UNKNOWN_TYPE);
}

/* A BROADCAST whose text field is exactly @string. */
static void
assert_broadcast_text_fails (const guint8 *string, gsize length, gint code)
{
  guint8 header[SC_FRAME_HEADER_SIZE];
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GError) error = NULL;

  write_header (header, SC_MSG_BROADCAST, 1, length);
  decoded = decode_raw (header, string, length, &error);
  g_assert_null (decoded);
  g_assert_error (error, SC_ERROR, code);
}

static void
test_bad_utf8 (void)
{
  /* Each is a u16 byte count and that many bytes. */
  static const guint8 invalid[] = { 0x00, 0x03, 'a', 0xff, 'b' };
  static const guint8 lone_continuation[] = { 0x00, 0x02, 0x80, 'a' };
  static const guint8 overlong_nul[] = { 0x00, 0x02, 0xc0, 0x80 };
  static const guint8 overlong_slash[] = { 0x00, 0x03, 0xe0, 0x80, 0xaf };
  static const guint8 surrogate[] = { 0x00, 0x03, 0xed, 0xa0, 0x80 };
  static const guint8 beyond_unicode[] = { 0x00, 0x04, 0xf4, 0x90, 0x80, 0x80 };
  /* A sequence cut by the field's own length, not by the payload. */
  static const guint8 cut_sequence[] = { 0x00, 0x02, 'a', 0xe2, 0x9c, 0x93 };
  static const guint8 valid[] = { 0x00, 0x03, 0xe2, 0x9c, 0x93 };
  guint8 header[SC_FRAME_HEADER_SIZE];
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GError) error = NULL;

  assert_broadcast_text_fails (invalid, sizeof invalid, SC_ERROR_BAD_UTF8);
  assert_broadcast_text_fails (lone_continuation, sizeof lone_continuation,
                               SC_ERROR_BAD_UTF8);
  assert_broadcast_text_fails (overlong_nul, sizeof overlong_nul,
                               SC_ERROR_BAD_UTF8);
  assert_broadcast_text_fails (overlong_slash, sizeof overlong_slash,
                               SC_ERROR_BAD_UTF8);
  assert_broadcast_text_fails (surrogate, sizeof surrogate, SC_ERROR_BAD_UTF8);
  assert_broadcast_text_fails (beyond_unicode, sizeof beyond_unicode,
                               SC_ERROR_BAD_UTF8);
  assert_broadcast_text_fails (cut_sequence, sizeof cut_sequence,
                               SC_ERROR_BAD_UTF8);

  write_header (header, SC_MSG_BROADCAST, 1, sizeof valid);
  decoded = decode_raw (header, valid, sizeof valid, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (decoded->text, ==, "\xe2\x9c\x93");
}

static void
test_bad_utf8_nested (void)
{
  guint8 header[SC_FRAME_HEADER_SIZE];

  /* A client entry's nickname inside CLIENT_JOINED. */
  {
    /* clang-format off */
    static const guint8 payload[] = {
      0x00, 0x00, 0x00, 0x01, 0x00, 0x50,
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x02, 0xc3, 0x28, /* nickname: bad second byte */
      0x00, 0x00,
    };
    /* clang-format on */
    g_autoptr (ScMessage) decoded = NULL;
    g_autoptr (GError) error = NULL;

    write_header (header, SC_MSG_CLIENT_JOINED, 0, sizeof payload);
    decoded = decode_raw (header, payload, sizeof payload, &error);
    g_assert_null (decoded);
    g_assert_error (error, SC_ERROR, SC_ERROR_BAD_UTF8);
  }

  /* HELLO's optional password. */
  {
    /* clang-format off */
    static const guint8 payload[] = {
      0x01,                   /* version */
      0x00, 0x01, 'c',        /* program */
      0x00, 0x01, 'n',        /* nickname */
      0x00, 0x01, 0xfe,       /* password: not UTF-8 */
    };
    /* clang-format on */
    g_autoptr (ScMessage) decoded = NULL;
    g_autoptr (GError) error = NULL;

    write_header (header, SC_MSG_HELLO, 1, sizeof payload);
    decoded = decode_raw (header, payload, sizeof payload, &error);
    g_assert_null (decoded);
    g_assert_error (error, SC_ERROR, SC_ERROR_BAD_UTF8);
  }

  /* An error response's reason. */
  {
    static const guint8 payload[] = { 0x00, 0x04, 0x00, 0x01, 0xff };
    g_autoptr (ScMessage) decoded = NULL;
    g_autoptr (GError) error = NULL;

    write_header (header, SC_MSG_SEND_MESSAGE_REPLY, 1, sizeof payload);
    decoded = decode_raw (header, payload, sizeof payload, &error);
    g_assert_null (decoded);
    g_assert_error (error, SC_ERROR, SC_ERROR_BAD_UTF8);
  }
}

static void
test_embedded_nul (void)
{
  static const guint8 middle[] = { 0x00, 0x03, 'a', 0x00, 'b' };
  static const guint8 last[] = { 0x00, 0x02, 'a', 0x00 };
  static const guint8 only[] = { 0x00, 0x01, 0x00 };

  /* A NUL would silently truncate the C string the decoder returns. */
  assert_broadcast_text_fails (middle, sizeof middle, SC_ERROR_BAD_UTF8);
  assert_broadcast_text_fails (last, sizeof last, SC_ERROR_BAD_UTF8);
  assert_broadcast_text_fails (only, sizeof only, SC_ERROR_BAD_UTF8);
}

static void
test_string_longer_than_frame (void)
{
  static const guint8 one_short[] = { 0x00, 0x03, 'a', 'b' };
  static const guint8 huge[] = { 0xff, 0xff, 'a', 'b' };
  static const guint8 no_length[] = { 0x00 };
  guint8 header[SC_FRAME_HEADER_SIZE];

  assert_broadcast_text_fails (one_short, sizeof one_short, SC_ERROR_MALFORMED);
  assert_broadcast_text_fails (huge, sizeof huge, SC_ERROR_MALFORMED);
  assert_broadcast_text_fails (no_length, sizeof no_length, SC_ERROR_MALFORMED);

  /* The string fits the bytes buffered after it, but not the payload the
   * header declared: only the declared payload counts. */
  {
    static const guint8 buffer[] = { 0x00, 0x05, 'h', 'e', 'l', 'l', 'o' };
    g_autoptr (ScMessage) decoded = NULL;
    g_autoptr (GError) error = NULL;

    write_header (header, SC_MSG_BROADCAST, 1, 4);
    decoded = decode_raw (header, buffer, 4, &error);
    g_assert_null (decoded);
    g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
  }
}

#if defined(__SANITIZE_ADDRESS__)
#define ADDRESS_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define ADDRESS_SANITIZER 1
#endif
#endif

/* Caps this process's address space at what it uses now plus @headroom
 * bytes, so that an allocation sized from hostile input aborts the test
 * instead of quietly succeeding under overcommit.  Returns FALSE where
 * that cannot be done (AddressSanitizer reserves terabytes of shadow). */
static gboolean
limit_address_space (gsize headroom, struct rlimit *saved)
{
#ifdef ADDRESS_SANITIZER
  return FALSE;
#else
  g_autofree char *statm = NULL;
  struct rlimit limit;
  guint64 pages;

  if (!g_file_get_contents ("/proc/self/statm", &statm, NULL, NULL) ||
      getrlimit (RLIMIT_AS, saved) != 0)
    return FALSE;
  pages = g_ascii_strtoull (statm, NULL, 10);
  limit = *saved;
  limit.rlim_cur = pages * sysconf (_SC_PAGESIZE) + headroom;
  if (saved->rlim_cur != RLIM_INFINITY && saved->rlim_cur < limit.rlim_cur)
    return FALSE;
  return setrlimit (RLIMIT_AS, &limit) == 0;
#endif
}

static void
test_client_list_huge_count (void)
{
  static const guint32 counts[] = { G_MAXUINT32, 0x80000000, 0x10000000,
                                    0x01000000, 2 };
  guint8 header[SC_FRAME_HEADER_SIZE];
  struct rlimit saved;
  gboolean limited;

  /* 64 MiB is far more than decoding a 31-byte payload needs, and far
   * less than a pointer array for any of the counts but the last. */
  limited = limit_address_space (64 * 1024 * 1024, &saved);
  if (!limited)
    g_test_message ("address space not limited; allocation not checked");

  for (gsize i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      /* Status OK, empty reason, total, more, then a count promising far
       * more entries than the one real entry that follows. */
      /* clang-format off */
      guint8 payload[] = {
        0x00, 0x00, 0x00, 0x00,             /* OK, empty reason */
        0xff, 0xff, 0xff, 0xff, 0x01,       /* total, more */
        (counts[i] >> 24) & 0xff, (counts[i] >> 16) & 0xff,
        (counts[i] >> 8) & 0xff, counts[i] & 0xff,
        0x00, 0x00, 0x00, 0x03, 0x00, 0x01, /* id, port */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
        0x00, 0x00, 0x00, 0x00,             /* two empty strings */
      };
      /* clang-format on */
      g_autoptr (ScMessage) decoded = NULL;
      g_autoptr (GError) error = NULL;

      write_header (header, SC_MSG_LIST_CLIENTS_REPLY, 1, sizeof payload);
      decoded = decode_raw (header, payload, sizeof payload, &error);
      g_assert_null (decoded);
      g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
    }

  if (limited)
    g_assert_cmpint (setrlimit (RLIMIT_AS, &saved), ==, 0);
}

static void
test_client_list_count_boundary (void)
{
  g_autoptr (ScMessage) sample =
    make_sample (SC_MSG_LIST_CLIENTS_REPLY, SC_STATUS_OK);
  g_autoptr (GByteArray) frame = g_byte_array_new ();
  guint8 header[SC_FRAME_HEADER_SIZE];
  /* status, reason, total, more: then the entry count. */
  const gsize count_offset = SC_FRAME_HEADER_SIZE + 2 + 2 + 4 + 1;
  guint32 count;

  /* Three minimal entries (all fields zero, empty strings). */
  g_ptr_array_set_size (sample->clients, 0);
  for (guint i = 0; i < 3; i++)
    g_ptr_array_add (sample->clients, sc_client_info_new ());
  sc_message_append_frame (sample, frame);
  g_assert_cmpuint (frame->len, ==, count_offset + 4 + 3 * 18);

  /* Declaring one entry more than is there fails cleanly however the
   * bound is computed; declaring fewer leaves bytes that are ignored. */
  for (count = 0; count <= 4; count++)
    {
      g_autoptr (ScMessage) decoded = NULL;
      g_autoptr (GError) error = NULL;
      guint32 be = GUINT32_TO_BE (count);

      memcpy (frame->data + count_offset, &be, 4);
      write_header (header, SC_MSG_LIST_CLIENTS_REPLY, 0x00c0ffee,
                    frame->len - SC_FRAME_HEADER_SIZE);
      decoded = decode_raw (header, frame->data + SC_FRAME_HEADER_SIZE,
                            frame->len - SC_FRAME_HEADER_SIZE, &error);
      if (count <= 3)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (decoded->clients->len, ==, count);
        }
      else
        {
          g_assert_null (decoded);
          g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
        }
    }
}

/* The id lists of MESSAGE_ACKS and DELIVERY_RECEIPTS: each test below
 * runs on both types, the type being the test data. */
#define ID_LIST_TYPE(data) ((ScMessageType) GPOINTER_TO_UINT (data))

/* Where the u32 count is in the payload: after DELIVERY_RECEIPTS'
 * recipient_id, status and an empty reason; first in MESSAGE_ACKS. */
static gsize
id_count_offset (ScMessageType type)
{
  g_assert_true (type == SC_MSG_MESSAGE_ACKS ||
                 type == SC_MSG_DELIVERY_RECEIPTS);
  return type == SC_MSG_DELIVERY_RECEIPTS ? 4 + 2 + 2 : 0;
}

/* A payload of @type (with an empty reason, for DELIVERY_RECEIPTS) whose
 * id list declares @count ids and holds @n_ids of them (1001, 1002, ...). */
static GByteArray *
id_list_payload (ScMessageType type, guint32 count, guint n_ids)
{
  GByteArray *payload = g_byte_array_new ();
  /* recipient 2, RECIPIENT_LEFT, empty reason */
  static const guint8 head[] = { 0, 0, 0, 2, 0, 7, 0, 0 };
  guint32 count_be = GUINT32_TO_BE (count);

  if (type == SC_MSG_DELIVERY_RECEIPTS)
    g_byte_array_append (payload, head, sizeof head);
  g_assert_cmpuint (payload->len, ==, id_count_offset (type));
  g_byte_array_append (payload, (const guint8 *) &count_be, 4);
  for (guint i = 0; i < n_ids; i++)
    {
      guint64 id_be = GUINT64_TO_BE (1001 + i);

      g_byte_array_append (payload, (const guint8 *) &id_be, 8);
    }
  return payload;
}

static ScMessage *
decode_id_list (ScMessageType type,
                const guint8 *payload,
                gsize length,
                GError **error)
{
  guint8 header[SC_FRAME_HEADER_SIZE];

  write_header (header, type, 0, length);
  return decode_raw (header, payload, length, error);
}

static void
test_id_list_huge_count (gconstpointer data)
{
  ScMessageType type = ID_LIST_TYPE (data);
  /* 0x20000001 ids are 8 bytes modulo 2^32, exactly what follows: a bound
   * computed as a 32-bit byte count would let it through. */
  static const guint32 counts[] = { 0xffffffff, 0x80000000, 0x20000001,
                                    0x20000000, 0x01000000, 2 };
  struct rlimit saved;
  gboolean limited;

  /* 64 MiB is far more than decoding a 20-byte payload needs, and less
   * than an array for any of the counts but the last. */
  limited = limit_address_space (64 * 1024 * 1024, &saved);
  if (!limited)
    g_test_message ("address space not limited; allocation not checked");

  for (gsize i = 0; i < G_N_ELEMENTS (counts); i++)
    {
      /* One real id follows the count. */
      g_autoptr (GByteArray) payload = id_list_payload (type, counts[i], 1);
      g_autoptr (ScMessage) decoded = NULL;
      g_autoptr (GError) error = NULL;

      decoded = decode_id_list (type, payload->data, payload->len, &error);
      g_assert_null (decoded);
      g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
      g_assert_nonnull (strstr (error->message, sc_message_type_name (type)));
    }

  if (limited)
    g_assert_cmpint (setrlimit (RLIMIT_AS, &saved), ==, 0);
}

static void
test_id_list_empty (gconstpointer data)
{
  ScMessageType type = ID_LIST_TYPE (data);
  g_autoptr (ScMessage) sample = make_sample (type, SC_STATUS_OK);
  g_autoptr (GByteArray) payload = id_list_payload (type, 0, 0);
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GBytes) frame = NULL;
  g_autoptr (GError) error = NULL;
  gsize fields_before;

  /* A count of 0 and nothing after it. */
  decoded = decode_id_list (type, payload->data, payload->len, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded);
  if (type == SC_MSG_DELIVERY_RECEIPTS)
    {
      g_assert_cmpuint (decoded->peer_id, ==, 2);
      g_assert_cmpuint (decoded->status, ==, SC_STATUS_RECIPIENT_LEFT);
    }
  g_assert_nonnull (decoded->message_ids);
  g_assert_cmpuint (decoded->message_ids->len, ==, 0);

  /* No list and an empty list both encode as a count of 0 that decodes
   * to an empty list. */
  g_clear_pointer (&decoded, sc_message_free);
  g_clear_pointer (&sample->message_ids, g_array_unref);
  frame = sc_message_encode (sample);
  fields_before =
    type == SC_MSG_DELIVERY_RECEIPTS ? 4 + 2 + 2 + strlen (sample->reason) : 0;
  g_assert_cmpuint (g_bytes_get_size (frame), ==,
                    SC_FRAME_HEADER_SIZE + fields_before + 4);
  decoded = decode_frame (frame, &error);
  g_assert_no_error (error);
  g_assert_nonnull (decoded->message_ids);
  g_assert_cmpuint (decoded->message_ids->len, ==, 0);
  assert_message_equal (sample, decoded);

  g_clear_pointer (&decoded, sc_message_free);
  g_clear_pointer (&frame, g_bytes_unref);
  sample->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
  frame = sc_message_encode (sample);
  decoded = decode_frame (frame, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (decoded->message_ids->len, ==, 0);
  assert_message_equal (sample, decoded);
}

static void
test_id_list_truncated_id (gconstpointer data)
{
  ScMessageType type = ID_LIST_TYPE (data);
  const gsize count_offset = id_count_offset (type);
  g_autoptr (GByteArray) payload = id_list_payload (type, 3, 3);
  const gsize ids_offset = count_offset + 4;

  g_assert_cmpuint (payload->len, ==, ids_offset + 3 * 8);

  /* Every cut from before the count to short of the last id's end
   * leaves the count or an id incomplete; decode_raw() copies exactly the
   * declared bytes, so a read past them is caught by the sanitizers. */
  for (gsize n = count_offset; n < payload->len; n++)
    {
      g_autoptr (ScMessage) decoded = NULL;
      g_autoptr (GError) error = NULL;

      decoded = decode_id_list (type, payload->data, n, &error);
      g_assert_null (decoded);
      g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
    }

  /* The count declares two ids; the second is cut after 4 of its 8
   * bytes, and the payload ends there. */
  {
    g_autoptr (GByteArray) cut = id_list_payload (type, 2, 2);
    g_autoptr (ScMessage) decoded = NULL;
    g_autoptr (GError) error = NULL;

    g_byte_array_set_size (cut, cut->len - 4);
    decoded = decode_id_list (type, cut->data, cut->len, &error);
    g_assert_null (decoded);
    g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
  }

  /* The whole list is there, and a count of at most that decodes to
   * that many ids, the rest being trailing bytes; one more is refused. */
  for (guint32 count = 0; count <= 4; count++)
    {
      guint32 count_be = GUINT32_TO_BE (count);
      g_autoptr (ScMessage) decoded = NULL;
      g_autoptr (GError) error = NULL;

      memcpy (payload->data + count_offset, &count_be, 4);
      decoded = decode_id_list (type, payload->data, payload->len, &error);
      if (count <= 3)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (decoded->message_ids->len, ==, count);
          for (guint i = 0; i < count; i++)
            g_assert_cmpuint (g_array_index (decoded->message_ids, guint64, i),
                              ==, 1001 + i);
        }
      else
        {
          g_assert_null (decoded);
          g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
        }
    }
}

static void
test_error_status_fields_absent (void)
{
  /* A failed reply that nonetheless carries success fields after the
   * reason: they are trailing bytes, not fields. */
  static const guint8 payload[] = {
    0x00, 0x04,             /* SC_STATUS_NO_SUCH_CLIENT */
    0x00, 0x00,             /* empty reason */
    0x00, 0x00, 0x00, 0x2a, /* would be client id */
    0x00, 0x01, 'x',        /* would be nickname */
  };
  guint8 header[SC_FRAME_HEADER_SIZE];
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GError) error = NULL;

  write_header (header, SC_MSG_HELLO_REPLY, 3, sizeof payload);
  decoded = decode_raw (header, payload, sizeof payload, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (decoded->status, ==, SC_STATUS_NO_SUCH_CLIENT);
  g_assert_cmpstr (decoded->reason, ==, "");
  g_assert_cmpuint (decoded->client_id, ==, 0);
  g_assert_cmpstr (decoded->nickname, ==, "");

  /* An OK reply without its fields is malformed. */
  {
    static const guint8 ok_only[] = { 0x00, 0x00, 0x00, 0x00 };
    g_autoptr (ScMessage) bare = NULL;
    g_autoptr (GError) bare_error = NULL;

    write_header (header, SC_MSG_HELLO_REPLY, 3, sizeof ok_only);
    bare = decode_raw (header, ok_only, sizeof ok_only, &bare_error);
    g_assert_null (bare);
    g_assert_error (bare_error, SC_ERROR, SC_ERROR_MALFORMED);
  }
}

static void
add_case_tests (const char *prefix, GTestDataFunc func, gboolean with_errors)
{
  for (gsize i = 0; i < G_N_ELEMENTS (sc_test_all_types); i++)
    {
      ScMessageType type = sc_test_all_types[i];
      g_autofree char *name = type_path_name (type);
      g_autofree char *path = g_strdup_printf ("%s/%s", prefix, name);

      g_test_add_data_func (path, CASE_PACK (type, SC_STATUS_OK), func);
      if (with_errors && is_response (type))
        {
          g_autofree char *error_path =
            g_strdup_printf ("%s/%s-error", prefix, name);

          g_test_add_data_func (error_path, CASE_PACK (type, ERROR_STATUS),
                                func);
        }
    }
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/proto/message/types", test_types);
  g_test_add_func ("/proto/message/new-reply", test_new_reply);

  add_case_tests ("/proto/message/roundtrip", test_roundtrip, TRUE);
  g_test_add_func ("/proto/message/roundtrip-special/hello-no-password",
                   test_roundtrip_hello_without_password);
  g_test_add_func ("/proto/message/roundtrip-special/empty-client-list",
                   test_roundtrip_empty_list);
  g_test_add_func ("/proto/message/roundtrip-special/flags",
                   test_roundtrip_flags);
  g_test_add_func ("/proto/message/roundtrip-special/string-cut",
                   test_string_cut_at_character);

  for (gsize i = 0; i < G_N_ELEMENTS (pinned); i++)
    {
      g_autofree char *path =
        g_strdup_printf ("/proto/message/bytes/%s", pinned[i].what);

      g_test_add_data_func (path, &pinned[i], test_pinned);
    }

  add_case_tests ("/proto/message/truncated", test_truncated, TRUE);
  add_case_tests ("/proto/message/trailing-bytes", test_trailing_bytes_ignored,
                  TRUE);
  add_case_tests ("/proto/message/bad-request-id", test_bad_request_id, FALSE);

  g_test_add_func ("/proto/message/unknown-type", test_unknown_type);
  g_test_add_func ("/proto/message/bad-utf8", test_bad_utf8);
  g_test_add_func ("/proto/message/bad-utf8-nested", test_bad_utf8_nested);
  g_test_add_func ("/proto/message/embedded-nul", test_embedded_nul);
  g_test_add_func ("/proto/message/string-longer-than-frame",
                   test_string_longer_than_frame);
  g_test_add_func ("/proto/message/client-list/huge-count",
                   test_client_list_huge_count);
  g_test_add_func ("/proto/message/client-list/count-boundary",
                   test_client_list_count_boundary);
  /* DELIVERY_RECEIPTS keeps the paths it had before MESSAGE_ACKS. */
  g_test_add_data_func ("/proto/message/id-list/huge-count",
                        GUINT_TO_POINTER (SC_MSG_DELIVERY_RECEIPTS),
                        test_id_list_huge_count);
  g_test_add_data_func ("/proto/message/id-list/empty",
                        GUINT_TO_POINTER (SC_MSG_DELIVERY_RECEIPTS),
                        test_id_list_empty);
  g_test_add_data_func ("/proto/message/id-list/truncated-id",
                        GUINT_TO_POINTER (SC_MSG_DELIVERY_RECEIPTS),
                        test_id_list_truncated_id);
  g_test_add_data_func ("/proto/message/id-list/acks/huge-count",
                        GUINT_TO_POINTER (SC_MSG_MESSAGE_ACKS),
                        test_id_list_huge_count);
  g_test_add_data_func ("/proto/message/id-list/acks/empty",
                        GUINT_TO_POINTER (SC_MSG_MESSAGE_ACKS),
                        test_id_list_empty);
  g_test_add_data_func ("/proto/message/id-list/acks/truncated-id",
                        GUINT_TO_POINTER (SC_MSG_MESSAGE_ACKS),
                        test_id_list_truncated_id);
  g_test_add_func ("/proto/message/error-status-fields-absent",
                   test_error_status_fields_absent);

  return g_test_run ();
}
