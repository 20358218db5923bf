/* test-server.c: what a well-behaved client sees, checked field by field
 * against docs/PROTOCOL.md.  Every test gets a fresh in-process server on
 * 127.0.0.1 with an OS-chosen port. */
#include "config.h"

#include <string.h>

#include "sc-test-peer.h"
#include "sc-wire.h"
#include "sc-test-server.h"

typedef ScTestServer Fixture;

#define TEST_NOW_MS() (g_get_real_time () / 1000)

/* A connected peer that has said hello as @nickname. */
static ScTestPeer *
join (Fixture *fixture, const char *nickname)
{
  ScTestPeer *peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = sc_test_peer_hello (peer, nickname);

  g_assert_cmpstr (reply->nickname, ==, nickname);
  return peer;
}

static ScMessage *
simple_request (ScTestPeer *peer, ScMessageType type)
{
  return sc_test_peer_request (peer, sc_message_new (type, 0));
}

static void
assert_get_name_works (ScTestPeer *peer)
{
  g_autoptr (ScMessage) reply = simple_request (peer, SC_MSG_GET_NAME);

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  /* The name the GREETING announced (the configured one). */
  g_assert_cmpstr (reply->name, ==, sc_test_peer_get_greeting (peer)->name);
}

static ScMessage *
send_text (ScTestPeer *peer, guint32 recipient, const char *text)
{
  ScMessage *request = sc_message_new (SC_MSG_SEND_MESSAGE, 0);

  request->peer_id = recipient;
  request->text = g_strdup (text);
  return sc_test_peer_request (peer, request);
}

static void
assert_info_is_peer (const ScClientInfo *info,
                     ScTestPeer *peer,
                     const char *nickname,
                     gint64 not_before_ms)
{
  g_assert_cmpuint (info->id, ==, sc_test_peer_get_id (peer));
  g_assert_cmpstr (info->nickname, ==, nickname);
  g_assert_cmpstr (info->address, ==, "127.0.0.1");
  g_assert_cmpuint (info->port, ==, sc_test_peer_get_local_port (peer));
  /* Whole milliseconds on both sides; allow a second of clock skew. */
  g_assert_cmpint (info->connected_since_ms, >=, not_before_ms - 1000);
  g_assert_cmpint (info->connected_since_ms, <=, TEST_NOW_MS () + 1000);
}

/* ------------------------------------------------------------------ */

static void
test_greeting (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  const ScMessage *greeting = sc_test_peer_get_greeting (a);

  g_assert_cmpuint (greeting->request_id, ==, 0);
  g_assert_cmpuint (greeting->client_id, ==, 1);
  g_assert_cmpuint (greeting->version, ==, SC_PROTOCOL_VERSION);
  g_assert_cmpuint (greeting->max_payload, ==, fixture->config->max_payload);
  g_assert_cmpuint (greeting->max_payload, ==, SC_MAX_PAYLOAD_DEFAULT);
  g_assert_cmpuint (greeting->max_clients, ==, fixture->config->max_clients);
  g_assert_cmpuint (greeting->heartbeat_s, ==, 60);
  g_assert_cmpstr (greeting->name, ==, "sc-test-server");
  /* The GREETING comes before the client says anything, and alone. */
  sc_test_peer_expect_none (a, SC_MSG_GREETING, 100);
  g_assert_cmpuint (sc_test_peer_n_buffered (a), ==, 0);
}

static void
test_greeting_ids (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) c = NULL;
  g_autoptr (ScTestPeer) d = NULL;

  g_assert_cmpuint (sc_test_peer_get_id (a), ==, 1);
  g_assert_cmpuint (sc_test_peer_get_id (b), ==, 2);
  /* Ids are never reused, not even the highest one after it leaves. */
  g_clear_pointer (&b, sc_test_peer_free);
  sc_test_server_wait_n_clients (fixture, 1, 5000);
  c = sc_test_peer_connect (fixture->port);
  g_assert_cmpuint (sc_test_peer_get_id (c), ==, 3);
  g_clear_pointer (&a, sc_test_peer_free);
  sc_test_server_wait_n_clients (fixture, 1, 5000);
  d = sc_test_peer_connect (fixture->port);
  g_assert_cmpuint (sc_test_peer_get_id (d), ==, 4);
}

static void
test_hello (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = sc_test_peer_hello (a, "alice");
  g_autoptr (ScMessage) again = NULL;
  ScMessage *hello;

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (reply->reason, ==, "");
  g_assert_cmpuint (reply->client_id, ==, sc_test_peer_get_id (a));
  g_assert_cmpstr (reply->nickname, ==, "alice");

  hello = sc_message_new (SC_MSG_HELLO, 0);
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("again");
  again = sc_test_peer_request (a, hello);
  g_assert_cmpuint (again->status, ==, SC_STATUS_BAD_REQUEST);
  assert_get_name_works (a);
}

static void
test_hello_no_nickname (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = sc_test_peer_hello (a, "");

  g_assert_cmpstr (reply->nickname, ==, "");
  assert_get_name_works (a);
}

static void
test_hello_version_mismatch (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  g_autoptr (ScMessage) reply = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);

  hello->version = 2;
  hello->name = g_strdup ("future-client");
  hello->nickname = g_strdup ("alice");
  reply = sc_test_peer_request (a, hello);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_VERSION_MISMATCH);
  g_assert_cmpstr (reply->reason, !=, "");
  sc_test_peer_expect_closed (a);
  /* It never joined, so nobody hears of it. */
  sc_test_peer_expect_none (b, SC_MSG_CLIENT_JOINED, 100);
  sc_test_peer_expect_none (b, SC_MSG_CLIENT_LEFT, 100);
  assert_get_name_works (b);
}

static void
test_hello_invalid_nickname (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autofree char *too_long = sc_test_text (SC_NICKNAME_MAX + 1, 'n');
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) ok = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);

  hello->name = g_strdup ("test");
  hello->nickname = g_strdup (too_long);
  reply = sc_test_peer_request (a, hello);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_INVALID_NICKNAME);
  /* The HELLO has not completed, and the client may try again. */
  ok = sc_test_peer_hello (a, "fine");
  g_assert_cmpstr (ok->nickname, ==, "fine");
}

static void
test_not_ready (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  static const ScMessageType types[] = {
    SC_MSG_GET_TIME,  SC_MSG_GET_NAME,     SC_MSG_LIST_CLIENTS,
    SC_MSG_BROADCAST, SC_MSG_SEND_MESSAGE, SC_MSG_SET_NICKNAME,
    SC_MSG_PING,
  };
  g_autoptr (ScMessage) hello = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      ScMessage *request = sc_message_new (types[i], 0);
      g_autoptr (ScMessage) reply = NULL;

      request->peer_id = sc_test_peer_get_id (b);
      request->text = g_strdup ("hi");
      request->nickname = g_strdup ("early");
      reply = sc_test_peer_request (a, request);
      g_assert_cmpuint (reply->status, ==, SC_STATUS_NOT_READY);
    }
  /* Nothing happened, and nobody heard of the client. */
  sc_test_peer_expect_none (b, SC_MSG_MESSAGE, 100);
  g_assert_cmpuint (sc_test_peer_n_buffered (b), ==, 0);
  hello = sc_test_peer_hello (a, "alice");
  assert_get_name_works (a);
}

static void
test_get_time (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScMessage) reply = simple_request (a, SC_MSG_GET_TIME);
  g_autoptr (GDateTime) parsed = NULL;
  gint64 now_ms = TEST_NOW_MS ();
  gint64 parsed_ms;

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpint (reply->time_ms, >=, now_ms - 5000);
  g_assert_cmpint (reply->time_ms, <=, now_ms + 5000);
  parsed = g_date_time_new_from_iso8601 (reply->iso_time, NULL);
  g_assert_nonnull (parsed);
  parsed_ms = g_date_time_to_unix (parsed) * 1000 +
              g_date_time_get_microsecond (parsed) / 1000;
  g_assert_cmpint (parsed_ms, >=, reply->time_ms - 1000);
  g_assert_cmpint (parsed_ms, <=, reply->time_ms + 1000);
  /* An explicit UTC offset, never a bare local time. */
  g_assert_true (g_regex_match_simple (
    "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}[+-]\\d\\d:\\d\\d$",
    reply->iso_time, 0, 0));
  g_assert_cmpstr (reply->timezone, !=, "");
}

static void
test_get_name (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");

  assert_get_name_works (a);
}

static void
test_ping (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  static const guint64 tokens[] = { 0, 1,
                                    G_GUINT64_CONSTANT (0xdeadbeefcafef00d),
                                    G_MAXUINT64 };

  for (gsize i = 0; i < G_N_ELEMENTS (tokens); i++)
    {
      ScMessage *ping = sc_message_new (SC_MSG_PING, 0);
      g_autoptr (ScMessage) reply = NULL;

      ping->token = tokens[i];
      reply = sc_test_peer_request (a, ping);
      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
      g_assert_cmpuint (reply->token, ==, tokens[i]);
    }
}

static ScMessage *
list_page (ScTestPeer *peer, guint32 after_id)
{
  ScMessage *request = sc_message_new (SC_MSG_LIST_CLIENTS, 0);
  ScMessage *reply;

  request->peer_id = after_id;
  reply = sc_test_peer_request (peer, request);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_nonnull (reply->clients);
  return reply;
}

static void
test_list_clients (Fixture *fixture, gconstpointer data)
{
  gint64 start_ms = TEST_NOW_MS ();
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  g_autoptr (ScTestPeer) unready = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) before = list_page (a, 0);
  g_autoptr (ScMessage) left = NULL;
  g_autoptr (ScMessage) after = NULL;

  /* A client that has not said hello is not listed. */
  g_assert_cmpuint (before->count, ==, 2);
  g_assert_cmpuint (before->more, ==, 0);
  g_assert_cmpuint (before->clients->len, ==, 2);
  assert_info_is_peer (g_ptr_array_index (before->clients, 0), a, "alice",
                       start_ms);
  assert_info_is_peer (g_ptr_array_index (before->clients, 1), b, "bob",
                       start_ms);

  g_clear_pointer (&b, sc_test_peer_free);
  left = sc_test_peer_expect (a, SC_MSG_CLIENT_LEFT);
  after = list_page (a, 0);
  g_assert_cmpuint (after->count, ==, 1);
  g_assert_cmpuint (after->more, ==, 0);
  g_assert_cmpuint (after->clients->len, ==, 1);
  assert_info_is_peer (g_ptr_array_index (after->clients, 0), a, "alice",
                       start_ms);
}

static void
test_list_after_id (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  g_autoptr (ScMessage) tail = list_page (a, sc_test_peer_get_id (a));
  g_autoptr (ScMessage) none = list_page (a, sc_test_peer_get_id (b));
  ScClientInfo *only;

  g_assert_cmpuint (tail->count, ==, 2);
  g_assert_cmpuint (tail->clients->len, ==, 1);
  only = g_ptr_array_index (tail->clients, 0);
  g_assert_cmpuint (only->id, ==, sc_test_peer_get_id (b));
  g_assert_cmpuint (none->count, ==, 2);
  g_assert_cmpuint (none->more, ==, 0);
  g_assert_cmpuint (none->clients->len, ==, 0);
}

#define N_LIST_CLIENTS 40

static void
test_list_pagination (Fixture *fixture, gconstpointer data)
{
  g_autoptr (GPtrArray) peers =
    g_ptr_array_new_with_free_func ((GDestroyNotify) sc_test_peer_free);
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);
  guint32 after_id = 0;
  guint pages = 0;
  gboolean more = TRUE;

  for (guint i = 0; i < N_LIST_CLIENTS; i++)
    {
      g_autofree char *nickname = g_strdup_printf ("client-%02u", i);

      g_ptr_array_add (peers, join (fixture, nickname));
    }
  for (pages = 0; more && pages < N_LIST_CLIENTS; pages++)
    {
      g_autoptr (ScMessage) page =
        list_page (g_ptr_array_index (peers, 0), after_id);

      g_assert_cmpuint (page->count, ==, N_LIST_CLIENTS);
      g_assert_cmpuint (page->clients->len, >, 0);
      for (guint i = 0; i < page->clients->len; i++)
        {
          ScClientInfo *info = g_ptr_array_index (page->clients, i);

          g_assert_cmpuint (info->id, >, after_id);
          g_assert_false (
            g_hash_table_contains (seen, GUINT_TO_POINTER (info->id)));
          g_hash_table_add (seen, GUINT_TO_POINTER (info->id));
          after_id = info->id;
        }
      more = page->more;
    }
  g_assert_false (more);
  g_assert_cmpuint (pages, >=, 2);
  g_assert_cmpuint (g_hash_table_size (seen), ==, N_LIST_CLIENTS);
  for (guint i = 0; i < N_LIST_CLIENTS; i++)
    g_assert_true (g_hash_table_contains (
      seen,
      GUINT_TO_POINTER (sc_test_peer_get_id (g_ptr_array_index (peers, i)))));
}

static void
test_joined_left (Fixture *fixture, gconstpointer data)
{
  gint64 start_ms = TEST_NOW_MS ();
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) hello = NULL;
  g_autoptr (ScMessage) joined = NULL;
  g_autoptr (ScMessage) left = NULL;
  guint32 b_id = sc_test_peer_get_id (b);

  /* Connecting is not joining: only a completed HELLO is announced. */
  sc_test_peer_expect_none (a, SC_MSG_CLIENT_JOINED, 100);
  hello = sc_test_peer_hello (b, "bob");
  joined = sc_test_peer_expect (a, SC_MSG_CLIENT_JOINED);
  g_assert_cmpuint (joined->request_id, ==, 0);
  assert_info_is_peer (&joined->sender, b, "bob", start_ms);
  /* Nobody is told of their own arrival. */
  sc_test_peer_expect_none (b, SC_MSG_CLIENT_JOINED, 100);

  g_clear_pointer (&b, sc_test_peer_free);
  left = sc_test_peer_expect (a, SC_MSG_CLIENT_LEFT);
  g_assert_cmpuint (left->client_id, ==, b_id);
  g_assert_cmpuint (left->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (left->reason, ==, "disconnected");
}

/* A client that says HELLO with SC_FLAG_NO_PRESENCE is never told who
 * joins, leaves or is renamed, but is still announced and reachable. */
static void
test_no_presence (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) quiet = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) c = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) joined = NULL;
  g_autoptr (ScMessage) send = sc_message_new (SC_MSG_SEND_MESSAGE, 0);
  g_autoptr (ScMessage) accepted = NULL;
  g_autoptr (ScMessage) message = NULL;

  hello->flags = SC_FLAG_NO_PRESENCE;
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("bot");
  reply = sc_test_peer_request (quiet, hello);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  joined = sc_test_peer_expect (a, SC_MSG_CLIENT_JOINED);
  g_assert_cmpuint (joined->sender.id, ==, sc_test_peer_get_id (quiet));

  c = join (fixture, "carol");
  g_clear_pointer (&c, sc_test_peer_free);
  sc_test_peer_expect_none (quiet, SC_MSG_CLIENT_JOINED, 200);
  sc_test_peer_expect_none (quiet, SC_MSG_CLIENT_LEFT, 100);

  send->peer_id = sc_test_peer_get_id (quiet);
  send->text = g_strdup ("still reachable");
  accepted = sc_test_peer_request (a, g_steal_pointer (&send));
  g_assert_cmpuint (accepted->status, ==, SC_STATUS_OK);
  message = sc_test_peer_expect (quiet, SC_MSG_MESSAGE);
  g_assert_cmpstr (message->text, ==, "still reachable");
}

static void
test_left_unready_silent (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (fixture->port);

  g_clear_pointer (&b, sc_test_peer_free);
  sc_test_server_wait_n_clients (fixture, 1, 5000);
  sc_test_peer_expect_none (a, SC_MSG_CLIENT_LEFT, 200);
}

static ScMessage *
set_nickname (ScTestPeer *peer, const char *nickname)
{
  ScMessage *request = sc_message_new (SC_MSG_SET_NICKNAME, 0);

  request->nickname = g_strdup (nickname);
  return sc_test_peer_request (peer, request);
}

static void
test_set_nickname (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  g_autoptr (ScMessage) reply = set_nickname (a, "Alice");
  g_autoptr (ScMessage) renamed = NULL;
  g_autoptr (ScMessage) list = NULL;
  ScClientInfo *first;

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (reply->nickname, ==, "Alice");
  renamed = sc_test_peer_expect (b, SC_MSG_CLIENT_RENAMED);
  g_assert_cmpuint (renamed->client_id, ==, sc_test_peer_get_id (a));
  g_assert_cmpstr (renamed->nickname, ==, "Alice");
  sc_test_peer_expect_none (a, SC_MSG_CLIENT_RENAMED, 100);

  list = list_page (b, 0);
  first = g_ptr_array_index (list->clients, 0);
  g_assert_cmpuint (first->id, ==, sc_test_peer_get_id (a));
  g_assert_cmpstr (first->nickname, ==, "Alice");
}

static void
test_set_nickname_invalid (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  g_autoptr (GString) wide = g_string_new (NULL);
  const char *invalid[] = { "",        "tab\there", "new\nline", "bell\a",
                            "del\x7f", NULL,        NULL };
  g_autoptr (ScMessage) ok = NULL;

  /* 32 bytes is the limit, counted in bytes, not characters. */
  for (guint i = 0; i < SC_NICKNAME_MAX / 2; i++)
    g_string_append (wide, "é");
  ok = set_nickname (a, wide->str);
  g_assert_cmpuint (ok->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (ok->nickname, ==, wide->str);
  g_string_append (wide, "é");
  invalid[5] = wide->str;
  for (gsize i = 0; invalid[i] != NULL; i++)
    {
      g_autoptr (ScMessage) reply = set_nickname (a, invalid[i]);

      g_test_message ("nickname “%s”", invalid[i]);
      g_assert_cmpuint (reply->status, ==, SC_STATUS_INVALID_NICKNAME);
      g_assert_cmpstr (reply->reason, !=, "");
    }
  /* Only the one valid change was announced. */
  g_clear_pointer (&ok, sc_message_free);
  ok = sc_test_peer_expect (b, SC_MSG_CLIENT_RENAMED);
  sc_test_peer_expect_none (b, SC_MSG_CLIENT_RENAMED, 100);
  assert_get_name_works (a);
}

static void
test_send_message (Fixture *fixture, gconstpointer data)
{
  gint64 start_ms = TEST_NOW_MS ();
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  guint32 b_id = sc_test_peer_get_id (b);
  g_autoptr (ScMessage) reply = send_text (a, b_id, "Hello, Bob!");
  g_autoptr (ScMessage) message = NULL;
  g_autoptr (ScMessage) receipt = NULL;

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpuint (reply->message_id, !=, 0);

  message = sc_test_peer_expect (b, SC_MSG_MESSAGE);
  g_assert_cmpuint (message->request_id, ==, 0);
  g_assert_cmpuint (message->message_id, ==, reply->message_id);
  g_assert_cmpuint (message->broadcast, ==, 0);
  g_assert_cmpstr (message->text, ==, "Hello, Bob!");
  g_assert_cmpint (message->time_ms, >=, start_ms - 1000);
  g_assert_cmpint (message->time_ms, <=, TEST_NOW_MS () + 1000);
  assert_info_is_peer (&message->sender, a, "alice", start_ms);

  /* No receipt before the recipient acknowledges. */
  sc_test_peer_expect_none (a, SC_MSG_DELIVERY_RECEIPT, 200);
  sc_test_peer_ack (b, message->message_id);
  receipt = sc_test_peer_expect (a, SC_MSG_DELIVERY_RECEIPT);
  g_assert_cmpuint (receipt->request_id, ==, 0);
  g_assert_cmpuint (receipt->message_id, ==, reply->message_id);
  g_assert_cmpuint (receipt->peer_id, ==, b_id);
  g_assert_cmpuint (receipt->status, ==, SC_STATUS_OK);
  /* docs/PROTOCOL.md 4.9: the reason is "" when delivered. */
  g_assert_cmpstr (receipt->reason, ==, "");

  /* A repeated acknowledgement changes nothing. */
  sc_test_peer_ack (b, message->message_id);
  sc_test_peer_ack (b, 987654321);
  sc_test_peer_expect_none (a, SC_MSG_DELIVERY_RECEIPT, 200);
  assert_get_name_works (b);
}

static void
test_send_message_ids_unique (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  g_autoptr (GHashTable) ids =
    g_hash_table_new_full (g_int64_hash, g_int64_equal, g_free, NULL);

  sc_test_peer_set_auto_ack (b, TRUE);
  for (guint i = 0; i < 20; i++)
    {
      ScTestPeer *from = i % 2 ? a : b;
      ScTestPeer *to = i % 2 ? b : a;
      g_autoptr (ScMessage) reply =
        send_text (from, sc_test_peer_get_id (to), "x");
      guint64 *id = g_new (guint64, 1);

      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
      *id = reply->message_id;
      g_assert_false (g_hash_table_contains (ids, id));
      g_hash_table_add (ids, id);
    }
}

static void
test_send_max_length (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "a-rather-long-nickname-32-bytes!");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  gsize limit = fixture->config->max_payload - SC_TEXT_RESERVE;
  g_autofree char *longest = sc_test_text (limit, 'L');
  g_autofree char *too_long = sc_test_text (limit + 1, 'T');
  g_autoptr (ScMessage) ok = send_text (a, sc_test_peer_get_id (b), longest);
  g_autoptr (ScMessage) refused = NULL;
  g_autoptr (ScMessage) message = NULL;

  g_assert_cmpuint (ok->status, ==, SC_STATUS_OK);
  /* The forwarded frame, sender details and all, fits max_payload: the
   * peer's reader enforces the limit the GREETING announced. */
  message = sc_test_peer_expect (b, SC_MSG_MESSAGE);
  g_assert_cmpstr (message->text, ==, longest);

  refused = send_text (a, sc_test_peer_get_id (b), too_long);
  g_assert_cmpuint (refused->status, ==, SC_STATUS_TOO_LARGE);
  sc_test_peer_expect_none (b, SC_MSG_MESSAGE, 200);
  assert_get_name_works (a);
}

static void
test_send_empty (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  g_autoptr (ScMessage) reply = send_text (a, sc_test_peer_get_id (b), "");
  ScMessage *broadcast = sc_message_new (SC_MSG_BROADCAST, 0);
  g_autoptr (ScMessage) broadcast_reply = NULL;

  g_assert_cmpuint (reply->status, ==, SC_STATUS_BAD_REQUEST);
  broadcast->text = g_strdup ("");
  broadcast_reply = sc_test_peer_request (a, broadcast);
  g_assert_cmpuint (broadcast_reply->status, ==, SC_STATUS_BAD_REQUEST);
  sc_test_peer_expect_none (b, SC_MSG_MESSAGE, 200);
  assert_get_name_works (a);
}

static void
test_send_to_zero (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScMessage) reply = send_text (a, 0, "anyone?");

  /* docs/PROTOCOL.md 5.4 and 5.9: recipient id 0 is a BAD_REQUEST. */
  g_assert_cmpuint (reply->status, ==, SC_STATUS_BAD_REQUEST);
  g_assert_cmpstr (reply->reason, !=, "");
  assert_get_name_works (a);
}

static void
test_send_to_unknown (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) unready = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) unknown = send_text (a, 999, "hello?");
  g_autoptr (ScMessage) not_ready = NULL;

  g_assert_cmpuint (unknown->status, ==, SC_STATUS_NO_SUCH_CLIENT);
  g_assert_cmpstr (unknown->reason, !=, "");
  /* A client that has not said hello cannot be messaged. */
  not_ready = send_text (a, sc_test_peer_get_id (unready), "hello?");
  g_assert_cmpuint (not_ready->status, ==, SC_STATUS_NO_SUCH_CLIENT);
  sc_test_peer_expect_none (unready, SC_MSG_MESSAGE, 100);
  assert_get_name_works (a);
}

static void
test_send_to_departed (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  guint32 b_id = sc_test_peer_get_id (b);
  g_autoptr (ScMessage) left = NULL;
  g_autoptr (ScMessage) reply = NULL;

  g_clear_pointer (&b, sc_test_peer_free);
  left = sc_test_peer_expect_about (a, SC_MSG_CLIENT_LEFT, b_id);
  reply = send_text (a, b_id, "still there?");
  g_assert_cmpuint (reply->status, ==, SC_STATUS_NO_SUCH_CLIENT);
  assert_get_name_works (a);
}

static void
test_receipt_recipient_left (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  guint32 b_id = sc_test_peer_get_id (b);
  g_autoptr (ScMessage) reply = send_text (a, b_id, "read this");
  g_autoptr (ScMessage) message = sc_test_peer_expect (b, SC_MSG_MESSAGE);
  g_autoptr (ScMessage) receipt = NULL;
  g_autoptr (ScMessage) left = NULL;

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_clear_pointer (&b, sc_test_peer_free);
  receipt = sc_test_peer_expect (a, SC_MSG_DELIVERY_RECEIPT);
  g_assert_cmpuint (receipt->message_id, ==, reply->message_id);
  g_assert_cmpuint (receipt->peer_id, ==, b_id);
  g_assert_cmpuint (receipt->status, ==, SC_STATUS_RECIPIENT_LEFT);
  g_assert_cmpstr (receipt->reason, !=, "");
  left = sc_test_peer_expect_about (a, SC_MSG_CLIENT_LEFT, b_id);
  sc_test_peer_expect_none (a, SC_MSG_DELIVERY_RECEIPT, 200);
}

#define N_BROADCAST 4

static void
test_broadcast (Fixture *fixture, gconstpointer data)
{
  ScTestPeer *peers[N_BROADCAST];
  g_autoptr (GHashTable) recipients = g_hash_table_new (NULL, NULL);
  ScMessage *request = sc_message_new (SC_MSG_BROADCAST, 0);
  g_autoptr (ScMessage) reply = NULL;

  for (guint i = 0; i < N_BROADCAST; i++)
    {
      g_autofree char *nickname = g_strdup_printf ("p%u", i);

      peers[i] = join (fixture, nickname);
    }
  request->text = g_strdup ("Hi all");
  reply = sc_test_peer_request (peers[0], request);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpuint (reply->count, ==, N_BROADCAST - 1);
  for (guint i = 1; i < N_BROADCAST; i++)
    {
      g_autoptr (ScMessage) message =
        sc_test_peer_expect (peers[i], SC_MSG_MESSAGE);

      g_assert_cmpuint (message->message_id, ==, reply->message_id);
      g_assert_cmpuint (message->broadcast, ==, 1);
      g_assert_cmpuint (message->sender.id, ==, sc_test_peer_get_id (peers[0]));
      g_assert_cmpstr (message->sender.nickname, ==, "p0");
      g_assert_cmpstr (message->text, ==, "Hi all");
      sc_test_peer_ack (peers[i], message->message_id);
    }
  for (guint i = 1; i < N_BROADCAST; i++)
    {
      g_autoptr (ScMessage) receipt =
        sc_test_peer_expect (peers[0], SC_MSG_DELIVERY_RECEIPT);

      g_assert_cmpuint (receipt->message_id, ==, reply->message_id);
      g_assert_cmpuint (receipt->status, ==, SC_STATUS_OK);
      g_assert_false (g_hash_table_contains (
        recipients, GUINT_TO_POINTER (receipt->peer_id)));
      g_hash_table_add (recipients, GUINT_TO_POINTER (receipt->peer_id));
    }
  for (guint i = 1; i < N_BROADCAST; i++)
    g_assert_true (g_hash_table_contains (
      recipients, GUINT_TO_POINTER (sc_test_peer_get_id (peers[i]))));
  /* The sender does not get its own broadcast; one receipt each only. */
  sc_test_peer_expect_none (peers[0], SC_MSG_MESSAGE, 100);
  sc_test_peer_expect_none (peers[0], SC_MSG_DELIVERY_RECEIPT, 100);
  for (guint i = 0; i < N_BROADCAST; i++)
    sc_test_peer_free (peers[i]);
}

static void
test_broadcast_alone (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) unready = sc_test_peer_connect (fixture->port);
  ScMessage *request = sc_message_new (SC_MSG_BROADCAST, 0);
  g_autoptr (ScMessage) reply = NULL;

  request->text = g_strdup ("anyone?");
  reply = sc_test_peer_request (a, request);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpuint (reply->count, ==, 0);
  sc_test_peer_expect_none (a, SC_MSG_DELIVERY_RECEIPT, 200);
  sc_test_peer_expect_none (unready, SC_MSG_MESSAGE, 10);
}

/* Appends @extra after the payload of @message's frame and fixes the
 * length, as a client with a longer (forged) payload would send it. */
static GByteArray *
frame_with_trailer (const ScMessage *message, const GByteArray *extra)
{
  GByteArray *frame = g_byte_array_new ();
  guint32 length;

  sc_message_append_frame (message, frame);
  g_byte_array_append (frame, extra->data, extra->len);
  length = GUINT32_TO_BE (frame->len - SC_FRAME_HEADER_SIZE);
  memcpy (frame->data + 12, &length, sizeof length);
  return frame;
}

static void
test_sender_not_spoofable (Fixture *fixture, gconstpointer data)
{
  gint64 start_ms = TEST_NOW_MS ();
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  g_autoptr (ScTestPeer) c = join (fixture, "carol");
  g_autoptr (ScMessage) request = sc_message_new (SC_MSG_SEND_MESSAGE, 0);
  g_autoptr (GByteArray) forged = g_byte_array_new ();
  g_autoptr (GByteArray) frame = NULL;
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) message = NULL;

  /* A client-info claiming to be bob, where a MESSAGE would carry one. */
  sc_wire_append_u32 (forged, sc_test_peer_get_id (b));
  sc_wire_append_u16 (forged, 1);
  sc_wire_append_u64 (forged, 0);
  sc_wire_append_string (forged, "bob");
  sc_wire_append_string (forged, "6.6.6.6");
  request->request_id = sc_test_peer_next_request_id (a);
  request->peer_id = sc_test_peer_get_id (c);
  request->text = g_strdup ("from bob, honest");
  /* Every flag bit SEND_MESSAGE does not define (1.1 defines QUIET and
   * NO_RECEIPT) is ignored. */
  request->flags = (guint16) ~(SC_FLAG_QUIET | SC_FLAG_NO_RECEIPT);
  frame = frame_with_trailer (request, forged);
  sc_test_peer_send_raw (a, frame->data, frame->len);

  reply = sc_test_peer_expect_about (a, SC_MSG_SEND_MESSAGE_REPLY,
                                     request->request_id);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  message = sc_test_peer_expect (c, SC_MSG_MESSAGE);
  assert_info_is_peer (&message->sender, a, "alice", start_ms);
  g_assert_cmpstr (message->text, ==, "from bob, honest");

  /* Bob's nickname cannot be taken while he uses it, and a text that
   * names bob still comes from alice. */
  g_clear_pointer (&reply, sc_message_free);
  g_clear_pointer (&message, sc_message_free);
  reply = set_nickname (a, "bob");
  g_assert_cmpuint (reply->status, ==, SC_STATUS_NICKNAME_IN_USE);
  g_clear_pointer (&reply, sc_message_free);
  reply = send_text (a, sc_test_peer_get_id (c), "it's me, bob");
  message = sc_test_peer_expect (c, SC_MSG_MESSAGE);
  g_assert_cmpuint (message->sender.id, ==, sc_test_peer_get_id (a));
  g_assert_cmpuint (message->sender.port, ==, sc_test_peer_get_local_port (a));
}

static void
test_pipelined_mixed (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = sc_test_peer_connect (fixture->port);
  g_autoptr (GByteArray) frames = g_byte_array_new ();
  static const ScMessageType types[] = { SC_MSG_HELLO, SC_MSG_GET_NAME,
                                         SC_MSG_GET_TIME, SC_MSG_PING,
                                         SC_MSG_LIST_CLIENTS };

  /* HELLO and the requests after it in one write: each is answered, in
   * order, and the ones after HELLO are served as a ready client's. */
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr (ScMessage) request = sc_message_new (types[i], i + 1);

      request->name = g_strdup ("test");
      request->nickname = g_strdup ("alice");
      request->token = i;
      sc_message_append_frame (request, frames);
    }
  sc_test_peer_send_raw (a, frames->data, frames->len);
  for (gsize i = 0; i < G_N_ELEMENTS (types); i++)
    {
      g_autoptr (ScMessage) reply = sc_test_peer_receive (a, 5000);

      g_assert_nonnull (reply);
      g_assert_cmpuint (reply->type, ==, types[i] | SC_MSG_REPLY_BIT);
      g_assert_cmpuint (reply->request_id, ==, i + 1);
      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
    }
}

static void
test_shutdown (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) notice_a = NULL;
  g_autoptr (ScMessage) notice_b = NULL;

  sc_server_stop (fixture->server);
  notice_a = sc_test_peer_expect (a, SC_MSG_SERVER_SHUTDOWN);
  notice_b = sc_test_peer_expect (b, SC_MSG_SERVER_SHUTDOWN);
  g_assert_cmpstr (notice_a->reason, !=, "");
  sc_test_peer_expect_closed (a);
  sc_test_peer_expect_closed (b);
  /* Nobody is told that the others left: they all go at once. */
  sc_test_peer_expect_none (a, SC_MSG_CLIENT_LEFT, 0);
}

static const ScTestServerOptions heartbeat_options = {
  .idle_timeout_s = 1,
  .ping_timeout_s = 1,
};

static void
test_heartbeat (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice");
  g_autoptr (ScTestPeer) b = join (fixture, "bob");
  guint32 b_id = sc_test_peer_get_id (b);
  g_autoptr (ScMessage) ping = NULL;
  g_autoptr (ScMessage) left = NULL;

  g_assert_cmpuint (sc_test_peer_get_greeting (a)->heartbeat_s, ==, 1);
  /* alice answers SERVER_PING with PONG (automatically); bob does not. */
  sc_test_peer_set_auto_pong (b, FALSE);
  sc_test_peer_set_timeout (a, 10000);
  sc_test_peer_set_timeout (b, 10000);
  ping = sc_test_peer_expect (b, SC_MSG_SERVER_PING);
  g_assert_cmpuint (ping->request_id, ==, 0);
  g_assert_cmpuint (ping->token, !=, 0);
  left = sc_test_peer_expect_about (a, SC_MSG_CLIENT_LEFT, b_id);
  g_assert_cmpuint (left->status, ==, SC_STATUS_TIMEOUT);
  sc_test_peer_expect_closed (b);
  /* alice, silent but answering, is still there. */
  assert_get_name_works (a);
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);

#define ADD(path, func)                                        \
  g_test_add (path, Fixture, NULL, sc_test_server_setup, func, \
              sc_test_server_teardown)

  ADD ("/server/greeting", test_greeting);
  ADD ("/server/greeting/ids", test_greeting_ids);
  ADD ("/server/hello", test_hello);
  ADD ("/server/hello/no-nickname", test_hello_no_nickname);
  ADD ("/server/hello/version-mismatch", test_hello_version_mismatch);
  ADD ("/server/hello/invalid-nickname", test_hello_invalid_nickname);
  ADD ("/server/hello/not-ready", test_not_ready);
  ADD ("/server/get-time", test_get_time);
  ADD ("/server/get-name", test_get_name);
  ADD ("/server/ping", test_ping);
  ADD ("/server/list", test_list_clients);
  ADD ("/server/list/after-id", test_list_after_id);
  ADD ("/server/clients/joined-left", test_joined_left);
  ADD ("/server/clients/no-presence", test_no_presence);
  ADD ("/server/clients/unready-leaves-silently", test_left_unready_silent);
  ADD ("/server/nickname", test_set_nickname);
  ADD ("/server/nickname/invalid", test_set_nickname_invalid);
  ADD ("/server/send", test_send_message);
  ADD ("/server/send/ids-unique", test_send_message_ids_unique);
  ADD ("/server/send/max-length", test_send_max_length);
  ADD ("/server/send/empty", test_send_empty);
  ADD ("/server/send/to-zero", test_send_to_zero);
  ADD ("/server/send/to-unknown", test_send_to_unknown);
  ADD ("/server/send/to-departed", test_send_to_departed);
  ADD ("/server/send/sender-not-spoofable", test_sender_not_spoofable);
  ADD ("/server/receipt/recipient-left", test_receipt_recipient_left);
  ADD ("/server/broadcast", test_broadcast);
  ADD ("/server/broadcast/alone", test_broadcast_alone);
  ADD ("/server/pipelined", test_pipelined_mixed);
  ADD ("/server/shutdown", test_shutdown);
#undef ADD

  {
    static const ScTestServerOptions small_payload = { .max_payload = 1024 };

    g_test_add ("/server/list/pagination", Fixture, &small_payload,
                sc_test_server_setup, test_list_pagination,
                sc_test_server_teardown);
  }
  g_test_add ("/server/heartbeat", Fixture, &heartbeat_options,
              sc_test_server_setup, test_heartbeat, sc_test_server_teardown);

  return g_test_run ();
}
