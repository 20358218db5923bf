/* gen-corpus.c: writes the fuzz seed corpus.
 *
 * One valid frame per message type (msg-*.bin, each must decode), a few
 * streams of several frames (multi-*.bin), and malformed samples (bad-*.bin)
 * that start the fuzzer next to every error path of the reader and the
 * decoder.  The output is deterministic, so regenerating an unchanged
 * protocol leaves the committed files unchanged:
 *
 *   _build/tests/gen-corpus tests/fuzz/corpus
 */
#include "config.h"

#include <errno.h>
#include <locale.h>
#include <string.h>

#include "sc-message.h"
#include "sc-protocol.h"
#include "../sc-test-types.h"

static void
set_client (ScClientInfo *info, guint32 id, const char *nickname)
{
  info->id = id;
  info->port = 40000 + id;
  info->connected_since_ms = G_GINT64_CONSTANT (1700000000000) + id;
  g_free (info->nickname);
  g_free (info->address);
  info->nickname = g_strdup (nickname);
  info->address = g_strdup ("127.0.0.1");
}

/* A message of @type with every field it carries set, and a request id
 * exactly when its kind needs one. */
static ScMessage *
make_message (ScMessageType type)
{
  ScMessageKind kind = sc_message_type_kind (type);
  guint32 request_id =
    kind == SC_KIND_REQUEST || kind == SC_KIND_RESPONSE ? 7 : 0;
  ScMessage *message = sc_message_new (type, request_id);

  message->reason = g_strdup (kind == SC_KIND_RESPONSE ? "" : "reason");
  message->client_id = 3;
  message->peer_id = 4;
  message->message_id = 1001;
  message->token = G_GUINT64_CONSTANT (0x0102030405060708);
  message->time_ms = G_GINT64_CONSTANT (1700000000123);
  message->count = 2;
  message->more = 0;
  message->broadcast = type == SC_MSG_MESSAGE;
  message->max_payload = SC_MAX_PAYLOAD_DEFAULT;
  message->max_clients = 64;
  message->heartbeat_s = 30;
  message->name = g_strdup ("sockchat");
  message->nickname = g_strdup ("alice");
  message->text = g_strdup ("hello \xe2\x9c\x93");
  message->iso_time = g_strdup ("2023-11-14T22:13:20.123Z");
  message->timezone = g_strdup ("UTC");
  message->password = g_strdup ("secret");
  set_client (&message->sender, 3, "alice");
  message->clients =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
  for (guint i = 0; i < 2; i++)
    {
      ScClientInfo *info = sc_client_info_new ();

      set_client (info, i + 1, i == 0 ? "alice" : "bob");
      g_ptr_array_add (message->clients, info);
    }
  if (type == SC_MSG_DELIVERY_RECEIPTS)
    {
      static const guint64 ids[] = { 1001, 1002, 1003 };

      message->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
      g_array_append_vals (message->message_ids, ids, G_N_ELEMENTS (ids));
    }
  if (type == SC_MSG_MESSAGE_ACKS)
    {
      /* Ids as protocol 1.1 makes them: client 4's requests 7 and 8, and
       * client 3's request 9 (sender id << 32 | request id). */
      static const guint64 ids[] = { G_GUINT64_CONSTANT (0x0000000400000007),
                                     G_GUINT64_CONSTANT (0x0000000400000008),
                                     G_GUINT64_CONSTANT (0x0000000300000009) };

      message->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
      g_array_append_vals (message->message_ids, ids, G_N_ELEMENTS (ids));
    }
  if (type == SC_MSG_DELIVERY_RECEIPT || type == SC_MSG_DELIVERY_RECEIPTS ||
      type == SC_MSG_PROTOCOL_ERROR)
    message->status = SC_STATUS_RECIPIENT_LEFT;
  return message;
}

static char *
file_name_for (const char *prefix, guint type, const char *suffix)
{
  g_autofree char *name = g_ascii_strdown (sc_message_type_name (type), -1);

  g_strdelimit (name, "_", '-');
  return g_strdup_printf ("%s%s%s.bin", prefix, name, suffix);
}

static gboolean
write_sample (const char *directory,
              const char *name,
              const guint8 *data,
              gsize length,
              GError **error)
{
  g_autofree char *path = g_build_filename (directory, name, NULL);

  if (!g_file_set_contents (path, (const char *) data, length, error))
    return FALSE;
  g_print ("%s (%" G_GSIZE_FORMAT " bytes)\n", path, length);
  return TRUE;
}

static gboolean
write_message (const char *directory,
               const char *name,
               const ScMessage *message,
               GError **error)
{
  g_autoptr (GBytes) frame = sc_message_encode (message);

  return write_sample (directory, name, g_bytes_get_data (frame, NULL),
                       g_bytes_get_size (frame), error);
}

static gboolean
write_valid_samples (const char *directory, GError **error)
{
  for (gsize i = 0; i < G_N_ELEMENTS (sc_test_all_types); i++)
    {
      g_autoptr (ScMessage) message = make_message (sc_test_all_types[i]);
      g_autofree char *name = file_name_for ("msg-", sc_test_all_types[i], "");

      if (!write_message (directory, name, message, error))
        return FALSE;

      /* Responses also fail, and then carry no success fields. */
      if (sc_message_type_kind (sc_test_all_types[i]) == SC_KIND_RESPONSE)
        {
          g_autofree char *error_name =
            file_name_for ("msg-", sc_test_all_types[i], "-error");

          message->status = SC_STATUS_BAD_REQUEST;
          g_free (message->reason);
          message->reason = g_strdup ("bad request");
          if (!write_message (directory, error_name, message, error))
            return FALSE;
        }
    }

  /* HELLO from an older client, without the optional password. */
  {
    g_autoptr (ScMessage) message = make_message (SC_MSG_HELLO);

    g_clear_pointer (&message->password, g_free);
    if (!write_message (directory, "msg-hello-no-password.bin", message, error))
      return FALSE;
  }

  /* A protocol 1.1 fire-and-forget SEND_MESSAGE: no reply, no receipt. */
  {
    g_autoptr (ScMessage) message = make_message (SC_MSG_SEND_MESSAGE);

    message->flags = SC_FLAG_QUIET | SC_FLAG_NO_RECEIPT;
    if (!write_message (directory, "msg-send-message-quiet-no-receipt.bin",
                        message, error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
write_multi_samples (const char *directory, GError **error)
{
  static const ScMessageType session[] = {
    SC_MSG_HELLO,
    SC_MSG_GREETING,
    SC_MSG_HELLO_REPLY,
    SC_MSG_LIST_CLIENTS,
    SC_MSG_LIST_CLIENTS_REPLY,
    SC_MSG_SEND_MESSAGE,
    SC_MSG_MESSAGE,
    SC_MSG_MESSAGE_ACK,
    SC_MSG_SEND_MESSAGE_REPLY,
    SC_MSG_SERVER_PING,
    SC_MSG_PONG,
    SC_MSG_SERVER_SHUTDOWN,
  };
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  g_autoptr (GByteArray) everything = g_byte_array_new ();

  /* A whole session, as one stream. */
  for (gsize i = 0; i < G_N_ELEMENTS (session); i++)
    {
      g_autoptr (ScMessage) message = make_message (session[i]);

      sc_message_append_frame (message, stream);
    }
  if (!write_sample (directory, "multi-session.bin", stream->data, stream->len,
                     error))
    return FALSE;

  /* Every type back to back. */
  for (gsize i = 0; i < G_N_ELEMENTS (sc_test_all_types); i++)
    {
      g_autoptr (ScMessage) message = make_message (sc_test_all_types[i]);

      sc_message_append_frame (message, everything);
    }
  if (!write_sample (directory, "multi-all-types.bin", everything->data,
                     everything->len, error))
    return FALSE;

  /* Frames followed by the first half of another. */
  {
    g_autoptr (ScMessage) message = make_message (SC_MSG_MESSAGE);
    g_autoptr (GByteArray) tail = g_byte_array_new ();

    sc_message_append_frame (message, tail);
    g_byte_array_append (stream, tail->data, tail->len / 2);
  }
  if (!write_sample (directory, "multi-partial-tail.bin", stream->data,
                     stream->len, error))
    return FALSE;

  /* A good frame, then a bad one, then a good one that must never be
   * reached: the reader's error is sticky. */
  {
    /* clang-format off */
    static const guint8 bad[] = {
      'S', 'C', 0x09, 0x02, 0, 0, 0, 0,   /* version 9 */
      0, 0, 0, 1, 0, 0, 0, 0,
    };
    /* clang-format on */
    g_autoptr (ScMessage) message = make_message (SC_MSG_GET_TIME);

    g_byte_array_set_size (stream, 0);
    sc_message_append_frame (message, stream);
    g_byte_array_append (stream, bad, sizeof bad);
    sc_message_append_frame (message, stream);
  }
  return write_sample (directory, "multi-error-midway.bin", stream->data,
                       stream->len, error);
}

/* Writes @header_bytes followed by @payload. */
static gboolean
write_raw (const char *directory,
           const char *name,
           guint type,
           guint32 request_id,
           guint32 declared_length,
           const guint8 *payload,
           gsize payload_length,
           GError **error)
{
  ScFrameHeader header = { SC_PROTOCOL_VERSION, type, 0, request_id,
                           declared_length };
  g_autoptr (GByteArray) frame = g_byte_array_new ();

  g_byte_array_set_size (frame, SC_FRAME_HEADER_SIZE);
  sc_frame_header_write (&header, frame->data);
  if (payload_length > 0)
    g_byte_array_append (frame, payload, payload_length);
  return write_sample (directory, name, frame->data, frame->len, error);
}

static gboolean
write_malformed_samples (const char *directory, GError **error)
{
  /* clang-format off */
  static const guint8 bad_utf8[] = { 0x00, 0x03, 'a', 0xff, 'b' };
  static const guint8 embedded_nul[] = { 0x00, 0x03, 'a', 0x00, 'b' };
  static const guint8 long_string[] = { 0x01, 0x00, 'a', 'b' };
  static const guint8 huge_list[] = {
    0x00, 0x00, 0x00, 0x00,                   /* OK, empty reason */
    0x00, 0x00, 0x00, 0x01, 0x00,             /* total, more */
    0xff, 0xff, 0xff, 0xff,                   /* entries */
    0x00, 0x00, 0x00, 0x01, 0x00, 0x01,       /* id, port */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00,                   /* two empty strings */
  };
  static const guint8 huge_id_list[] = {
    0x00, 0x00, 0x00, 0x04,                         /* recipient_id */
    0x00, 0x07, 0x00, 0x00,                         /* RECIPIENT_LEFT, "" */
    0xff, 0xff, 0xff, 0xff,                         /* id count */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xe9, /* the one id there */
  };
  /* 0x20000001 ids are 8 bytes modulo 2^32: exactly the one id there, for
   * a bound computed as a 32-bit byte count. */
  static const guint8 huge_acks_list[] = {
    0x20, 0x00, 0x00, 0x01,                         /* id count */
    0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x07, /* the one id there */
  };
  static const guint8 ok_no_fields[] = { 0x00, 0x00, 0x00, 0x00 };
  static const guint8 bad_magic[] = {
    'G', 'E', 'T', ' ', '/', ' ', 'H', 'T',
    'T', 'P', '/', '1', '.', '1', '\r', '\n',
  };
  static const guint8 bad_version[] = {
    0x53, 0x43, 0x02, 0x02, 0, 0, 0, 0,
    0, 0, 0, 1, 0, 0, 0, 0,
  };
  static const guint8 bad_type[] = {
    0x53, 0x43, 0x01, 0x7f, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0,
  };
  /* clang-format on */

  return write_sample (directory, "bad-magic.bin", bad_magic, sizeof bad_magic,
                       error) &&
         write_sample (directory, "bad-version.bin", bad_version,
                       sizeof bad_version, error) &&
         write_sample (directory, "bad-type.bin", bad_type, sizeof bad_type,
                       error) &&
         write_raw (directory, "bad-length-max.bin", SC_MSG_BROADCAST, 1,
                    G_MAXUINT32, bad_utf8, sizeof bad_utf8, error) &&
         write_raw (directory, "bad-length-over-limit.bin", SC_MSG_BROADCAST, 1,
                    SC_MAX_PAYLOAD_DEFAULT + 1, NULL, 0, error) &&
         write_raw (directory, "bad-utf8.bin", SC_MSG_BROADCAST, 1,
                    sizeof bad_utf8, bad_utf8, sizeof bad_utf8, error) &&
         write_raw (directory, "bad-embedded-nul.bin", SC_MSG_BROADCAST, 1,
                    sizeof embedded_nul, embedded_nul, sizeof embedded_nul,
                    error) &&
         write_raw (directory, "bad-string-too-long.bin", SC_MSG_BROADCAST, 1,
                    sizeof long_string, long_string, sizeof long_string,
                    error) &&
         write_raw (directory, "bad-client-count.bin",
                    SC_MSG_LIST_CLIENTS_REPLY, 1, sizeof huge_list, huge_list,
                    sizeof huge_list, error) &&
         write_raw (directory, "bad-id-count.bin", SC_MSG_DELIVERY_RECEIPTS, 0,
                    sizeof huge_id_list, huge_id_list, sizeof huge_id_list,
                    error) &&
         write_raw (directory, "bad-acks-id-count.bin", SC_MSG_MESSAGE_ACKS, 0,
                    sizeof huge_acks_list, huge_acks_list,
                    sizeof huge_acks_list, error) &&
         write_raw (directory, "bad-ok-without-fields.bin", SC_MSG_HELLO_REPLY,
                    1, sizeof ok_no_fields, ok_no_fields, sizeof ok_no_fields,
                    error) &&
         write_raw (directory, "bad-request-id-zero.bin", SC_MSG_GET_TIME, 0, 0,
                    NULL, 0, error) &&
         write_raw (directory, "bad-request-id-on-indication.bin",
                    SC_MSG_SERVER_SHUTDOWN, 5, 2, ok_no_fields, 2, error);
}

int
main (int argc, char *argv[])
{
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  const char *directory;

  setlocale (LC_ALL, "");

  context = g_option_context_new ("DIRECTORY");
  g_option_context_set_summary (context,
                                "Write the SockChat fuzz seed corpus into "
                                "DIRECTORY (tests/fuzz/corpus).");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  if (argc != 2)
    {
      g_printerr ("usage: %s DIRECTORY\n", g_get_prgname ());
      return 1;
    }
  directory = argv[1];

  if (g_mkdir_with_parents (directory, 0755) != 0)
    {
      g_printerr ("cannot create %s: %s\n", directory, g_strerror (errno));
      return 1;
    }
  if (!write_valid_samples (directory, &error) ||
      !write_multi_samples (directory, &error) ||
      !write_malformed_samples (directory, &error))
    {
      g_printerr ("%s\n", error->message);
      return 1;
    }
  return 0;
}
