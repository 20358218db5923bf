/* test-server-identity.c: who a client may claim to be, seen from the
 * outside over real sockets (docs/PROTOCOL.md 5.1 and 5.5).
 *
 * Nicknames are unique after NFC and case folding and by confusable
 * skeleton (NICKNAME_IN_USE); unsafe ones (format characters, line
 * separators, edge or only white space) get INVALID_NICKNAME; registered
 * nicknames need their password, in HELLO or SET_NICKNAME, and wrong ones
 * are slowed down like the shared password's; --accounts-only refuses
 * the rest; --hide-addresses shows no one else's address.
 */
#include "config.h"

#include <poll.h>
#include <string.h>
#include <sys/socket.h>

#include "sc-test-peer.h"
#include "sc-test-server.h"

typedef ScTestServer Fixture;

static const char *const accounts[] = { "alice:wonderland", "李雷:hanmeimei",
                                        NULL };
static const ScTestServerOptions plain = { 0 };
static const ScTestServerOptions with_accounts = { .accounts = accounts };
static const ScTestServerOptions one_worker = { .accounts = accounts,
                                                .threads = 1 };
static const ScTestServerOptions accounts_only = { .accounts = accounts,
                                                   .accounts_only = TRUE };
static const ScTestServerOptions hidden = { .hide_addresses = TRUE };
/* Two accounts whose names do not look alike, though one's capital form
 * looks like the other. */
static const char *const near_accounts[] = { "alice:wonderland",
                                             "aiice:looking-glass", NULL };
static const ScTestServerOptions near_alike = { .accounts = near_accounts };

static ScMessage *
hello_as (ScTestPeer *peer, const char *nickname, const char *password)
{
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);

  hello->name = g_strdup ("test-identity");
  hello->nickname = g_strdup (nickname);
  hello->password = g_strdup (password);
  return sc_test_peer_request (peer, hello);
}

static ScMessage *
rename_to (ScTestPeer *peer, const char *nickname, const char *password)
{
  ScMessage *request = sc_message_new (SC_MSG_SET_NICKNAME, 0);

  request->nickname = g_strdup (nickname);
  request->password = g_strdup (password);
  return sc_test_peer_request (peer, request);
}

static ScTestPeer *
join (Fixture *fixture, const char *nickname, const char *password)
{
  ScTestPeer *peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = hello_as (peer, nickname, password);

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (reply->nickname, ==, nickname);
  return peer;
}

/* A HELLO refused with @status; the connection stays open for another
 * try unless the refusal closes it. */
static void
assert_hello_refused (ScTestPeer *peer,
                      const char *nickname,
                      const char *password,
                      ScStatus status)
{
  g_autoptr (ScMessage) reply = hello_as (peer, nickname, password);

  g_assert_cmpuint (reply->status, ==, status);
  g_assert_cmpstr (reply->reason, !=, "");
}

static void
assert_rename_refused (ScTestPeer *peer,
                       const char *nickname,
                       const char *password,
                       ScStatus status)
{
  g_autoptr (ScMessage) reply = rename_to (peer, nickname, password);

  g_assert_cmpuint (reply->status, ==, status);
  g_assert_cmpstr (reply->reason, !=, "");
}

/* The same nickname, in any case or normalization form, is taken once;
 * the refused client may try another name on the same connection. */
static void
test_unique (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice", NULL);
  g_autoptr (ScTestPeer) j = join (fixture, "Jos\u00e9", NULL);
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = NULL;

  assert_hello_refused (b, "alice", NULL, SC_STATUS_NICKNAME_IN_USE);
  assert_hello_refused (b, "ALICE", NULL, SC_STATUS_NICKNAME_IN_USE);
  assert_hello_refused (b, "jose\u0301", NULL, SC_STATUS_NICKNAME_IN_USE);
  reply = hello_as (b, "bob", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  /* No nickname is not a nickname: any number of clients have none. */
  g_clear_pointer (&reply, sc_message_free);
  {
    g_autoptr (ScTestPeer) x = join (fixture, "", NULL);
    g_autoptr (ScTestPeer) y = join (fixture, "", NULL);
  }
}

/* Names that only look alike are one name too. */
typedef struct
{
  Fixture *fixture;
  const char *nickname;
} NameQuery;

/* Whether a new client can say hello as the query's nickname now. */
static gboolean
nickname_free (gpointer data)
{
  NameQuery *query = data;
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (query->fixture->port);
  g_autoptr (ScMessage) reply = hello_as (peer, query->nickname, NULL);

  return reply->status == SC_STATUS_OK;
}

static void
test_confusable (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice", NULL);
  g_autoptr (ScTestPeer) b = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = NULL;

  reply = hello_as (b, "\u0430lice", NULL); /* Cyrillic a */
  g_assert_cmpuint (reply->status, ==, SC_STATUS_NICKNAME_IN_USE);
  g_assert_nonnull (strstr (reply->reason, "looks like"));
  assert_hello_refused (b, "\u0430lic\u0435", NULL, SC_STATUS_NICKNAME_IN_USE);
  /* A capital I for the l, which case folding alone would make an i. */
  assert_hello_refused (b, "aIice", NULL, SC_STATUS_NICKNAME_IN_USE);
  assert_hello_refused (b, "AIice", NULL, SC_STATUS_NICKNAME_IN_USE);
  /* "aiice" does not look like "alice"; another case of it does, and a
   * rename to it is checked against everyone else's names too. */
  {
    g_autoptr (ScTestPeer) e = join (fixture, "aiice", NULL);

    assert_rename_refused (e, "aIice", NULL, SC_STATUS_NICKNAME_IN_USE);
  }
  /* alice's names are free again once she leaves: nothing of hers was
   * taken over by the refused renames. */
  g_clear_pointer (&a, sc_test_peer_free);
  g_assert_true (
    sc_test_wait_until (nickname_free, &(NameQuery){ fixture, "alice" }, 5000));
}

static void
test_unsafe (Fixture *fixture, gconstpointer data)
{
  const char *unsafe[] = { "ali\u202Eecb", "al\u200Bice", "alice\u2028bob",
                           "\uFEFFbob",    "   ",         " bob",
                           "bob ",         "a\u2066b",    "a\x1b[2Jb",
                           "bob\uFE0F",    "b\u034Fob",   "\u3164" };
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) ready = join (fixture, "ready", NULL);

  for (gsize i = 0; i < G_N_ELEMENTS (unsafe); i++)
    {
      assert_hello_refused (peer, unsafe[i], NULL, SC_STATUS_INVALID_NICKNAME);
      assert_rename_refused (ready, unsafe[i], NULL,
                             SC_STATUS_INVALID_NICKNAME);
    }
}

/* A rename to a name in use is refused; to one's own name is answered
 * but announced to no one; a name is free again once its holder left. */
static void
test_rename (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice", NULL);
  g_autoptr (ScTestPeer) b = join (fixture, "bob", NULL);
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) renamed = NULL;

  assert_rename_refused (b, "Alice", NULL, SC_STATUS_NICKNAME_IN_USE);
  reply = rename_to (b, "bob", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  sc_test_peer_expect_none (a, SC_MSG_CLIENT_RENAMED, 200);

  g_clear_pointer (&reply, sc_message_free);
  reply = rename_to (a, "carol", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  renamed = sc_test_peer_expect (b, SC_MSG_CLIENT_RENAMED);
  g_assert_cmpstr (renamed->nickname, ==, "carol");
  /* alice is free now that nobody holds it. */
  g_clear_pointer (&reply, sc_message_free);
  reply = rename_to (b, "alice", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);

  g_clear_pointer (&a, sc_test_peer_free);
  sc_test_server_wait_n_clients (fixture, 1, 5000);
  g_clear_pointer (&reply, sc_message_free);
  reply = rename_to (b, "Carol", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
}

/* Two clients racing for one name: exactly one gets it. */
static void
test_race (Fixture *fixture, gconstpointer data)
{
  enum
  {
    N = 8
  };
  ScTestPeer *peers[N];
  guint winners = 0;

  for (guint i = 0; i < N; i++)
    peers[i] = sc_test_peer_connect (fixture->port);
  for (guint i = 0; i < N; i++)
    {
      ScMessage *hello = sc_message_new (SC_MSG_HELLO, 1);

      hello->name = g_strdup ("race");
      hello->nickname = g_strdup (i % 2 ? "Racer" : "racer");
      sc_test_peer_send (peers[i], hello);
    }
  for (guint i = 0; i < N; i++)
    {
      g_autoptr (ScMessage) reply =
        sc_test_peer_expect (peers[i], SC_MSG_HELLO_REPLY);

      if (reply->status == SC_STATUS_OK)
        winners++;
      else
        g_assert_cmpuint (reply->status, ==, SC_STATUS_NICKNAME_IN_USE);
    }
  /* Only now: a winner leaving early frees the name for a hello that a
   * busy worker has not served yet. */
  for (guint i = 0; i < N; i++)
    sc_test_peer_free (peers[i]);
  g_assert_cmpuint (winners, ==, 1);
}

static void
test_account_hello (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) wrong = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) other = NULL;
  g_autoptr (ScTestPeer) owner = NULL;
  g_autoptr (ScTestPeer) cjk = NULL;

  /* Without its password: the client is told the name is registered,
   * and may try again. */
  assert_hello_refused (peer, "alice", NULL, SC_STATUS_NICKNAME_REGISTERED);
  assert_hello_refused (peer, "Alice", NULL, SC_STATUS_NICKNAME_REGISTERED);
  /* A look-alike of a registered name is not to be had at all. */
  assert_hello_refused (peer, "\u0430lice", "wonderland",
                        SC_STATUS_NICKNAME_IN_USE);
  assert_hello_refused (peer, "AIice", NULL, SC_STATUS_NICKNAME_IN_USE);
  assert_hello_refused (peer, "a\u034Flice", NULL, SC_STATUS_INVALID_NICKNAME);
  /* A wrong password is refused and the connection closed, as with the
   * shared password. */
  assert_hello_refused (wrong, "alice", "guess", SC_STATUS_AUTH_FAILED);
  sc_test_peer_expect_closed (wrong);
  /* Unregistered nicknames stay free for anyone. */
  other = join (fixture, "carol", NULL);
  owner = join (fixture, "alice", "wonderland");
  g_assert_cmpuint (sc_test_peer_wait_joined (other, "alice"), ==,
                    sc_test_peer_get_id (owner));
  cjk = join (fixture, "李雷", "hanmeimei");
}

static void
test_account_rename (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) guest = join (fixture, "guest", NULL);
  g_autoptr (ScTestPeer) watcher = join (fixture, "watcher", NULL);
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) renamed = NULL;

  assert_rename_refused (guest, "alice", NULL, SC_STATUS_NICKNAME_REGISTERED);
  assert_rename_refused (guest, "alice", "guess", SC_STATUS_AUTH_FAILED);
  /* A wrong password for a rename leaves the client connected. */
  reply = rename_to (guest, "alice", "wonderland");
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  renamed = sc_test_peer_expect (watcher, SC_MSG_CLIENT_RENAMED);
  g_assert_cmpstr (renamed->nickname, ==, "alice");
  /* Its owner may change its case without the password again. */
  g_clear_pointer (&reply, sc_message_free);
  reply = rename_to (guest, "Alice", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
}

/* Wrong account passwords count as failed logins: after two from one
 * address, the next answer comes late. */
static void
test_account_slow_down (Fixture *fixture, gconstpointer data)
{
  gint64 elapsed_ms[3];

  for (guint i = 0; i < G_N_ELEMENTS (elapsed_ms); i++)
    {
      g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
      gint64 start = g_get_monotonic_time ();

      sc_test_peer_set_timeout (peer, 15000);
      assert_hello_refused (peer, "alice", "guess", SC_STATUS_AUTH_FAILED);
      elapsed_ms[i] = (g_get_monotonic_time () - start) / 1000;
    }
  g_assert_cmpint (elapsed_ms[2], >=, 240);
}

/* "aIice" is another case of the account "aiice" and looks like the
 * account "alice": not to be had, not even with aiice's password, while
 * "aiice" itself is. */
static void
test_account_look_alike (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) owner = NULL;

  sc_test_peer_set_timeout (peer, 15000);
  assert_hello_refused (peer, "aIice", "looking-glass",
                        SC_STATUS_NICKNAME_IN_USE);
  owner = join (fixture, "aiice", "looking-glass");
}

/* Guesses @n wrong passwords for "alice" on @peer, one after the other
 * (from the third on, each is answered later than the last), then sends
 * one more and leaves without waiting for its answer: the connection has
 * ended from the client's side but stays, its input paused, until that
 * answer is due, 250 ms after two failures, 2 s after five. */
static void
leave_while_guessing (ScTestPeer *peer, guint n)
{
  ScMessage *guess = sc_message_new (SC_MSG_SET_NICKNAME, 0);

  sc_test_peer_set_timeout (peer, 15000);
  for (guint i = 0; i < n; i++)
    assert_rename_refused (peer, "alice", "guess", SC_STATUS_AUTH_FAILED);
  guess->nickname = g_strdup ("alice");
  guess->password = g_strdup ("guess");
  sc_test_peer_send (peer, guess);
  g_assert_cmpint (shutdown (sc_test_peer_get_fd (peer), SHUT_WR), ==, 0);
}

/* A client that ends its connection and at once says hello again under
 * its nickname gets it, even while its old connection is still being
 * closed: the claim waits for the old one to go. */
static void
test_nickname_of_leaving_client (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) old = join (fixture, "bob", NULL);
  g_autoptr (ScTestPeer) again = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) answer = NULL;
  gint64 start;

  leave_while_guessing (old, 2);
  start = g_get_monotonic_time ();
  sc_test_peer_set_timeout (again, 15000);
  reply = hello_as (again, "bob", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpstr (reply->nickname, ==, "bob");
  g_test_message ("the nickname was given %.0f ms after the hello",
                  (g_get_monotonic_time () - start) / 1000.0);
  /* The old connection was answered, then closed. */
  answer = sc_test_peer_try_expect (old, SC_MSG_SET_NICKNAME_REPLY, 15000);
  g_assert_nonnull (answer);
  g_assert_cmpuint (answer->status, ==, SC_STATUS_AUTH_FAILED);
  g_assert_true (sc_test_peer_wait_closed (old, 5000));
}

/* A holder that has left but is not gone within a second: the claim is
 * refused then, as for a holder still there, and everyone else was
 * served meanwhile. */
static void
test_nickname_of_lingering_client (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) old = join (fixture, "bob", NULL);
  g_autoptr (ScTestPeer) other = join (fixture, "carol", NULL);
  g_autoptr (ScTestPeer) again = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) pong = NULL;
  g_autoptr (ScMessage) reply = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  gint64 start, pong_ms, refused_ms;

  leave_while_guessing (old, 5);
  start = g_get_monotonic_time ();
  hello->name = g_strdup ("test-identity");
  hello->nickname = g_strdup ("bob");
  sc_test_peer_send (again, hello);
  pong = sc_test_peer_request (other, sc_message_new (SC_MSG_PING, 0));
  pong_ms = (g_get_monotonic_time () - start) / 1000;
  sc_test_peer_set_timeout (again, 15000);
  reply = sc_test_peer_expect (again, SC_MSG_HELLO_REPLY);
  refused_ms = (g_get_monotonic_time () - start) / 1000;
  g_assert_cmpuint (reply->status, ==, SC_STATUS_NICKNAME_IN_USE);
  g_assert_cmpint (refused_ms, >=, 900);
  g_assert_cmpint (pong_ms, <, refused_ms);
  g_test_message ("refused after %" G_GINT64_FORMAT " ms; a ping meanwhile "
                  "answered after %" G_GINT64_FORMAT " ms",
                  refused_ms, pong_ms);
}

/* While an account's password is hashed (tens of milliseconds), the
 * worker that asked keeps serving its other clients: with one worker, a
 * ping sent after the HELLO is answered before the HELLO is. */
static void
test_account_check_off_worker (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) pinger = join (fixture, "pinger", NULL);
  g_autoptr (ScTestPeer) login = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) pong = NULL;
  g_autoptr (ScMessage) reply = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 7);
  struct pollfd fds[2] = { { sc_test_peer_get_fd (login), POLLIN, 0 },
                           { sc_test_peer_get_fd (pinger), POLLIN, 0 } };

  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("alice");
  hello->password = g_strdup ("wonderland");
  sc_test_peer_send (login, hello);
  /* Deliberate: lets the worker read the HELLO before the PING. */
  g_usleep (2000);
  sc_test_peer_send (pinger, sc_message_new (SC_MSG_PING, 0));
  g_assert_cmpint (poll (fds, 2, 10000), >, 0);
  /* Under valgrind (whose test setup sets SC_TEST_SLOWDOWN) threads take
   * turns on one lock, so the pool's check can hold the worker back:
   * there only both answers are checked. */
  if (g_getenv ("SC_TEST_SLOWDOWN") == NULL)
    {
      g_assert_true (fds[1].revents & POLLIN);
      g_assert_false (fds[0].revents & POLLIN);
    }
  pong = sc_test_peer_expect (pinger, SC_MSG_PING_REPLY);
  reply = sc_test_peer_expect (login, SC_MSG_HELLO_REPLY);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
}

static void
test_accounts_only (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScTestPeer) owner = NULL;

  assert_hello_refused (peer, "carol", NULL, SC_STATUS_INVALID_NICKNAME);
  assert_hello_refused (peer, "", NULL, SC_STATUS_INVALID_NICKNAME);
  owner = join (fixture, "alice", "wonderland");
  assert_rename_refused (owner, "carol", NULL, SC_STATUS_INVALID_NICKNAME);
}

static void
assert_hidden (const ScClientInfo *info)
{
  g_assert_cmpstr (info->address, ==, "");
  g_assert_cmpuint (info->port, ==, 0);
}

/* Others' addresses are "" and their ports 0 in lists, presence and
 * messages; a client still sees its own. */
static void
test_hide_addresses (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) a = join (fixture, "alice", NULL);
  g_autoptr (ScTestPeer) b = join (fixture, "bob", NULL);
  g_autoptr (ScMessage) joined = sc_test_peer_expect (a, SC_MSG_CLIENT_JOINED);
  g_autoptr (ScMessage) list = NULL;
  g_autoptr (ScMessage) message = NULL;
  ScMessage *send = sc_message_new (SC_MSG_SEND_MESSAGE, 0);

  assert_hidden (&joined->sender);
  list = sc_test_peer_request (a, sc_message_new (SC_MSG_LIST_CLIENTS, 0));
  g_assert_cmpuint (list->clients->len, ==, 2);
  for (guint i = 0; i < list->clients->len; i++)
    {
      ScClientInfo *info = g_ptr_array_index (list->clients, i);

      if (info->id == sc_test_peer_get_id (a))
        {
          g_assert_cmpstr (info->address, ==, "127.0.0.1");
          g_assert_cmpuint (info->port, ==, sc_test_peer_get_local_port (a));
        }
      else
        assert_hidden (info);
    }
  send->peer_id = sc_test_peer_get_id (a);
  send->text = g_strdup ("hi");
  sc_message_free (sc_test_peer_request (b, send));
  message = sc_test_peer_expect (a, SC_MSG_MESSAGE);
  assert_hidden (&message->sender);
}

int
main (int argc, char **argv)
{
  sc_test_init (&argc, &argv);

#define ADD(path, options, func)                                   \
  g_test_add (path, Fixture, &options, sc_test_server_setup, func, \
              sc_test_server_teardown)
  ADD ("/server/identity/unique", plain, test_unique);
  ADD ("/server/identity/confusable", plain, test_confusable);
  ADD ("/server/identity/unsafe", plain, test_unsafe);
  ADD ("/server/identity/rename", plain, test_rename);
  ADD ("/server/identity/race", plain, test_race);
  ADD ("/server/identity/account-hello", with_accounts, test_account_hello);
  ADD ("/server/identity/account-rename", with_accounts, test_account_rename);
  ADD ("/server/identity/account-slow-down", with_accounts,
       test_account_slow_down);
  ADD ("/server/identity/account-check-off-worker", one_worker,
       test_account_check_off_worker);
  ADD ("/server/identity/nickname-of-leaving-client", with_accounts,
       test_nickname_of_leaving_client);
  ADD ("/server/identity/nickname-of-lingering-client", with_accounts,
       test_nickname_of_lingering_client);
  ADD ("/server/identity/account-look-alike", near_alike,
       test_account_look_alike);
  ADD ("/server/identity/accounts-only", accounts_only, test_accounts_only);
  ADD ("/server/identity/hide-addresses", hidden, test_hide_addresses);
#undef ADD
  return g_test_run ();
}
