/* test-frame.c: the 16-byte frame header and the incremental frame reader.
 *
 * Frames here are fed as byte arrays split every way recv() could split
 * them; oversized and hostile headers must be refused from the header
 * alone, before the reader grows its buffer for them.
 */
#include "config.h"

#include <string.h>

#include "sc-frame-reader.h"
#include "sc-message.h"
#include "sc-protocol.h"
#include "sc-test-types.h"

/* A valid header: SEND_MESSAGE, flags 0x0007, request id 42, 3 bytes. */
static const guint8 valid_header[SC_FRAME_HEADER_SIZE] = {
  0x53, 0x43, 0x01, 0x05, 0x00, 0x07, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x2a, 0x00, 0x00, 0x00, 0x03,
};

static guint32
request_id_for (guint type)
{
  ScMessageKind kind = sc_message_type_kind (type);

  return kind == SC_KIND_REQUEST || kind == SC_KIND_RESPONSE ? 0x1000 + type
                                                             : 0;
}

/* A message of @type with every string and list field filled, so that
 * its frame has length prefixes and nested entries to cut through. */
static ScMessage *
make_message (guint type)
{
  ScMessage *message = sc_message_new (type, request_id_for (type));

  message->reason = g_strdup ("reason");
  message->name = g_strdup ("name");
  message->nickname = g_strdup ("nick");
  message->text = g_strdup ("some text \xe2\x9c\x93");
  message->iso_time = g_strdup ("2024-01-01T00:00:00Z");
  message->timezone = g_strdup ("UTC");
  message->password = g_strdup ("pw");
  message->token = G_GUINT64_CONSTANT (0x0102030405060708);
  message->sender.id = 3;
  message->sender.nickname = g_strdup ("carol");
  message->sender.address = g_strdup ("127.0.0.1");
  message->clients =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
  for (guint i = 0; i < 2; i++)
    g_ptr_array_add (message->clients, sc_client_info_copy (&message->sender));
  return message;
}

static GBytes *
make_frame (guint type)
{
  g_autoptr (ScMessage) message = make_message (type);

  return sc_message_encode (message);
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

/* Takes the next frame from @reader, which must be ready, and checks it
 * against the encoded frame @expected. */
static void
assert_next_frame (ScFrameReader *reader, GBytes *expected)
{
  gsize length;
  const guint8 *bytes = g_bytes_get_data (expected, &length);
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) message = NULL;
  ScFrameHeader header;
  const guint8 *payload = NULL;

  g_assert_cmpint (sc_frame_reader_next (reader, &header, &payload, &error), ==,
                   SC_FRAME_READY);
  g_assert_no_error (error);
  g_assert_cmpuint (header.version, ==, SC_PROTOCOL_VERSION);
  g_assert_cmpuint (header.type, ==, bytes[3]);
  g_assert_cmpuint (header.payload_length, ==, length - SC_FRAME_HEADER_SIZE);
  g_assert_nonnull (payload);
  g_assert_cmpmem (payload, header.payload_length, bytes + SC_FRAME_HEADER_SIZE,
                   length - SC_FRAME_HEADER_SIZE);

  message = sc_message_decode (&header, payload, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpuint (message->type, ==, header.type);
}

static void
assert_incomplete (ScFrameReader *reader)
{
  g_autoptr (GError) error = NULL;
  ScFrameHeader header;
  const guint8 *payload = NULL;

  g_assert_cmpint (sc_frame_reader_next (reader, &header, &payload, &error), ==,
                   SC_FRAME_INCOMPLETE);
  g_assert_no_error (error);
}

static void
assert_reader_error (ScFrameReader *reader, gint code)
{
  g_autoptr (GError) error = NULL;
  ScFrameHeader header;
  const guint8 *payload = NULL;

  g_assert_cmpint (sc_frame_reader_next (reader, &header, &payload, &error), ==,
                   SC_FRAME_ERROR);
  g_assert_error (error, SC_ERROR, code);
}

/* ------------------------------------------------------------------ */
/* Header */

static void
test_header_parse_valid (void)
{
  g_autoptr (GError) error = NULL;
  ScFrameHeader header;
  guint8 written[SC_FRAME_HEADER_SIZE];

  g_assert_true (sc_frame_header_parse (valid_header, sizeof valid_header,
                                        SC_MAX_PAYLOAD_DEFAULT, &header,
                                        &error));
  g_assert_no_error (error);
  g_assert_cmpuint (header.version, ==, 1);
  g_assert_cmpuint (header.type, ==, SC_MSG_SEND_MESSAGE);
  g_assert_cmpuint (header.flags, ==, 7);
  g_assert_cmpuint (header.request_id, ==, 42);
  g_assert_cmpuint (header.payload_length, ==, 3);

  /* Writing it back gives the same bytes, reserved field zeroed. */
  sc_frame_header_write (&header, written);
  g_assert_cmpmem (written, sizeof written, valid_header, sizeof valid_header);

  /* Bytes after the header do not matter to the header parser. */
  {
    guint8 longer[SC_FRAME_HEADER_SIZE + 3] = { 0 };

    memcpy (longer, valid_header, SC_FRAME_HEADER_SIZE);
    g_assert_true (sc_frame_header_parse (
      longer, sizeof longer, SC_MAX_PAYLOAD_DEFAULT, &header, &error));
    g_assert_no_error (error);
    g_assert_cmpint (sc_frame_bytes_needed (longer, sizeof longer,
                                            SC_MAX_PAYLOAD_DEFAULT, &error),
                     ==, SC_FRAME_HEADER_SIZE + 3);
    g_assert_no_error (error);
  }
}

static void
test_header_write_fields (void)
{
  ScFrameHeader header = { SC_PROTOCOL_VERSION, SC_MSG_PING_REPLY, 0xa55a,
                           0xdeadbeef, 0x00010203 };
  static const guint8 expected[SC_FRAME_HEADER_SIZE] = {
    0x53, 0x43, 0x01, 0x88, 0xa5, 0x5a, 0x00, 0x00,
    0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03,
  };
  guint8 bytes[SC_FRAME_HEADER_SIZE];

  memset (bytes, 0xff, sizeof bytes);
  sc_frame_header_write (&header, bytes);
  g_assert_cmpmem (bytes, sizeof bytes, expected, sizeof expected);
}

static void
test_header_bad_magic (void)
{
  guint8 bytes[SC_FRAME_HEADER_SIZE];
  ScFrameHeader header;

  for (guint i = 0; i < 2; i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) needed_error = NULL;

      memcpy (bytes, valid_header, sizeof bytes);
      bytes[i] ^= 0x20; /* "sC", "Sc" */
      g_assert_false (sc_frame_header_parse (
        bytes, sizeof bytes, SC_MAX_PAYLOAD_DEFAULT, &header, &error));
      g_assert_error (error, SC_ERROR, SC_ERROR_BAD_MAGIC);
      g_assert_cmpint (sc_frame_bytes_needed (bytes, sizeof bytes,
                                              SC_MAX_PAYLOAD_DEFAULT,
                                              &needed_error),
                       ==, -1);
      g_assert_error (needed_error, SC_ERROR, SC_ERROR_BAD_MAGIC);
    }

  /* An HTTP request is the classic wrong peer. */
  {
    g_autoptr (GError) error = NULL;
    const char *http = "GET / HTTP/1.1\r\n";

    g_assert_false (sc_frame_header_parse ((const guint8 *) http, strlen (http),
                                           SC_MAX_PAYLOAD_DEFAULT, &header,
                                           &error));
    g_assert_error (error, SC_ERROR, SC_ERROR_BAD_MAGIC);
  }
}

static void
test_header_bad_version (void)
{
  static const guint8 versions[] = { 0, 2, 0x10, 0xff };
  guint8 bytes[SC_FRAME_HEADER_SIZE];
  ScFrameHeader header;

  for (gsize i = 0; i < G_N_ELEMENTS (versions); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) needed_error = NULL;

      memcpy (bytes, valid_header, sizeof bytes);
      bytes[2] = versions[i];
      g_assert_false (sc_frame_header_parse (
        bytes, sizeof bytes, SC_MAX_PAYLOAD_DEFAULT, &header, &error));
      g_assert_error (error, SC_ERROR, SC_ERROR_BAD_VERSION);
      g_assert_cmpint (sc_frame_bytes_needed (bytes, sizeof bytes,
                                              SC_MAX_PAYLOAD_DEFAULT,
                                              &needed_error),
                       ==, -1);
      g_assert_error (needed_error, SC_ERROR, SC_ERROR_BAD_VERSION);
    }
}

static void
test_header_unknown_type (void)
{
  guint8 bytes[SC_FRAME_HEADER_SIZE];
  ScFrameHeader header;
  guint known = 0;

  /* Exactly the 27 types of sc-protocol.h parse; every other byte value
   * is refused as an unknown type. */
  for (guint type = 0; type <= 0xff; type++)
    {
      g_autoptr (GError) error = NULL;
      gboolean ok;

      memcpy (bytes, valid_header, sizeof bytes);
      bytes[3] = type;
      ok = sc_frame_header_parse (bytes, sizeof bytes, SC_MAX_PAYLOAD_DEFAULT,
                                  &header, &error);
      g_assert_cmpint (ok, ==, sc_message_type_is_known (type));
      if (ok)
        {
          g_assert_no_error (error);
          g_assert_cmpuint (header.type, ==, type);
          known++;
        }
      else
        g_assert_error (error, SC_ERROR, SC_ERROR_UNKNOWN_TYPE);
    }
  g_assert_cmpuint (known, ==, G_N_ELEMENTS (sc_test_all_types));
  for (gsize i = 0; i < G_N_ELEMENTS (sc_test_all_types); i++)
    g_assert_true (sc_message_type_is_known (sc_test_all_types[i]));
}

static void
test_header_truncated (void)
{
  ScFrameHeader header;

  for (gsize n = 0; n < SC_FRAME_HEADER_SIZE; n++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_false (sc_frame_header_parse (
        valid_header, n, SC_MAX_PAYLOAD_DEFAULT, &header, &error));
      g_assert_error (error, SC_ERROR, SC_ERROR_MALFORMED);
    }
}

static void
test_bytes_needed_short (void)
{
  guint8 garbage[SC_FRAME_HEADER_SIZE];

  memset (garbage, 0xff, sizeof garbage);

  /* Fewer than 16 bytes: nothing to decide yet, not even for bytes that
   * can never become a valid header. */
  for (gsize n = 0; n < SC_FRAME_HEADER_SIZE; n++)
    {
      g_autoptr (GError) error = NULL;

      g_assert_cmpint (
        sc_frame_bytes_needed (valid_header, n, SC_MAX_PAYLOAD_DEFAULT, &error),
        ==, 0);
      g_assert_no_error (error);
      g_assert_cmpint (
        sc_frame_bytes_needed (garbage, n, SC_MAX_PAYLOAD_DEFAULT, &error), ==,
        0);
      g_assert_no_error (error);
    }
}

static void
test_header_length_limits (void)
{
  struct
  {
    guint32 max_payload;
    guint32 declared;
    gboolean ok;
  } cases[] = {
    { SC_MAX_PAYLOAD_DEFAULT, 0, TRUE },
    { SC_MAX_PAYLOAD_DEFAULT, SC_MAX_PAYLOAD_DEFAULT, TRUE },
    { SC_MAX_PAYLOAD_DEFAULT, SC_MAX_PAYLOAD_DEFAULT + 1, FALSE },
    { SC_MAX_PAYLOAD_DEFAULT, G_MAXUINT32, FALSE },
    { 0, 0, TRUE },
    { 0, 1, FALSE },
    { 100, 100, TRUE },
    { 100, 101, FALSE },
    { SC_MAX_PAYLOAD_LIMIT, SC_MAX_PAYLOAD_LIMIT, TRUE },
    { SC_MAX_PAYLOAD_LIMIT, SC_MAX_PAYLOAD_LIMIT + 1, FALSE },
    { SC_MAX_PAYLOAD_LIMIT, G_MAXUINT32, FALSE },
    /* No configuration lifts the hard limit. */
    { G_MAXUINT32, SC_MAX_PAYLOAD_LIMIT, TRUE },
    { G_MAXUINT32, SC_MAX_PAYLOAD_LIMIT + 1, FALSE },
    { G_MAXUINT32, G_MAXUINT32, FALSE },
  };
  guint8 bytes[SC_FRAME_HEADER_SIZE];

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GError) needed_error = NULL;
      ScFrameHeader header;
      gssize needed;

      write_header (bytes, SC_MSG_BROADCAST, 1, cases[i].declared);
      g_assert_cmpint (sc_frame_header_parse (bytes, sizeof bytes,
                                              cases[i].max_payload, &header,
                                              &error),
                       ==, cases[i].ok);
      needed = sc_frame_bytes_needed (bytes, sizeof bytes, cases[i].max_payload,
                                      &needed_error);
      if (cases[i].ok)
        {
          g_assert_no_error (error);
          g_assert_no_error (needed_error);
          g_assert_cmpuint (header.payload_length, ==, cases[i].declared);
          g_assert_cmpint (needed, ==,
                           (gssize) SC_FRAME_HEADER_SIZE + cases[i].declared);
        }
      else
        {
          g_assert_error (error, SC_ERROR, SC_ERROR_TOO_LARGE);
          g_assert_error (needed_error, SC_ERROR, SC_ERROR_TOO_LARGE);
          g_assert_cmpint (needed, ==, -1);
        }
    }
}

static void
test_bytes_needed_caps_limit (void)
{
  guint8 bytes[SC_FRAME_HEADER_SIZE];
  g_autoptr (GError) error = NULL;

  /* Whatever the caller asks for, nothing above the hard limit passes. */
  write_header (bytes, SC_MSG_BROADCAST, 1, SC_MAX_PAYLOAD_LIMIT + 1);
  g_assert_cmpint (
    sc_frame_bytes_needed (bytes, sizeof bytes, G_MAXUINT32, &error), ==, -1);
  g_assert_error (error, SC_ERROR, SC_ERROR_TOO_LARGE);
  g_clear_error (&error);

  write_header (bytes, SC_MSG_BROADCAST, 1, G_MAXUINT32);
  g_assert_cmpint (
    sc_frame_bytes_needed (bytes, sizeof bytes, G_MAXUINT32, &error), ==, -1);
  g_assert_error (error, SC_ERROR, SC_ERROR_TOO_LARGE);
  g_clear_error (&error);

  write_header (bytes, SC_MSG_BROADCAST, 1, SC_MAX_PAYLOAD_LIMIT);
  g_assert_cmpint (
    sc_frame_bytes_needed (bytes, sizeof bytes, G_MAXUINT32, &error), ==,
    SC_FRAME_HEADER_SIZE + SC_MAX_PAYLOAD_LIMIT);
  g_assert_no_error (error);
}

/* ------------------------------------------------------------------ */
/* Frame reader */

static void
test_reader_oversized_no_alloc (void)
{
  static const guint32 lengths[] = { SC_MAX_PAYLOAD_DEFAULT + 1,
                                     SC_MAX_PAYLOAD_LIMIT + 1, G_MAXUINT32 };

  for (gsize i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      g_autoptr (ScFrameReader) reader =
        sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
      guint8 bytes[SC_FRAME_HEADER_SIZE];

      write_header (bytes, SC_MSG_BROADCAST, 1, lengths[i]);
      sc_frame_reader_feed (reader, bytes, sizeof bytes);
      assert_reader_error (reader, SC_ERROR_TOO_LARGE);
      /* The buffer holds what was fed and no more: the declared length
       * never sized an allocation. */
      g_assert_cmpuint (sc_frame_reader_capacity (reader), <=, 4096);
    }

  /* A reader told to accept anything is still capped at the limit. */
  {
    g_autoptr (ScFrameReader) reader = sc_frame_reader_new (G_MAXUINT32);
    guint8 bytes[SC_FRAME_HEADER_SIZE];

    write_header (bytes, SC_MSG_BROADCAST, 1, G_MAXUINT32);
    sc_frame_reader_feed (reader, bytes, sizeof bytes);
    assert_reader_error (reader, SC_ERROR_TOO_LARGE);
    g_assert_cmpuint (sc_frame_reader_capacity (reader), <=, 4096);
  }
  {
    g_autoptr (ScFrameReader) reader =
      sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
    guint8 bytes[SC_FRAME_HEADER_SIZE];

    sc_frame_reader_set_max_payload (reader, G_MAXUINT32);
    write_header (bytes, SC_MSG_BROADCAST, 1, SC_MAX_PAYLOAD_LIMIT + 1);
    sc_frame_reader_feed (reader, bytes, sizeof bytes);
    assert_reader_error (reader, SC_ERROR_TOO_LARGE);
    g_assert_cmpuint (sc_frame_reader_capacity (reader), <=, 4096);
  }
}

static void
test_reader_max_payload_growth (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  guint8 bytes[SC_FRAME_HEADER_SIZE];

  /* A frame of exactly the maximum is allowed to reserve its space, but
   * only about that much. */
  write_header (bytes, SC_MSG_BROADCAST, 1, SC_MAX_PAYLOAD_DEFAULT);
  sc_frame_reader_feed (reader, bytes, sizeof bytes);
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_capacity (reader), >=,
                    SC_FRAME_HEADER_SIZE + SC_MAX_PAYLOAD_DEFAULT);
  g_assert_cmpuint (sc_frame_reader_capacity (reader), <=,
                    2 * (SC_FRAME_HEADER_SIZE + SC_MAX_PAYLOAD_DEFAULT));
}

static void
test_reader_set_max_payload (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  g_autoptr (GBytes) frame = make_frame (SC_MSG_BROADCAST);
  gsize length;
  const guint8 *bytes = g_bytes_get_data (frame, &length);

  sc_frame_reader_feed (reader, bytes, length);
  assert_next_frame (reader, frame);

  /* Lowering the limit applies to the next header. */
  sc_frame_reader_set_max_payload (reader, length - SC_FRAME_HEADER_SIZE - 1);
  sc_frame_reader_feed (reader, bytes, length);
  assert_reader_error (reader, SC_ERROR_TOO_LARGE);
}

static void
test_reader_byte_at_a_time (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);

  for (gsize i = 0; i < G_N_ELEMENTS (sc_test_all_types); i++)
    {
      g_autoptr (GBytes) frame = make_frame (sc_test_all_types[i]);
      gsize length;
      const guint8 *bytes = g_bytes_get_data (frame, &length);

      for (gsize j = 0; j < length; j++)
        {
          sc_frame_reader_feed (reader, bytes + j, 1);
          if (j + 1 < length)
            assert_incomplete (reader);
        }
      assert_next_frame (reader, frame);
      assert_incomplete (reader);
      g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, 0);
    }
}

static void
test_reader_many_frames_and_tail (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  g_autoptr (GPtrArray) frames =
    g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  g_autoptr (GBytes) tail = make_frame (SC_MSG_MESSAGE);
  gsize tail_length;
  const guint8 *tail_bytes = g_bytes_get_data (tail, &tail_length);
  const gsize cut = 21;

  for (gsize i = 0; i < G_N_ELEMENTS (sc_test_all_types); i++)
    {
      GBytes *frame = make_frame (sc_test_all_types[i]);

      g_byte_array_append (stream, g_bytes_get_data (frame, NULL),
                           g_bytes_get_size (frame));
      g_ptr_array_add (frames, frame);
    }
  g_byte_array_append (stream, tail_bytes, cut);

  /* One recv() brought every frame and the start of one more. */
  sc_frame_reader_feed (reader, stream->data, stream->len);
  for (guint i = 0; i < frames->len; i++)
    assert_next_frame (reader, g_ptr_array_index (frames, i));
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, cut);

  sc_frame_reader_feed (reader, tail_bytes + cut, tail_length - cut);
  assert_next_frame (reader, tail);
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, 0);
}

static void
test_reader_truncated_everywhere (void)
{
  for (gsize i = 0; i < G_N_ELEMENTS (sc_test_all_types); i++)
    {
      g_autoptr (GBytes) frame = make_frame (sc_test_all_types[i]);
      gsize length;
      const guint8 *bytes = g_bytes_get_data (frame, &length);

      for (gsize cut = 0; cut < length; cut++)
        {
          g_autoptr (ScFrameReader) reader =
            sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);

          sc_frame_reader_feed (reader, bytes, cut);
          assert_incomplete (reader);
          /* Asking again changes nothing and consumes nothing. */
          assert_incomplete (reader);
          g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, cut);

          sc_frame_reader_feed (reader, bytes + cut, length - cut);
          assert_next_frame (reader, frame);
          assert_incomplete (reader);
        }
    }
}

static void
test_reader_sticky_error (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  g_autoptr (GBytes) frame = make_frame (SC_MSG_GET_TIME);
  gsize length;
  const guint8 *bytes = g_bytes_get_data (frame, &length);
  guint8 bad[SC_FRAME_HEADER_SIZE];

  /* A good frame, then garbage: the good one is still delivered. */
  memcpy (bad, valid_header, sizeof bad);
  bad[0] = 'X';
  sc_frame_reader_feed (reader, bytes, length);
  sc_frame_reader_feed (reader, bad, sizeof bad);
  assert_next_frame (reader, frame);
  assert_reader_error (reader, SC_ERROR_BAD_MAGIC);

  /* Once failed, valid bytes do not revive the stream. */
  sc_frame_reader_feed (reader, bytes, length);
  assert_reader_error (reader, SC_ERROR_MALFORMED);
  assert_reader_error (reader, SC_ERROR_MALFORMED);

  /* A NULL error is allowed. */
  {
    ScFrameHeader header;
    const guint8 *payload;

    g_assert_cmpint (sc_frame_reader_next (reader, &header, &payload, NULL), ==,
                     SC_FRAME_ERROR);
  }
}

static void
test_reader_header_errors (void)
{
  struct
  {
    guint offset;
    guint8 value;
    ScError code;
  } cases[] = {
    { 1, 'x', SC_ERROR_BAD_MAGIC },
    { 2, 7, SC_ERROR_BAD_VERSION },
    { 3, 0x7f, SC_ERROR_UNKNOWN_TYPE },
    { 12, 0xff, SC_ERROR_TOO_LARGE },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (ScFrameReader) reader =
        sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
      guint8 bytes[SC_FRAME_HEADER_SIZE];

      memcpy (bytes, valid_header, sizeof bytes);
      bytes[cases[i].offset] = cases[i].value;
      /* Fifteen bytes decide nothing; the sixteenth decides. */
      sc_frame_reader_feed (reader, bytes, sizeof bytes - 1);
      assert_incomplete (reader);
      sc_frame_reader_feed (reader, bytes + sizeof bytes - 1, 1);
      assert_reader_error (reader, cases[i].code);
    }
}

static void
test_reader_reserve_commit (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  g_autoptr (GBytes) first = make_frame (SC_MSG_LIST_CLIENTS_REPLY);
  g_autoptr (GBytes) second = make_frame (SC_MSG_HELLO);
  gsize pos = 0;
  guint8 *space;
  gsize available = 0;

  g_byte_array_append (stream, g_bytes_get_data (first, NULL),
                       g_bytes_get_size (first));
  g_byte_array_append (stream, g_bytes_get_data (second, NULL),
                       g_bytes_get_size (second));

  /* recv() into reserved space, filling less than was offered. */
  space = sc_frame_reader_reserve (reader, 10, &available);
  g_assert_nonnull (space);
  g_assert_cmpuint (available, >=, 10);
  memcpy (space, stream->data, 10);
  sc_frame_reader_commit (reader, 10);
  pos = 10;
  assert_incomplete (reader);

  /* After the header was seen the reader has room for the whole frame. */
  space = sc_frame_reader_reserve (reader, 1, &available);
  memcpy (space, stream->data + pos, 7);
  sc_frame_reader_commit (reader, 7);
  pos += 7;
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_capacity (reader) -
                      sc_frame_reader_buffered (reader),
                    >=, g_bytes_get_size (first) - pos);

  /* Committing nothing (recv() returned EAGAIN) changes nothing. */
  sc_frame_reader_reserve (reader, 64, &available);
  sc_frame_reader_commit (reader, 0);
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, pos);

  /* The rest in one go: both frames come out. */
  space = sc_frame_reader_reserve (reader, stream->len - pos, &available);
  g_assert_cmpuint (available, >=, stream->len - pos);
  memcpy (space, stream->data + pos, stream->len - pos);
  sc_frame_reader_commit (reader, stream->len - pos);
  assert_next_frame (reader, first);
  assert_next_frame (reader, second);
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, 0);
}

static void
test_reader_reserve_compacts (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  g_autoptr (GBytes) frame = make_frame (SC_MSG_MESSAGE);
  gsize length;
  const guint8 *bytes = g_bytes_get_data (frame, &length);
  const gsize half = length / 2;
  gsize capacity, available = 0;
  gsize fed = 0;
  guint8 *space;

  /* Whole frames and half of one more, all within the first buffer. */
  sc_frame_reader_reserve (reader, 1, NULL);
  capacity = sc_frame_reader_capacity (reader);
  while (fed + 2 * length <= capacity)
    {
      sc_frame_reader_feed (reader, bytes, length);
      fed += length;
    }
  g_assert_cmpuint (fed, >, 0);
  sc_frame_reader_feed (reader, bytes, half);
  g_assert_cmpuint (sc_frame_reader_capacity (reader), ==, capacity);

  for (; fed > 0; fed -= length)
    assert_next_frame (reader, frame);
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, half);

  /* Only moving the unconsumed half to the front makes this much room;
   * it must arrive there intact, without the buffer growing. */
  space = sc_frame_reader_reserve (reader, capacity - half, &available);
  g_assert_cmpuint (available, ==, capacity - half);
  g_assert_cmpuint (sc_frame_reader_capacity (reader), ==, capacity);
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, half);
  memcpy (space, bytes + half, length - half);
  sc_frame_reader_commit (reader, length - half);
  assert_next_frame (reader, frame);
  assert_incomplete (reader);
}

static void
test_reader_zero_length_payload (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);
  g_autoptr (GBytes) frame = make_frame (SC_MSG_GET_NAME);
  g_autoptr (GError) error = NULL;
  g_autoptr (ScMessage) message = NULL;
  ScFrameHeader header;
  const guint8 *payload = NULL;

  g_assert_cmpuint (g_bytes_get_size (frame), ==, SC_FRAME_HEADER_SIZE);

  /* The header alone is the whole frame; two in a row. */
  sc_frame_reader_feed (reader, g_bytes_get_data (frame, NULL),
                        SC_FRAME_HEADER_SIZE);
  sc_frame_reader_feed (reader, g_bytes_get_data (frame, NULL),
                        SC_FRAME_HEADER_SIZE);
  g_assert_cmpint (sc_frame_reader_next (reader, &header, &payload, &error), ==,
                   SC_FRAME_READY);
  g_assert_no_error (error);
  g_assert_cmpuint (header.type, ==, SC_MSG_GET_NAME);
  g_assert_cmpuint (header.payload_length, ==, 0);
  message = sc_message_decode (&header, payload, &error);
  g_assert_no_error (error);
  g_assert_nonnull (message);
  g_assert_cmpuint (message->request_id, ==, request_id_for (SC_MSG_GET_NAME));

  assert_next_frame (reader, frame);
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, 0);
}

static void
test_reader_empty (void)
{
  g_autoptr (ScFrameReader) reader =
    sc_frame_reader_new (SC_MAX_PAYLOAD_DEFAULT);

  /* Nothing fed, and empty feeds, are simply incomplete. */
  assert_incomplete (reader);
  sc_frame_reader_feed (reader, NULL, 0);
  assert_incomplete (reader);
  g_assert_cmpuint (sc_frame_reader_buffered (reader), ==, 0);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/proto/frame/header/valid", test_header_parse_valid);
  g_test_add_func ("/proto/frame/header/write", test_header_write_fields);
  g_test_add_func ("/proto/frame/header/bad-magic", test_header_bad_magic);
  g_test_add_func ("/proto/frame/header/bad-version", test_header_bad_version);
  g_test_add_func ("/proto/frame/header/unknown-type",
                   test_header_unknown_type);
  g_test_add_func ("/proto/frame/header/truncated", test_header_truncated);
  g_test_add_func ("/proto/frame/header/length-limits",
                   test_header_length_limits);
  g_test_add_func ("/proto/frame/bytes-needed/short", test_bytes_needed_short);
  g_test_add_func ("/proto/frame/bytes-needed/hard-limit",
                   test_bytes_needed_caps_limit);
  g_test_add_func ("/proto/frame/reader/oversized",
                   test_reader_oversized_no_alloc);
  g_test_add_func ("/proto/frame/reader/max-payload-growth",
                   test_reader_max_payload_growth);
  g_test_add_func ("/proto/frame/reader/set-max-payload",
                   test_reader_set_max_payload);
  g_test_add_func ("/proto/frame/reader/byte-at-a-time",
                   test_reader_byte_at_a_time);
  g_test_add_func ("/proto/frame/reader/many-and-tail",
                   test_reader_many_frames_and_tail);
  g_test_add_func ("/proto/frame/reader/truncated",
                   test_reader_truncated_everywhere);
  g_test_add_func ("/proto/frame/reader/sticky-error",
                   test_reader_sticky_error);
  g_test_add_func ("/proto/frame/reader/header-errors",
                   test_reader_header_errors);
  g_test_add_func ("/proto/frame/reader/reserve-commit",
                   test_reader_reserve_commit);
  g_test_add_func ("/proto/frame/reader/reserve-compacts",
                   test_reader_reserve_compacts);
  g_test_add_func ("/proto/frame/reader/zero-length",
                   test_reader_zero_length_payload);
  g_test_add_func ("/proto/frame/reader/empty", test_reader_empty);

  return g_test_run ();
}
