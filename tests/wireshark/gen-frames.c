/* gen-frames.c: writes a text2pcap hex dump of one SockChat session that
 * uses every message type, for tests/wireshark/test-dissector.sh.
 *
 * Every frame comes from the reference encoder and is decoded again before
 * it is written, so the capture holds what real peers send.  The values
 * follow the examples of docs/PROTOCOL.md, and the packet numbers below are
 * the frame numbers the test expects; keep the two in step.
 *
 * Each packet starts with "I" (client to server) or "O" (server to
 * client), for `text2pcap -D -T 40000,5330`, which then keeps one TCP
 * sequence per direction.  Lines starting with '#' are comments to
 * text2pcap.
 *
 * Usage: gen-frames > session.txt
 */
#include "config.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "sc-message.h"

#define CLIENT_TO_SERVER 'I'
#define SERVER_TO_CLIENT 'O'

/* A message id as protocol 1.1 makes them (section 5.4): the sender's
 * client id in the high 32 bits, its request id in the low 32. */
#define MESSAGE_ID(client, request) \
  (((guint64) (client) << 32) | (guint32) (request))

typedef struct
{
  guint n_packets;
} Capture;

static void
emit_packet (Capture *capture,
             char direction,
             const guint8 *data,
             gsize length,
             const char *description)
{
  capture->n_packets++;
  printf ("# packet %u: %s\n%c\n", capture->n_packets, description, direction);
  for (gsize i = 0; i < length; i++)
    {
      if (i % 16 == 0)
        printf ("%06" G_GSIZE_MODIFIER "x", i);
      printf (" %02x", data[i]);
      if (i % 16 == 15 || i + 1 == length)
        printf ("\n");
    }
}

/* Encodes @message (and frees it), checks that the reference decoder reads
 * it back, and appends the frame to @segment. */
static void
append_frame (GByteArray *segment, ScMessage *message)
{
  g_autoptr (ScMessage) owned = message;
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) frame = sc_message_encode (message);
  gsize length;
  const guint8 *data = g_bytes_get_data (frame, &length);
  ScFrameHeader header;

  if (!sc_frame_header_parse (data, length, SC_MAX_PAYLOAD_DEFAULT, &header,
                              &error))
    g_error ("%s: %s", sc_message_type_name (message->type), error->message);
  decoded = sc_message_decode (&header, data + SC_FRAME_HEADER_SIZE, &error);
  if (decoded == NULL)
    g_error ("%s: %s", sc_message_type_name (message->type), error->message);
  g_byte_array_append (segment, data, length);
}

/* One TCP segment holding exactly the frames in @segment. */
static void
emit_segment (Capture *capture,
              char direction,
              GByteArray *segment,
              const char *description)
{
  emit_packet (capture, direction, segment->data, segment->len, description);
  g_byte_array_set_size (segment, 0);
}

/* One frame in its own segment. */
static void
emit_message (Capture *capture, char direction, ScMessage *message)
{
  g_autoptr (GByteArray) segment = g_byte_array_new ();
  const char *name = sc_message_type_name (message->type);

  append_frame (segment, message);
  emit_segment (capture, direction, segment, name);
}

static void
set_client (ScClientInfo *info,
            guint32 id,
            guint16 port,
            gint64 since_ms,
            const char *nickname,
            const char *address)
{
  info->id = id;
  info->port = port;
  info->connected_since_ms = since_ms;
  g_free (info->nickname);
  g_free (info->address);
  info->nickname = g_strdup (nickname);
  info->address = g_strdup (address);
}

static ScMessage *
reply_new (ScMessageType type,
           guint32 request_id,
           ScStatus status,
           const char *reason)
{
  ScMessage *message = sc_message_new (type, request_id);

  message->status = status;
  message->reason = g_strdup (reason);
  return message;
}

static ScMessage *
hello_new (guint32 request_id,
           guint16 flags,
           const char *program,
           const char *nickname,
           const char *password)
{
  ScMessage *message = sc_message_new (SC_MSG_HELLO, request_id);

  message->flags = flags;
  message->name = g_strdup (program);
  message->nickname = g_strdup (nickname);
  message->password = g_strdup (password);
  return message;
}

/* Writes @header and @payload as one segment without the encoder, for
 * frames the encoder cannot produce; checks that the reference decoder
 * refuses the frame when @must_fail, or accepts it otherwise. */
static void
emit_raw (Capture *capture,
          char direction,
          const ScFrameHeader *header,
          const guint8 *payload,
          gboolean must_fail,
          const char *description)
{
  g_autoptr (GByteArray) segment = g_byte_array_new ();
  g_autoptr (ScMessage) decoded = NULL;
  g_autoptr (GError) error = NULL;
  guint8 bytes[SC_FRAME_HEADER_SIZE];
  ScFrameHeader parsed;

  sc_frame_header_write (header, bytes);
  g_byte_array_append (segment, bytes, sizeof bytes);
  g_byte_array_append (segment, payload, header->payload_length);

  if (sc_frame_header_parse (segment->data, segment->len,
                             SC_MAX_PAYLOAD_DEFAULT, &parsed, &error))
    decoded =
      sc_message_decode (&parsed, segment->data + SC_FRAME_HEADER_SIZE, &error);
  if ((decoded == NULL) != must_fail)
    g_error ("%s: the reference decoder %s it", description,
             must_fail ? "accepted" : "refused");

  emit_segment (capture, direction, segment, description);
}

int
main (void)
{
  Capture capture = { 0 };
  g_autoptr (GByteArray) segment = g_byte_array_new ();
  g_autoptr (GByteArray) scratch = g_byte_array_new ();
  ScMessage *m;
  ScClientInfo *info;
  gsize split;

  setlocale (LC_ALL, "");

  printf ("# SockChat session for text2pcap -D -T 40000,5330\n");

  /* 1 */
  m = sc_message_new (SC_MSG_GREETING, 0);
  m->client_id = 1;
  m->max_payload = SC_MAX_PAYLOAD_DEFAULT;
  m->max_clients = 64;
  m->heartbeat_s = 60;
  m->name = g_strdup ("chathost");
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 2, 3: a HELLO without password, asking for no presence notices, and
   * its OK reply. */
  emit_message (
    &capture, CLIENT_TO_SERVER,
    hello_new (1, SC_FLAG_NO_PRESENCE, "sockchat-cli", "alice", NULL));
  m = reply_new (SC_MSG_HELLO_REPLY, 1, SC_STATUS_OK, "");
  m->client_id = 1;
  m->nickname = g_strdup ("alice");
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 4, 5: a HELLO with a password, asking for receipt batches, and a
   * failed reply that must stop after the reason. */
  emit_message (
    &capture, CLIENT_TO_SERVER,
    hello_new (9, SC_FLAG_RECEIPT_BATCHES, "sockchat", "", "s3cret"));
  emit_message (&capture, SERVER_TO_CLIENT,
                reply_new (SC_MSG_HELLO_REPLY, 9, SC_STATUS_VERSION_MISMATCH,
                           "server speaks version 1"));

  /* 6: two requests in one segment. */
  append_frame (segment, sc_message_new (SC_MSG_GET_TIME, 2));
  append_frame (segment, sc_message_new (SC_MSG_GET_NAME, 3));
  emit_segment (&capture, CLIENT_TO_SERVER, segment, "GET_TIME + GET_NAME");

  /* 7: their two replies in one segment. */
  m = reply_new (SC_MSG_GET_TIME_REPLY, 2, SC_STATUS_OK, "");
  m->time_ms = G_GINT64_CONSTANT (1795764379123);
  m->iso_time = g_strdup ("2026-11-27T15:26:19.123+08:00");
  m->timezone = g_strdup ("CST");
  append_frame (segment, m);
  m = reply_new (SC_MSG_GET_NAME_REPLY, 3, SC_STATUS_OK, "");
  m->name = g_strdup ("chathost");
  append_frame (segment, m);
  emit_segment (&capture, SERVER_TO_CLIENT, segment,
                "GET_TIME_REPLY + GET_NAME_REPLY");

  /* 8 */
  m = sc_message_new (SC_MSG_LIST_CLIENTS, 4);
  m->peer_id = 0;
  emit_message (&capture, CLIENT_TO_SERVER, m);

  /* 9, 10: the list reply split inside the payload. */
  m = reply_new (SC_MSG_LIST_CLIENTS_REPLY, 4, SC_STATUS_OK, "");
  m->count = 2;
  m->more = 0;
  m->clients =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_client_info_free);
  info = sc_client_info_new ();
  set_client (info, 1, 50312, G_GINT64_CONSTANT (1795764000000), "alice",
              "192.168.1.10");
  g_ptr_array_add (m->clients, info);
  info = sc_client_info_new ();
  set_client (info, 2, 50418, G_GINT64_CONSTANT (1795764090500), "bob",
              "2001:db8::2a");
  g_ptr_array_add (m->clients, info);
  append_frame (scratch, m);
  split = 40;
  emit_packet (&capture, SERVER_TO_CLIENT, scratch->data, split,
               "LIST_CLIENTS_REPLY, first 40 bytes");
  emit_packet (&capture, SERVER_TO_CLIENT, scratch->data + split,
               scratch->len - split, "LIST_CLIENTS_REPLY, the rest");
  g_byte_array_set_size (scratch, 0);

  /* 11, 12 */
  m = sc_message_new (SC_MSG_SEND_MESSAGE, 5);
  m->peer_id = 2;
  m->text = g_strdup ("Hello, Bob!");
  emit_message (&capture, CLIENT_TO_SERVER, m);
  m = reply_new (SC_MSG_SEND_MESSAGE_REPLY, 5, SC_STATUS_OK, "");
  m->message_id = 1;
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 13, 14: an incoming message split inside its header. */
  m = sc_message_new (SC_MSG_MESSAGE, 0);
  m->message_id = 3;
  m->time_ms = G_GINT64_CONSTANT (1795764380500);
  m->broadcast = 0;
  set_client (&m->sender, 2, 50418, G_GINT64_CONSTANT (1795764090500), "bob",
              "2001:db8::2a");
  m->text = g_strdup ("Hi Alice");
  append_frame (scratch, m);
  split = 10;
  emit_packet (&capture, SERVER_TO_CLIENT, scratch->data, split,
               "MESSAGE, first 10 bytes");
  emit_packet (&capture, SERVER_TO_CLIENT, scratch->data + split,
               scratch->len - split, "MESSAGE, the rest");
  g_byte_array_set_size (scratch, 0);

  /* 15 */
  m = sc_message_new (SC_MSG_MESSAGE_ACK, 0);
  m->message_id = 3;
  emit_message (&capture, CLIENT_TO_SERVER, m);

  /* 16, 17 */
  m = sc_message_new (SC_MSG_BROADCAST, 6);
  m->text = g_strdup ("Hi all");
  emit_message (&capture, CLIENT_TO_SERVER, m);
  m = reply_new (SC_MSG_BROADCAST_REPLY, 6, SC_STATUS_OK, "");
  m->message_id = 2;
  m->count = 1;
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 18, 19: a nickname outside ASCII. */
  m = sc_message_new (SC_MSG_SET_NICKNAME, 7);
  m->nickname = g_strdup ("Zo\xc3\xab");
  emit_message (&capture, CLIENT_TO_SERVER, m);
  m = reply_new (SC_MSG_SET_NICKNAME_REPLY, 7, SC_STATUS_OK, "");
  m->nickname = g_strdup ("Zo\xc3\xab");
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 20, 21 */
  m = sc_message_new (SC_MSG_PING, 8);
  m->token = 1;
  emit_message (&capture, CLIENT_TO_SERVER, m);
  m = reply_new (SC_MSG_PING_REPLY, 8, SC_STATUS_OK, "");
  m->token = 1;
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 22, 23: three frames and part of a fourth, then the rest of it and
   * one more frame. */
  m = sc_message_new (SC_MSG_DELIVERY_RECEIPT, 0);
  m->message_id = 1;
  m->peer_id = 2;
  m->status = SC_STATUS_OK;
  m->reason = g_strdup ("");
  append_frame (scratch, m);
  m = sc_message_new (SC_MSG_CLIENT_JOINED, 0);
  set_client (&m->sender, 3, 50500, G_GINT64_CONSTANT (1795764200000), "carol",
              "10.1.2.3");
  append_frame (scratch, m);
  m = sc_message_new (SC_MSG_CLIENT_RENAMED, 0);
  m->client_id = 2;
  m->nickname = g_strdup ("Bobby");
  append_frame (scratch, m);
  split = scratch->len + 5;
  m = sc_message_new (SC_MSG_SERVER_PING, 0);
  m->token = 7;
  append_frame (scratch, m);
  m = sc_message_new (SC_MSG_CLIENT_LEFT, 0);
  m->client_id = 3;
  m->status = SC_STATUS_TIMEOUT;
  m->reason = g_strdup ("timed out");
  append_frame (scratch, m);
  emit_packet (&capture, SERVER_TO_CLIENT, scratch->data, split,
               "DELIVERY_RECEIPT + CLIENT_JOINED + CLIENT_RENAMED + "
               "5 bytes of SERVER_PING");
  emit_packet (&capture, SERVER_TO_CLIENT, scratch->data + split,
               scratch->len - split, "rest of SERVER_PING + CLIENT_LEFT");
  g_byte_array_set_size (scratch, 0);

  /* 24 */
  m = sc_message_new (SC_MSG_PONG, 0);
  m->token = 7;
  emit_message (&capture, CLIENT_TO_SERVER, m);

  /* 25, 26 */
  m = sc_message_new (SC_MSG_SERVER_SHUTDOWN, 0);
  m->reason = g_strdup ("server shutting down");
  emit_message (&capture, SERVER_TO_CLIENT, m);
  m = sc_message_new (SC_MSG_PROTOCOL_ERROR, 0);
  m->status = SC_STATUS_PROTOCOL_ERROR;
  m->reason = g_strdup ("bad magic");
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 27: the DELIVERY_RECEIPTS example of docs/PROTOCOL.md section 4.9b:
   * client 1's requests 5 and 6. */
  {
    static const guint64 ids[] = { MESSAGE_ID (1, 5), MESSAGE_ID (1, 6) };

    m = sc_message_new (SC_MSG_DELIVERY_RECEIPTS, 0);
    m->peer_id = 2;
    m->status = SC_STATUS_RECIPIENT_LEFT;
    m->reason = g_strdup ("recipient left");
    m->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
    g_array_append_vals (m->message_ids, ids, G_N_ELEMENTS (ids));
    emit_message (&capture, SERVER_TO_CLIENT, m);
  }

  /* 28, 29: a broadcast refused by the fair-use budget. */
  m = sc_message_new (SC_MSG_BROADCAST, 10);
  m->text = g_strdup ("Hi again");
  emit_message (&capture, CLIENT_TO_SERVER, m);
  emit_message (&capture, SERVER_TO_CLIENT,
                reply_new (SC_MSG_BROADCAST_REPLY, 10, SC_STATUS_RATE_LIMITED,
                           "try again in 1 s"));

  /* 30: receipts for five messages the server had no memory for, one id
   * past 2^63, then an empty batch, in one segment. */
  {
    static const guint64 ids[] = { 5, 6,
                                   G_GUINT64_CONSTANT (0x8000000000000007), 9,
                                   10 };

    m = sc_message_new (SC_MSG_DELIVERY_RECEIPTS, 0);
    m->peer_id = 3;
    m->status = SC_STATUS_SERVER_BUSY;
    m->reason = g_strdup ("server busy");
    m->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
    g_array_append_vals (m->message_ids, ids, G_N_ELEMENTS (ids));
    append_frame (segment, m);
    m = sc_message_new (SC_MSG_DELIVERY_RECEIPTS, 0);
    m->peer_id = 4;
    m->status = SC_STATUS_OK;
    m->reason = g_strdup ("");
    m->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
    append_frame (segment, m);
    emit_segment (&capture, SERVER_TO_CLIENT, segment,
                  "DELIVERY_RECEIPTS of 5 ids + DELIVERY_RECEIPTS of none");
  }

  /* 31: a GREETING from a server that speaks protocol 1.1. */
  m = sc_message_new (SC_MSG_GREETING, 0);
  m->flags = SC_FLAG_PROTOCOL_1_1;
  m->client_id = 1;
  m->max_payload = SC_MAX_PAYLOAD_DEFAULT;
  m->max_clients = 64;
  m->heartbeat_s = 60;
  m->name = g_strdup ("chathost");
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 32, 33: SEND_MESSAGEs with QUIET, then with QUIET and NO_RECEIPT;
   * accepted, so neither has a reply. */
  m = sc_message_new (SC_MSG_SEND_MESSAGE, 11);
  m->flags = SC_FLAG_QUIET;
  m->peer_id = 2;
  m->text = g_strdup ("quiet hello");
  emit_message (&capture, CLIENT_TO_SERVER, m);
  m = sc_message_new (SC_MSG_SEND_MESSAGE, 12);
  m->flags = SC_FLAG_QUIET | SC_FLAG_NO_RECEIPT;
  m->peer_id = 2;
  m->text = g_strdup ("fire and forget");
  emit_message (&capture, CLIENT_TO_SERVER, m);

  /* 34: a MESSAGE client 2 sent with NO_RECEIPT (its request 4): not to
   * be acknowledged. */
  m = sc_message_new (SC_MSG_MESSAGE, 0);
  m->flags = SC_FLAG_NO_ACK;
  m->message_id = MESSAGE_ID (2, 4);
  m->time_ms = G_GINT64_CONSTANT (1795764381000);
  m->broadcast = 0;
  set_client (&m->sender, 2, 50418, G_GINT64_CONSTANT (1795764090500), "bob",
              "2001:db8::2a");
  m->text = g_strdup ("no need to ack");
  emit_message (&capture, SERVER_TO_CLIENT, m);

  /* 35: one MESSAGE_ACKS for a burst: client 2's requests 5 to 7 and
   * client 3's requests 1 and 2. */
  {
    static const guint64 ids[] = { MESSAGE_ID (2, 5), MESSAGE_ID (2, 6),
                                   MESSAGE_ID (2, 7), MESSAGE_ID (3, 1),
                                   MESSAGE_ID (3, 2) };

    m = sc_message_new (SC_MSG_MESSAGE_ACKS, 0);
    m->message_ids = g_array_new (FALSE, FALSE, sizeof (guint64));
    g_array_append_vals (m->message_ids, ids, G_N_ELEMENTS (ids));
    emit_message (&capture, CLIENT_TO_SERVER, m);
  }

  /* 36: a BROADCAST with NO_RECEIPT. */
  m = sc_message_new (SC_MSG_BROADCAST, 13);
  m->flags = SC_FLAG_NO_RECEIPT;
  m->text = g_strdup ("Hi, no receipts");
  emit_message (&capture, CLIENT_TO_SERVER, m);

  /* 37, 38: a registered nickname asked for with its password, and a
   * refusal with a status of protocol 1.2. */
  m = sc_message_new (SC_MSG_SET_NICKNAME, 14);
  m->nickname = g_strdup ("alice");
  m->password = g_strdup ("wonderland");
  emit_message (&capture, CLIENT_TO_SERVER, m);
  emit_message (&capture, SERVER_TO_CLIENT,
                reply_new (SC_MSG_SET_NICKNAME_REPLY, 14,
                           SC_STATUS_NICKNAME_IN_USE, "nickname in use"));

  /* 39-44: frames the dissector must flag, not choke on.  A SEND_MESSAGE
   * whose text count runs past the payload: */
  {
    static const guint8 payload[] = { 0, 0, 0, 2, 0, 100, 'H', 'i' };
    ScFrameHeader header = { SC_PROTOCOL_VERSION, SC_MSG_SEND_MESSAGE, 0, 10,
                             sizeof payload };

    emit_raw (&capture, CLIENT_TO_SERVER, &header, payload, TRUE,
              "SEND_MESSAGE with a string count past the end");
  }
  /* A type no version defines: */
  {
    static const guint8 payload[] = { 0xde, 0xad };
    ScFrameHeader header = { SC_PROTOCOL_VERSION, 0x09, 0, 11, sizeof payload };

    emit_raw (&capture, CLIENT_TO_SERVER, &header, payload, TRUE,
              "unknown type 0x09");
  }
  /* A PING with bytes a later version might append (section 6): */
  {
    static const guint8 payload[] = {
      0, 0, 0, 0, 0, 0, 0, 5, 0xaa, 0xbb, 0xcc
    };
    ScFrameHeader header = { SC_PROTOCOL_VERSION, SC_MSG_PING, 0, 12,
                             sizeof payload };

    emit_raw (&capture, CLIENT_TO_SERVER, &header, payload, FALSE,
              "PING with 3 trailing bytes");
  }
  /* A DELIVERY_RECEIPTS whose id count claims 1,000 ids where two
   * follow: */
  {
    /* clang-format off */
    static const guint8 payload[] = {
      0, 0, 0, 2,                   /* recipient_id */
      0, SC_STATUS_RECIPIENT_LEFT,  /* status */
      0, 0,                         /* empty reason */
      0, 0, 0x03, 0xe8,             /* count 1000 */
      0, 0, 0, 0, 0, 0, 0, 1,
      0, 0, 0, 0, 0, 0, 0, 2,
    };
    /* clang-format on */
    ScFrameHeader header = { SC_PROTOCOL_VERSION, SC_MSG_DELIVERY_RECEIPTS, 0,
                             0, sizeof payload };

    emit_raw (&capture, SERVER_TO_CLIENT, &header, payload, TRUE,
              "DELIVERY_RECEIPTS with an id count past the end");
  }
  /* A MESSAGE_ACKS whose id count claims 3 ids where two follow: */
  {
    /* clang-format off */
    static const guint8 payload[] = {
      0, 0, 0, 3,                   /* count 3 */
      0, 0, 0, 2, 0, 0, 0, 8,
      0, 0, 0, 2, 0, 0, 0, 9,
    };
    /* clang-format on */
    ScFrameHeader header = { SC_PROTOCOL_VERSION, SC_MSG_MESSAGE_ACKS, 0, 0,
                             sizeof payload };

    emit_raw (&capture, CLIENT_TO_SERVER, &header, payload, TRUE,
              "MESSAGE_ACKS with an id count past the end");
  }
  /* Something that is not SockChat at all; nothing after it on this
   * direction of the stream can be framed. */
  {
    static const char garbage[] = "GET / HTTP/1.1\r\n\r\n";

    emit_packet (&capture, CLIENT_TO_SERVER, (const guint8 *) garbage,
                 strlen (garbage), "not SockChat (bad magic)");
  }

  return 0;
}
