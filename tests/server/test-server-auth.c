/* test-server-auth.c: the server started with a password file.
 *
 * A HELLO with the right password joins; a wrong or missing one is
 * answered AUTH_FAILED and the connection closed; repeated failures from
 * one address are answered later and later; a success forgets them.
 */
#include "config.h"

#include "sc-auth-failures.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

typedef ScTestServer Fixture;

static const ScTestServerOptions with_password = { .password = "s3cret" };

/* Says HELLO with @password (NULL: none) and returns the reply and how
 * long it took, in milliseconds. */
static ScMessage *
hello_with (ScTestPeer *peer, const char *password, gint64 *elapsed_ms)
{
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);
  gint64 start = g_get_monotonic_time ();
  ScMessage *reply;

  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("guest");
  hello->password = g_strdup (password);
  reply = sc_test_peer_request (peer, hello);
  if (elapsed_ms)
    *elapsed_ms = (g_get_monotonic_time () - start) / 1000;
  return reply;
}

static void
assert_refused (Fixture *fixture, const char *password, gint64 *elapsed_ms)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = NULL;

  sc_test_peer_set_timeout (peer, 15000);
  reply = hello_with (peer, password, elapsed_ms);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_AUTH_FAILED);
  g_assert_cmpstr (reply->reason, !=, "");
  sc_test_peer_expect_closed (peer);
}

static void
test_right_password (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) reply = hello_with (peer, "s3cret", NULL);
  g_autoptr (ScMessage) name = NULL;

  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpuint (reply->client_id, ==, sc_test_peer_get_id (peer));
  name = sc_test_peer_request (peer, sc_message_new (SC_MSG_GET_NAME, 0));
  g_assert_cmpuint (name->status, ==, SC_STATUS_OK);
}

static void
test_wrong_and_missing (Fixture *fixture, gconstpointer data)
{
  assert_refused (fixture, "wrong", NULL);
  assert_refused (fixture, NULL, NULL);
  /* A prefix or an extension of the secret is just as wrong. */
  assert_refused (fixture, "s3cre", NULL);
  assert_refused (fixture, "s3cret!", NULL);
}

/* The first two failures are answered at once, then 250 ms, 500 ms, ...;
 * a success forgets the address's failures. */
static void
test_slow_down (Fixture *fixture, gconstpointer data)
{
  gint64 elapsed[4];
  g_autoptr (ScTestPeer) ok = NULL;
  g_autoptr (ScMessage) reply = NULL;
  gint64 after_success;

  for (guint i = 0; i < G_N_ELEMENTS (elapsed); i++)
    assert_refused (fixture, "guess", &elapsed[i]);
  g_assert_cmpint (elapsed[0], <, 200);
  g_assert_cmpint (elapsed[1], <, 200);
  g_assert_cmpint (elapsed[2], >=, 240);
  g_assert_cmpint (elapsed[3], >=, 490);

  ok = sc_test_peer_connect (fixture->port);
  reply = hello_with (ok, "s3cret", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  assert_refused (fixture, "guess", &after_success);
  g_assert_cmpint (after_success, <, 200);
}

/* While one address waits out its delay, other clients are served. */
static void
test_others_served_meanwhile (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) guesser = NULL;
  g_autoptr (ScTestPeer) other = NULL;
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) name = NULL;
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);

  for (guint i = 0; i < 5; i++)
    assert_refused (fixture, "guess", NULL);
  /* The sixth guess waits 2 s; meanwhile a right password is served. */
  guesser = sc_test_peer_connect (fixture->port);
  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("");
  hello->password = g_strdup ("guess");
  sc_test_peer_send (guesser, hello);

  other = sc_test_peer_connect (fixture->port);
  reply = hello_with (other, "s3cret", NULL);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  name = sc_test_peer_request (other, sc_message_new (SC_MSG_GET_NAME, 0));
  g_assert_cmpuint (name->status, ==, SC_STATUS_OK);
}

static void
test_compare (void)
{
  g_assert_true (sc_auth_password_matches ("s3cret", "s3cret"));
  g_assert_false (sc_auth_password_matches ("s3cret", "s3creT"));
  g_assert_false (sc_auth_password_matches ("s3cret", ""));
  g_assert_false (sc_auth_password_matches ("s3cret", NULL));
  g_assert_false (sc_auth_password_matches ("s3cret", "s3cret\\n"));
  g_assert_false (sc_auth_password_matches ("ab", "abab"));
}

static void
test_delays (void)
{
  g_assert_cmpuint (sc_auth_failures_delay_ms (1), ==, 0);
  g_assert_cmpuint (sc_auth_failures_delay_ms (2), ==, 0);
  g_assert_cmpuint (sc_auth_failures_delay_ms (3), ==, 250);
  g_assert_cmpuint (sc_auth_failures_delay_ms (4), ==, 500);
  g_assert_cmpuint (sc_auth_failures_delay_ms (8), ==, 8000);
  g_assert_cmpuint (sc_auth_failures_delay_ms (1000), ==, 8000);
}

int
main (int argc, char *argv[])
{
  sc_test_init (&argc, &argv);

#define ADD(path, func)                                                  \
  g_test_add (path, Fixture, &with_password, sc_test_server_setup, func, \
              sc_test_server_teardown)

  ADD ("/server/auth/right-password", test_right_password);
  ADD ("/server/auth/wrong-and-missing", test_wrong_and_missing);
  ADD ("/server/auth/slow-down", test_slow_down);
  ADD ("/server/auth/others-served-meanwhile", test_others_served_meanwhile);
  g_test_add_func ("/server/auth/compare", test_compare);
  g_test_add_func ("/server/auth/delays", test_delays);
  return g_test_run ();
}
