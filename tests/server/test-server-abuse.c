/* test-server-abuse.c: hostile and broken clients, and the server's
 * limits.  After each abuse the server must still serve a well-behaved
 * client. */
#include "config.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sc-test-peer.h"
#include "sc-outbox.h"
#include "sc-test-server.h"
#include "sc-wire.h"

typedef ScTestServer Fixture;

static ScTestPeer *
join (Fixture *fixture, const char *nickname)
{
  ScTestPeer *peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = sc_test_peer_hello (peer, nickname);

  return peer;
}

static void
assert_get_name_works (ScTestPeer *peer)
{
  g_autoptr (ScMessage) reply =
    sc_test_peer_request (peer, sc_message_new (SC_MSG_GET_NAME, 0));

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  /* The name the GREETING announced (the configured one). */
  g_assert_cmpstr (reply->name, ==, sc_test_peer_get_greeting (peer)->name);
}

/* A new client can still connect, say hello and get an answer. */
static void
assert_server_serves (Fixture *fixture)
{
  g_autoptr (ScTestPeer) fresh = join (fixture, "fresh");

  assert_get_name_works (fresh);
}

/* A raw frame: a header with the given fields, then @payload. */
static GByteArray *
raw_frame (guint16 magic,
           guint8 version,
           guint8 type,
           guint32 request_id,
           guint32 declared_length,
           const GByteArray *payload)
{
  GByteArray *frame = g_byte_array_new ();

  sc_wire_append_u16 (frame, magic);
  sc_wire_append_u8 (frame, version);
  sc_wire_append_u8 (frame, type);
  sc_wire_append_u16 (frame, 0);
  sc_wire_append_u16 (frame, 0);
  sc_wire_append_u32 (frame, request_id);
  sc_wire_append_u32 (frame, declared_length);
  if (payload != NULL)
    g_byte_array_append (frame, payload->data, payload->len);
  return frame;
}

static GByteArray *
good_frame (guint8 type, guint32 request_id, const GByteArray *payload)
{
  return raw_frame (SC_PROTOCOL_MAGIC, SC_PROTOCOL_VERSION, type, request_id,
                    payload ? payload->len : 0, payload);
}

static GByteArray *
string_payload (const char *bytes, gsize length)
{
  GByteArray *payload = g_byte_array_new ();

  sc_wire_append_u16 (payload, (guint16) length);
  g_byte_array_append (payload, (const guint8 *) bytes, length);
  return payload;
}

/* ------------------------------------------------------------------ */
/* Bad input: each case is a byte string, sent before or after HELLO. */

typedef GByteArray *(*BadInputFunc) (Fixture *fixture);

typedef struct
{
  const char *path;
  BadInputFunc build;
  gboolean after_hello;
  ScStatus status;
} BadInput;

static GByteArray *
bad_magic (Fixture *fixture)
{
  return raw_frame (0x5344, SC_PROTOCOL_VERSION, SC_MSG_GET_NAME, 1, 0, NULL);
}

static GByteArray *
bad_version (Fixture *fixture)
{
  return raw_frame (SC_PROTOCOL_MAGIC, 2, SC_MSG_GET_NAME, 1, 0, NULL);
}

static GByteArray *
unknown_type (Fixture *fixture)
{
  return raw_frame (SC_PROTOCOL_MAGIC, SC_PROTOCOL_VERSION, 0x09, 1, 0, NULL);
}

static GByteArray *
unknown_high_type (Fixture *fixture)
{
  return raw_frame (SC_PROTOCOL_MAGIC, SC_PROTOCOL_VERSION, 0xff, 1, 0, NULL);
}

/* Only the header is sent: the length alone must condemn it. */
static GByteArray *
too_long_before_hello (Fixture *fixture)
{
  return raw_frame (SC_PROTOCOL_MAGIC, SC_PROTOCOL_VERSION, SC_MSG_HELLO, 1,
                    fixture->config->pre_hello_max_payload + 1, NULL);
}

static GByteArray *
too_long_after_hello (Fixture *fixture)
{
  return raw_frame (SC_PROTOCOL_MAGIC, SC_PROTOCOL_VERSION, SC_MSG_SEND_MESSAGE,
                    1, fixture->config->max_payload + 1, NULL);
}

static GByteArray *
too_long_huge (Fixture *fixture)
{
  return raw_frame (SC_PROTOCOL_MAGIC, SC_PROTOCOL_VERSION, SC_MSG_BROADCAST, 1,
                    G_MAXUINT32, NULL);
}

static GByteArray *
bad_utf8_hello (Fixture *fixture)
{
  g_autoptr (GByteArray) payload = g_byte_array_new ();
  g_autoptr (GByteArray) nickname = string_payload ("\xc3\x28", 2);
  g_autoptr (GByteArray) program = string_payload ("test", 4);

  sc_wire_append_u8 (payload, SC_PROTOCOL_VERSION);
  g_byte_array_append (payload, program->data, program->len);
  g_byte_array_append (payload, nickname->data, nickname->len);
  return good_frame (SC_MSG_HELLO, 1, payload);
}

static GByteArray *
bad_utf8_text (Fixture *fixture)
{
  g_autoptr (GByteArray) payload = string_payload ("ok\xff\xfe", 4);

  return good_frame (SC_MSG_BROADCAST, 7, payload);
}

static GByteArray *
nul_in_nickname (Fixture *fixture)
{
  g_autoptr (GByteArray) payload = string_payload ("ab\0cd", 5);

  return good_frame (SC_MSG_SET_NICKNAME, 7, payload);
}

static GByteArray *
http_request (Fixture *fixture)
{
  static const char http[] = "GET / HTTP/1.1\r\n\r\n";
  GByteArray *bytes = g_byte_array_new ();

  g_byte_array_append (bytes, (const guint8 *) http, strlen (http));
  return bytes;
}

static GByteArray *
request_id_zero (Fixture *fixture)
{
  return good_frame (SC_MSG_GET_NAME, 0, NULL);
}

static GByteArray *
notice_with_request_id (Fixture *fixture)
{
  g_autoptr (GByteArray) payload = g_byte_array_new ();

  sc_wire_append_u64 (payload, 1);
  return good_frame (SC_MSG_MESSAGE_ACK, 5, payload);
}

static GByteArray *
client_sends_indication (Fixture *fixture)
{
  g_autoptr (GByteArray) payload = string_payload ("going away", 10);

  return good_frame (SC_MSG_SERVER_SHUTDOWN, 0, payload);
}

static GByteArray *
client_sends_response (Fixture *fixture)
{
  g_autoptr (GByteArray) payload = g_byte_array_new ();

  sc_wire_append_u16 (payload, SC_STATUS_OK);
  sc_wire_append_u16 (payload, 0);
  sc_wire_append_u64 (payload, 1);
  return good_frame (SC_MSG_PING_REPLY, 3, payload);
}

static GByteArray *
truncated_payload (Fixture *fixture)
{
  g_autoptr (GByteArray) payload = g_byte_array_new ();

  sc_wire_append_u32 (payload, 1); /* a PING token is 8 bytes */
  return good_frame (SC_MSG_PING, 4, payload);
}

static GByteArray *
string_past_end (Fixture *fixture)
{
  g_autoptr (GByteArray) payload = g_byte_array_new ();

  sc_wire_append_u32 (payload, 1);
  sc_wire_append_u16 (payload, 100); /* but only 3 bytes follow */
  g_byte_array_append (payload, (const guint8 *) "abc", 3);
  return good_frame (SC_MSG_SEND_MESSAGE, 4, payload);
}

static const BadInput bad_inputs[] = {
  { "/server/abuse/bad-magic", bad_magic, FALSE, SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/bad-magic/ready", bad_magic, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
  /* docs/PROTOCOL.md 8: a bad header version is a protocol error, sent
   * as status 11 (5 is only for an oversized length). */
  { "/server/abuse/bad-version", bad_version, FALSE, SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/unknown-type", unknown_type, FALSE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/unknown-type/ready", unknown_high_type, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/too-long/before-hello", too_long_before_hello, FALSE,
    SC_STATUS_TOO_LARGE },
  { "/server/abuse/too-long/after-hello", too_long_after_hello, TRUE,
    SC_STATUS_TOO_LARGE },
  { "/server/abuse/too-long/huge", too_long_huge, TRUE, SC_STATUS_TOO_LARGE },
  { "/server/abuse/bad-utf8/hello", bad_utf8_hello, FALSE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/bad-utf8/text", bad_utf8_text, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/nul-in-string", nul_in_nickname, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/http", http_request, FALSE, SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/request-id-zero", request_id_zero, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/notice-with-request-id", notice_with_request_id, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/client-sends-indication", client_sends_indication, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/client-sends-response", client_sends_response, FALSE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/truncated-payload", truncated_payload, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
  { "/server/abuse/string-past-end", string_past_end, TRUE,
    SC_STATUS_PROTOCOL_ERROR },
};

/* The test data is the BadInput, not server options. */
static void
bad_input_setup (Fixture *fixture, gconstpointer data)
{
  sc_test_server_setup (fixture, NULL);
}

static void
test_bad_input (Fixture *fixture, gconstpointer data)
{
  const BadInput *input = data;
  g_autoptr (ScTestPeer) observer = join (fixture, "observer");
  g_autoptr (ScTestPeer) bad = sc_test_peer_connect (fixture->port);
  g_autoptr (GByteArray) bytes = input->build (fixture);
  g_autoptr (ScMessage) error = NULL;
  guint32 bad_id = sc_test_peer_get_id (bad);

  if (input->after_hello)
    sc_message_free (sc_test_peer_hello (bad, "mallory"));
  sc_test_peer_send_raw (bad, bytes->data, bytes->len);

  error = sc_test_peer_expect (bad, SC_MSG_PROTOCOL_ERROR);
  g_assert_cmpuint (error->request_id, ==, 0);
  g_assert_cmpuint (error->status, ==, input->status);
  g_assert_cmpstr (error->reason, !=, "");
  sc_test_peer_expect_closed (bad);

  if (input->after_hello)
    {
      g_autoptr (ScMessage) left =
        sc_test_peer_expect_about (observer, SC_MSG_CLIENT_LEFT, bad_id);

      g_assert_cmpuint (left->status, ==, SC_STATUS_PROTOCOL_ERROR);
    }
  else
    sc_test_peer_expect_none (observer, SC_MSG_CLIENT_LEFT, 50);
  assert_get_name_works (observer);
  assert_server_serves (fixture);
}

/* ------------------------------------------------------------------ */

static const ScTestServerOptions short_hello = { .hello_timeout_s = 1 };

static void
assert_timed_out (ScTestPeer *peer, gint64 start)
{
  g_autoptr (ScMessage) error =
    sc_test_peer_expect (peer, SC_MSG_PROTOCOL_ERROR);
  gint64 elapsed_ms = (g_get_monotonic_time () - start) / 1000;

  g_assert_cmpuint (error->status, ==, SC_STATUS_TIMEOUT);
  sc_test_peer_expect_closed (peer);
  g_assert_cmpint (elapsed_ms, >=, 900);
}

static void
test_partial_frame (Fixture *fixture, gconstpointer data)
{
  gint64 start = g_get_monotonic_time ();
  g_autoptr (ScTestPeer) silent = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) partial = sc_test_peer_connect (fixture->port);
  g_autoptr (GByteArray) frame = good_frame (SC_MSG_GET_NAME, 1, NULL);

  sc_test_peer_send_raw (partial, frame->data, 10);
  assert_timed_out (partial, start);
  assert_timed_out (silent, start);
  assert_server_serves (fixture);
}

static void
test_partial_frame_after_hello (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (GByteArray) frame = good_frame (SC_MSG_GET_NAME, 1, NULL);

  /* The hello deadline does not apply once HELLO is done. */
  sc_test_peer_send_raw (a, frame->data, 10);
  sc_test_peer_expect_none (a, SC_MSG_PROTOCOL_ERROR, 2500);
  sc_test_peer_send_raw (a, frame->data + 10, frame->len - 10);
  g_clear_pointer (&frame, g_byte_array_unref);
  {
    g_autoptr (ScMessage) reply =
      sc_test_peer_expect (a, SC_MSG_GET_NAME_REPLY);

    g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  }
}

static void
append_request (GByteArray *frames, ScMessageType type, guint32 request_id)
{
  g_autoptr (ScMessage) request = sc_message_new (type, request_id);

  request->name = g_strdup ("test");
  request->nickname = g_strdup ("halfway");
  sc_message_append_frame (request, frames);
}

static void
test_half_close (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (fixture->port);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (ScMessage) hello = NULL;
  g_autoptr (ScMessage) name = NULL;
  g_autoptr (ScMessage) early = NULL;

  append_request (frames, SC_MSG_HELLO, 1);
  append_request (frames, SC_MSG_GET_NAME, 2);
  sc_test_peer_send_raw (a, frames->data, frames->len);
  g_assert_cmpint (shutdown (sc_test_peer_get_fd (a), SHUT_WR), ==, 0);
  hello = sc_test_peer_expect (a, SC_MSG_HELLO_REPLY);
  g_assert_cmpuint (hello->status, ==, SC_STATUS_OK);
  name = sc_test_peer_expect (a, SC_MSG_GET_NAME_REPLY);
  g_assert_cmpuint (name->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (name->name, ==, sc_test_peer_get_greeting (a)->name);
  sc_test_peer_expect_closed (a);

  /* The same before HELLO: the NOT_READY answer still arrives. */
  g_byte_array_set_size (frames, 0);
  append_request (frames, SC_MSG_GET_TIME, 9);
  sc_test_peer_send_raw (b, frames->data, frames->len);
  g_assert_cmpint (shutdown (sc_test_peer_get_fd (b), SHUT_WR), ==, 0);
  early = sc_test_peer_expect (b, SC_MSG_GET_TIME_REPLY);
  g_assert_cmpuint (early->status, ==, SC_STATUS_NOT_READY);
  sc_test_peer_expect_closed (b);
  sc_test_server_wait_n_clients (fixture, 0, 5000);
  assert_server_serves (fixture);
}

static void
reset_connection (ScTestPeer *peer)
{
  struct linger linger = { 1, 0 };

  g_assert_cmpint (setsockopt (sc_test_peer_get_fd (peer), SOL_SOCKET,
                               SO_LINGER, &linger, sizeof linger),
                   ==, 0);
}

static void
test_reset (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) observer = join (fixture, "observer");
  g_autoptr (ScTestPeer) rude = join (fixture, "rude");
  g_autoptr (ScTestPeer) unready = sc_test_peer_connect (fixture->port);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (ScMessage) left = NULL;
  guint32 rude_id = sc_test_peer_get_id (rude);

  /* Requests in flight, then a reset instead of a close. */
  for (guint i = 1; i <= 100; i++)
    append_request (frames, SC_MSG_GET_TIME, i);
  sc_test_peer_send_raw (rude, frames->data, frames->len);
  reset_connection (rude);
  reset_connection (unready);
  g_clear_pointer (&rude, sc_test_peer_free);
  g_clear_pointer (&unready, sc_test_peer_free);

  left = sc_test_peer_expect_about (observer, SC_MSG_CLIENT_LEFT, rude_id);
  g_assert_cmpuint (left->status, ==, SC_STATUS_OK);
  sc_test_server_wait_n_clients (fixture, 1, 5000);
  assert_get_name_works (observer);
  assert_server_serves (fixture);
}

static const ScTestServerOptions three_clients = { .max_clients = 3 };

/* Only clients that said hello count against max_clients: a connection
 * that has not takes no slot, and may find none left when it says hello. */
static void
test_max_clients (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "a");
  g_autoptr (ScTestPeer) b = join (fixture, "b");
  g_autoptr (ScTestPeer) c = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) late = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) refused = NULL;
  g_autoptr (ScTestPeer) again = NULL;
  g_autoptr (ScMessage) error = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);

  g_assert_cmpuint (sc_test_peer_get_greeting (a)->max_clients, ==, 3);
  /* c and late were both greeted; c says hello first and takes the last
   * slot, late is refused when it says hello. */
  sc_message_free (sc_test_peer_hello (c, "c"));
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("late");
  error = sc_test_peer_request (late, hello);
  g_assert_cmpuint (error->status, ==, SC_STATUS_SERVER_FULL);
  g_assert_cmpstr (error->reason, !=, "");
  sc_test_peer_expect_closed (late);
  g_clear_pointer (&error, sc_message_free);

  refused = sc_test_peer_connect_raw (fixture->port, 0);
  /* No GREETING: the first and only frame is the refusal. */
  error = sc_test_peer_receive (refused, 5000);
  g_assert_nonnull (error);
  g_assert_cmpuint (error->type, ==, SC_MSG_PROTOCOL_ERROR);
  g_assert_cmpuint (error->status, ==, SC_STATUS_SERVER_FULL);
  g_assert_cmpstr (error->reason, !=, "");
  sc_test_peer_expect_closed (refused);
  g_assert_cmpuint (sc_test_peer_n_buffered (refused), ==, 0);
  g_clear_pointer (&error, sc_message_free);
  error = sc_test_peer_expect_about (a, SC_MSG_CLIENT_JOINED,
                                     sc_test_peer_get_id (c));

  /* Once one leaves, there is room again. */
  g_clear_pointer (&b, sc_test_peer_free);
  sc_test_server_wait_n_clients (fixture, 2, 5000);
  again = sc_test_peer_connect (fixture->port);
  g_clear_pointer (&error, sc_message_free);
  error = sc_test_peer_hello (again, "again");
  assert_get_name_works (again);
  assert_get_name_works (a);
  assert_get_name_works (c);
}

/* ------------------------------------------------------------------ */
/* A recipient that never reads. */

static const ScTestServerOptions small_output_cap = {
  .output_cap = 64 * 1024,
  .write_timeout_s = 1,
};

#define FLOOD_TEXT_SIZE 4096
/* AddressSanitizer keeps freed memory in quarantine (256 MiB by
 * default), so the process grows with every byte freed; the server's own
 * count (max_held) is the bound that matters. */
#ifdef __SANITIZE_ADDRESS__
#define RSS_SLACK (512 * 1024 * 1024)
#else
#define RSS_SLACK (64 * 1024 * 1024)
#endif
#define FLOOD_MAX         2000
#define FLOOD_BATCH       16
#define FLOOD_DEADLINE_MS 20000

typedef struct
{
  GHashTable *accepted; /* message id -> receipt count */
  guint32 slow_id;
  gboolean slow_left;
  guint receipts;
  guint receipts_slow;
  guint refused;  /* SEND_MESSAGE answered RECIPIENT_SLOW */
  gsize max_held; /* the most the server held for clients, seen */
} Flood;

static void
flood_take (Flood *flood, ScMessage *message)
{
  gpointer count;

  switch (message->type)
    {
    case SC_MSG_SEND_MESSAGE_REPLY:
      if (message->status == SC_STATUS_OK)
        g_hash_table_insert (flood->accepted,
                             g_memdup2 (&message->message_id, sizeof (guint64)),
                             GUINT_TO_POINTER (0));
      else if (message->status == SC_STATUS_RECIPIENT_SLOW)
        flood->refused++;
      else
        g_assert_cmpuint (message->status, ==, SC_STATUS_NO_SUCH_CLIENT);
      break;
    case SC_MSG_DELIVERY_RECEIPT:
      g_assert_cmpuint (message->peer_id, ==, flood->slow_id);
      g_assert_true (g_hash_table_lookup_extended (
        flood->accepted, &message->message_id, NULL, &count));
      g_assert_cmpuint (GPOINTER_TO_UINT (count), ==, 0);
      g_hash_table_insert (flood->accepted,
                           g_memdup2 (&message->message_id, sizeof (guint64)),
                           GUINT_TO_POINTER (1));
      if (message->status == SC_STATUS_RECIPIENT_SLOW)
        flood->receipts_slow++;
      else
        g_test_message ("receipt for %" G_GUINT64_FORMAT ": status %u (%s)",
                        message->message_id, message->status, message->reason);
      flood->receipts++;
      break;
    case SC_MSG_CLIENT_LEFT:
      g_assert_cmpuint (message->client_id, ==, flood->slow_id);
      g_assert_cmpuint (message->status, ==, SC_STATUS_RECIPIENT_SLOW);
      flood->slow_left = TRUE;
      break;
    default: break;
    }
}

/* Reads whatever the sender has been sent so far without waiting long. */
static void
flood_drain (ScTestPeer *sender, Flood *flood, guint wait_ms)
{
  for (guint i = 0; i < 100000; i++)
    {
      g_autoptr (ScMessage) message = sc_test_peer_receive (sender, wait_ms);

      if (message == NULL)
        return;
      flood_take (flood, message);
    }
}

static const ScTestServerOptions few_unacked = { .max_unacked = 5 };

static ScMessage *
send_text (ScTestPeer *sender, guint32 recipient, guint n)
{
  ScMessage *send = sc_message_new (SC_MSG_SEND_MESSAGE, 0);

  send->peer_id = recipient;
  send->text = g_strdup_printf ("message %u", n);
  return sc_test_peer_request (sender, send);
}

/* A client that reads but never acknowledges holds at most max_unacked
 * messages: the next SEND_MESSAGE to it is refused with RECIPIENT_SLOW
 * (docs/PROTOCOL.md 5.4), it is not dropped, one acknowledgement makes
 * room again, and when it leaves every message it held gets exactly one
 * RECIPIENT_LEFT receipt. */
static void
test_unacked_limit (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "sender");
  g_autoptr (ScTestPeer) mute = join (fixture, "mute");
  g_autoptr (ScMessage) refused = NULL;
  g_autoptr (ScMessage) first = NULL;
  g_autoptr (ScMessage) receipt = NULL;
  g_autoptr (ScMessage) again = NULL;
  g_autoptr (ScMessage) left = NULL;
  ScMessage *ack = sc_message_new (SC_MSG_MESSAGE_ACK, 0);
  guint32 mute_id = sc_test_peer_get_id (mute);

  sc_test_peer_set_auto_ack (mute, FALSE);
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (ScMessage) reply = send_text (a, mute_id, i);

      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
    }
  refused = send_text (a, mute_id, 5);
  g_assert_cmpuint (refused->status, ==, SC_STATUS_RECIPIENT_SLOW);
  g_assert_cmpstr (refused->reason, !=, "");
  sc_test_peer_expect_none (a, SC_MSG_DELIVERY_RECEIPT, 100);
  sc_test_peer_expect_none (a, SC_MSG_CLIENT_LEFT, 0);
  assert_get_name_works (mute);

  first = sc_test_peer_expect (mute, SC_MSG_MESSAGE);
  ack->message_id = first->message_id;
  sc_test_peer_send (mute, ack);
  receipt = sc_test_peer_expect (a, SC_MSG_DELIVERY_RECEIPT);
  g_assert_cmpuint (receipt->message_id, ==, first->message_id);
  g_assert_cmpuint (receipt->status, ==, SC_STATUS_OK);
  again = send_text (a, mute_id, 6);
  g_assert_cmpuint (again->status, ==, SC_STATUS_OK);

  g_clear_pointer (&mute, sc_test_peer_free);
  for (guint i = 0; i < 5; i++)
    {
      g_autoptr (ScMessage) lost =
        sc_test_peer_expect (a, SC_MSG_DELIVERY_RECEIPT);

      g_assert_cmpuint (lost->peer_id, ==, mute_id);
      g_assert_cmpuint (lost->status, ==, SC_STATUS_RECIPIENT_LEFT);
      g_assert_cmpuint (lost->message_id, !=, first->message_id);
    }
  left = sc_test_peer_expect (a, SC_MSG_CLIENT_LEFT);
  g_assert_cmpuint (left->client_id, ==, mute_id);
  sc_test_peer_expect_none (a, SC_MSG_DELIVERY_RECEIPT, 100);
}

static void
test_slow_recipient (Fixture *fixture, gconstpointer data)
{
  gsize rss_before = sc_test_vm_rss ();
  g_autoptr (ScTestPeer) a = join (fixture, "flooder");
  g_autoptr (ScTestPeer) slow = sc_test_peer_connect_raw (fixture->port, 4096);
  g_autoptr (ScTestPeer) third = NULL;
  g_autoptr (ScMessage) greeting = sc_test_peer_expect (slow, SC_MSG_GREETING);
  g_autoptr (ScMessage) hello = NULL;
  g_autofree char *text = sc_test_text (FLOOD_TEXT_SIZE, 'f');
  gint64 deadline = g_get_monotonic_time () + FLOOD_DEADLINE_MS * 1000;
  Flood flood = { 0 };
  guint sent = 0;
  gsize rss_after;
  ScMessage *hello_request = sc_message_new (SC_MSG_HELLO, 0);

  flood.accepted =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);
  flood.slow_id = greeting->client_id;
  hello_request->name = g_strdup ("slow");
  hello_request->nickname = g_strdup ("slow");
  hello = sc_test_peer_request (slow, hello_request);
  g_assert_cmpuint (hello->status, ==, SC_STATUS_OK);
  g_clear_pointer (&hello, sc_message_free);
  hello = sc_test_peer_expect (a, SC_MSG_CLIENT_JOINED);

  /* From here on the slow client reads nothing at all.  Once half its
   * queue is in use, messages to it are refused; it is dropped when its
   * output has waited unread for the write timeout. */
  while (!flood.slow_left && g_get_monotonic_time () < deadline)
    {
      if (sent < FLOOD_MAX)
        {
          sc_test_peer_send_batch (a, flood.slow_id, text, FLOOD_BATCH);
          sent += FLOOD_BATCH;
        }
      flood_drain (a, &flood, sent < FLOOD_MAX ? 1 : 50);
      flood.max_held =
        MAX (flood.max_held, sc_server_get_memory_held (fixture->server));
    }
  g_assert_true (flood.slow_left);
  g_assert_cmpuint (flood.refused, >, 0);
  /* What the server held stayed within the output cap, plus the
   * unacknowledged entries at their documented cost, plus the read
   * buffers and queues of the two clients (64 KiB together). */
  g_test_message ("most held for clients: %" G_GSIZE_FORMAT " bytes",
                  flood.max_held);
  g_assert_cmpuint (flood.max_held, <=,
                    64 * 1024 + 64 * 1024 +
                      g_hash_table_size (flood.accepted) *
                        SC_OUTBOX_UNACKED_COST);

  /* Every accepted message gets exactly one receipt. */
  while (flood.receipts < g_hash_table_size (flood.accepted) &&
         g_get_monotonic_time () < deadline)
    flood_drain (a, &flood, 100);
  flood_drain (a, &flood, 200);
  g_test_message ("sent %u, accepted %u, refused %u, receipts %u "
                  "(%u RECIPIENT_SLOW)",
                  sent, g_hash_table_size (flood.accepted), flood.refused,
                  flood.receipts, flood.receipts_slow);
  g_assert_cmpuint (g_hash_table_size (flood.accepted), >, 0);
  g_assert_cmpuint (flood.receipts, ==, g_hash_table_size (flood.accepted));
  /* Never read, never acknowledged: every receipt says the recipient was
   * dropped as too slow (docs/PROTOCOL.md 5.7 and 5.9), including those
   * for messages accepted while it was being dropped. */
  g_assert_cmpuint (flood.receipts_slow, ==, flood.receipts);

  third = join (fixture, "third");
  assert_get_name_works (third);
  assert_get_name_works (a);
  rss_after = sc_test_vm_rss ();
  g_test_message ("VmRSS %" G_GSIZE_FORMAT " KiB -> %" G_GSIZE_FORMAT " KiB",
                  rss_before / 1024, rss_after / 1024);
  g_assert_cmpuint (rss_after, <, rss_before + RSS_SLACK);
  g_hash_table_unref (flood.accepted);
}

/* ------------------------------------------------------------------ */

#define N_PIPELINED 5000

static void
test_pipelined_flood (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "pipeliner");
  g_autoptr (ScTestPeer) b = join (fixture, "bystander");
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  g_autoptr (ScMessage) pong = NULL;
  ScMessage *ping;

  for (guint i = 1; i <= N_PIPELINED; i++)
    {
      g_autoptr (ScMessage) request = sc_message_new (SC_MSG_PING, i);

      request->token = i;
      sc_message_append_frame (request, frames);
    }
  sc_test_peer_send_raw (a, frames->data, frames->len);

  /* Another client is not starved while the server works through them. */
  ping = sc_message_new (SC_MSG_PING, 0);
  ping->token = 42;
  pong = sc_test_peer_request (b, ping);
  g_assert_cmpuint (pong->token, ==, 42);

  for (guint i = 1; i <= N_PIPELINED; i++)
    {
      g_autoptr (ScMessage) reply = sc_test_peer_expect (a, SC_MSG_PING_REPLY);

      /* In order: the first PING_REPLY to arrive answers request i. */
      g_assert_cmpuint (reply->request_id, ==, i);
      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
      g_assert_cmpuint (reply->token, ==, i);
    }
  sc_test_peer_expect_none (a, SC_MSG_PING_REPLY, 50);
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);

  for (gsize i = 0; i < G_N_ELEMENTS (bad_inputs); i++)
    g_test_add (bad_inputs[i].path, Fixture, &bad_inputs[i], bad_input_setup,
                test_bad_input, sc_test_server_teardown);

#define ADD(path, options, func)                                  \
  g_test_add (path, Fixture, options, sc_test_server_setup, func, \
              sc_test_server_teardown)

  ADD ("/server/abuse/partial-frame", &short_hello, test_partial_frame);
  ADD ("/server/abuse/partial-frame/after-hello", &short_hello,
       test_partial_frame_after_hello);
  ADD ("/server/abuse/half-close", NULL, test_half_close);
  ADD ("/server/abuse/reset", NULL, test_reset);
  ADD ("/server/limits/max-clients", &three_clients, test_max_clients);
  ADD ("/server/limits/slow-recipient", &small_output_cap, test_slow_recipient);
  ADD ("/server/limits/unacked", &few_unacked, test_unacked_limit);
  ADD ("/server/limits/pipelined", NULL, test_pipelined_flood);
#undef ADD

  return g_test_run ();
}
