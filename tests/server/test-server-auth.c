/* test-server-auth.c: the server started with a password file.
 *
 * A HELLO with the right password joins; a wrong or missing one is
 * answered AUTH_FAILED and the connection closed; repeated failures from
 * one address are answered later and later, right passwords from it too;
 * a success forgets them.  Attempts under way are bounded per address,
 * and a guesser with many addresses gets a few guesses per second while
 * users from other addresses keep getting in.
 */
#include "config.h"

#include <sys/socket.h>
#include <time.h>

#include "sc-auth-failures.h"
#include "sc-server-private.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

typedef ScTestServer Fixture;

static const ScTestServerOptions with_password = { .password = "s3cret" };

/* Says HELLO with @password (NULL: none) and returns the reply and how
 * long it took, in milliseconds. */
static ScMessage *
new_hello (const char *password)
{
  ScMessage *hello = sc_message_new (SC_MSG_HELLO, 0);

  hello->name = g_strdup ("test");
  hello->nickname = g_strdup ("guest");
  hello->password = g_strdup (password);
  return hello;
}

static ScMessage *
hello_with (ScTestPeer *peer, const char *password, gint64 *elapsed_ms)
{
  gint64 start = g_get_monotonic_time ();
  ScMessage *reply;

  reply = sc_test_peer_request (peer, new_hello (password));
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

/* While one address waits out its delay, clients from another address
 * are served at once. */
static void
test_others_served_meanwhile (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) guesser = NULL;
  g_autoptr (ScTestPeer) other = NULL;
  g_autoptr (ScMessage) reply = NULL;
  g_autoptr (ScMessage) name = NULL;
  gint64 elapsed_ms;

  for (guint i = 0; i < 5; i++)
    assert_refused (fixture, "guess", NULL);
  /* The sixth guess waits 2 s; meanwhile a right password is served. */
  guesser = sc_test_peer_connect (fixture->port);
  sc_test_peer_send (guesser, new_hello ("guess"));

  other = sc_test_peer_connect_from (fixture->port, "127.0.0.2");
  reply = hello_with (other, "s3cret", &elapsed_ms);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpint (elapsed_ms, <, 1000);
  name = sc_test_peer_request (other, sc_message_new (SC_MSG_GET_NAME, 0));
  g_assert_cmpuint (name->status, ==, SC_STATUS_OK);
}

/* Once an address is suspect, the right password is answered as late as
 * a wrong one would be: how long the answer takes tells nothing. */
static void
test_success_delayed_too (Fixture *fixture, gconstpointer data)
{
  g_autoptr (ScTestPeer) peer = NULL;
  g_autoptr (ScMessage) reply = NULL;
  gint64 elapsed_ms;

  for (guint i = 0; i < 3; i++)
    assert_refused (fixture, "guess", NULL);
  /* A fourth failure would wait 500 ms, so the success waits as long. */
  peer = sc_test_peer_connect (fixture->port);
  reply = hello_with (peer, "s3cret", &elapsed_ms);
  g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
  g_assert_cmpint (elapsed_ms, >=, 490);
}

/* Attempts from one address under way at once are bounded: a third is
 * refused at once with SERVER_FULL, its password never checked. */
static void
test_concurrent_per_address (Fixture *fixture, gconstpointer data)
{
  ScTestPeer *peers[SC_AUTH_MAX_ATTEMPTS_PER_ADDRESS + 1];
  g_autoptr (ScMessage) refused = NULL;
  gint64 start;

  for (guint i = 0; i < 2; i++)
    assert_refused (fixture, "guess", NULL);
  /* Now every attempt from this address waits at least 250 ms. */
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    {
      peers[i] = sc_test_peer_connect (fixture->port);
      sc_test_peer_set_timeout (peers[i], 15000);
    }
  start = g_get_monotonic_time ();
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    sc_test_peer_send (peers[i], new_hello ("guess"));
  /* Within 200 ms exactly one answer comes: the refusal.  The admitted
   * attempts are answered after their 250 ms. */
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    {
      gint64 left_ms = 200 - (g_get_monotonic_time () - start) / 1000;
      g_autoptr (ScMessage) reply = sc_test_peer_try_expect (
        peers[i], SC_MSG_HELLO_REPLY, (guint) MAX (left_ms, 0));

      if (reply == NULL)
        continue;
      g_assert_null (refused);
      g_assert_cmpuint (reply->status, ==, SC_STATUS_SERVER_FULL);
      g_assert_cmpstr (reply->reason, !=, "");
      refused = g_steal_pointer (&reply);
      sc_test_peer_expect_closed (peers[i]);
      g_clear_pointer (&peers[i], sc_test_peer_free);
    }
  g_assert_nonnull (refused);
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    if (peers[i] != NULL)
      {
        g_autoptr (ScMessage) reply =
          sc_test_peer_expect (peers[i], SC_MSG_HELLO_REPLY);

        g_assert_cmpuint (reply->status, ==, SC_STATUS_AUTH_FAILED);
        sc_test_peer_expect_closed (peers[i]);
      }
  for (guint i = 0; i < G_N_ELEMENTS (peers); i++)
    sc_test_peer_free (peers[i]);
}

static gint64
cpu_time_us (void)
{
  struct timespec now;

  g_assert_cmpint (clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now), ==, 0);
  return (gint64) now.tv_sec * G_USEC_PER_SEC + now.tv_nsec / 1000;
}

/* A client that resets its connection while the answer to its password
 * is delayed (its input paused) is closed at once, and its worker does
 * not spin on the hang-up meanwhile. */
static gboolean
attempt_under_way (gpointer data)
{
  return sc_auth_failures_get_n_attempts (data) > 0;
}

static void
test_reset_during_delay (Fixture *fixture, gconstpointer data)
{
  ScAuthFailures *failures = fixture->server->auth_failures;
  g_autoptr (ScTestPeer) guesser = NULL;
  struct linger linger = { 1, 0 };
  gint64 cpu_before, cpu_used;

  for (guint i = 0; i < 5; i++)
    assert_refused (fixture, "guess", NULL);
  /* The sixth attempt waits 2 s for its answer. */
  guesser = sc_test_peer_connect (fixture->port);
  sc_test_peer_send (guesser, new_hello ("guess"));
  sc_test_wait_until (attempt_under_way, failures, 5000);
  g_assert_cmpuint (sc_auth_failures_get_n_attempts (failures), ==, 1);

  g_assert_cmpint (setsockopt (sc_test_peer_get_fd (guesser), SOL_SOCKET,
                               SO_LINGER, &linger, sizeof linger),
                   ==, 0);
  cpu_before = cpu_time_us ();
  g_clear_pointer (&guesser, sc_test_peer_free);
  /* Closed well before its answer was due, and its attempt given up. */
  sc_test_server_wait_n_clients (fixture, 0, 1000);
  g_assert_cmpuint (sc_auth_failures_get_n_attempts (failures), ==, 0);
  /* A deliberate half second inside the delay, for a spinning worker to
   * show in the CPU time. */
  g_usleep (500 * 1000);
  cpu_used = cpu_time_us () - cpu_before;
  g_test_message ("CPU time from the reset to 0.5 s after the close: "
                  "%" G_GINT64_FORMAT " ms",
                  cpu_used / 1000);
  g_assert_cmpint (cpu_used, <, 100 * 1000);
}

/* ------------------------------------------------------------------ */
/* A guesser with many addresses against the total rate. */

#define GUESS_ADDRESSES    8
#define GUESS_PER_ADDRESS  SC_AUTH_MAX_ATTEMPTS_PER_ADDRESS
#define GUESS_SECONDS      6
#define GUESS_MAX_ATTEMPTS 300 /* per guessing connection slot */
#define LEGIT_INTERVAL_MS  250
#define LEGIT_MAX_WAIT_MS  (SC_AUTH_CLEAN_HORIZON_MS + 1000)

typedef struct
{
  guint16 port;
  gint64 deadline;
  char address[32];
  gint guesses; /* answered AUTH_FAILED: a password really checked */
  gint refused; /* answered SERVER_FULL: not checked */
} Guesser;

/* One guessing connection slot: connect, guess, wait for the answer until
 * the deadline, again.  An answer not waited for teaches nothing. */
static gpointer
guess_thread (gpointer data)
{
  Guesser *guesser = data;

  for (guint i = 0; i < GUESS_MAX_ATTEMPTS; i++)
    {
      g_autoptr (ScTestPeer) peer = NULL;
      g_autoptr (ScMessage) reply = NULL;
      gint64 left_ms = (guesser->deadline - g_get_monotonic_time ()) / 1000;

      if (left_ms <= 0)
        break;
      peer = sc_test_peer_connect_from (guesser->port, guesser->address);
      sc_test_peer_send (peer, new_hello ("guess"));
      reply = sc_test_peer_try_expect (peer, SC_MSG_HELLO_REPLY, left_ms);
      if (reply == NULL)
        break;
      if (reply->status == SC_STATUS_AUTH_FAILED)
        g_atomic_int_inc (&guesser->guesses);
      else
        {
          g_assert_cmpuint (reply->status, ==, SC_STATUS_SERVER_FULL);
          g_atomic_int_inc (&guesser->refused);
        }
    }
  return NULL;
}

static void
test_guess_rate (Fixture *fixture, gconstpointer data)
{
  Guesser guessers[GUESS_ADDRESSES * GUESS_PER_ADDRESS];
  GThread *threads[G_N_ELEMENTS (guessers)];
  gint64 start = g_get_monotonic_time ();
  gint64 deadline = start + GUESS_SECONDS * G_USEC_PER_SEC;
  guint guesses = 0, refused = 0, logins = 0;
  gint64 slowest_login_ms = 0;
  double seconds, bound;

  for (guint i = 0; i < G_N_ELEMENTS (guessers); i++)
    {
      guessers[i].port = fixture->port;
      guessers[i].deadline = deadline;
      guessers[i].guesses = guessers[i].refused = 0;
      g_snprintf (guessers[i].address, sizeof guessers[i].address, "127.0.2.%u",
                  1 + i / GUESS_PER_ADDRESS);
      threads[i] = g_thread_new ("guesser", guess_thread, &guessers[i]);
    }

  /* Meanwhile a user from a new address logs in every 250 ms. */
  while (g_get_monotonic_time () < deadline)
    {
      g_autofree char *address =
        g_strdup_printf ("127.0.3.%u", 1 + logins % 250);
      g_autoptr (ScTestPeer) user =
        sc_test_peer_connect_from (fixture->port, address);
      g_autoptr (ScMessage) reply = NULL;
      gint64 elapsed_ms;

      g_autoptr (ScMessage) hello = new_hello ("s3cret");
      gint64 asked = g_get_monotonic_time ();

      /* Each user has a name of their own: nicknames are unique, and the
       * one before may still be leaving. */
      g_free (hello->nickname);
      hello->nickname = g_strdup_printf ("user%u", logins);
      sc_test_peer_set_timeout (user, LEGIT_MAX_WAIT_MS);
      reply = sc_test_peer_request (user, g_steal_pointer (&hello));
      elapsed_ms = (g_get_monotonic_time () - asked) / 1000;
      g_assert_cmpuint (reply->status, ==, SC_STATUS_OK);
      slowest_login_ms = MAX (slowest_login_ms, elapsed_ms);
      logins++;
      /* A deliberate pace for the legitimate users, not a wait for the
       * server: they come and go at 4 per second. */
      g_usleep (LEGIT_INTERVAL_MS * 1000);
    }

  for (guint i = 0; i < G_N_ELEMENTS (guessers); i++)
    {
      g_thread_join (threads[i]);
      guesses += (guint) guessers[i].guesses;
      refused += (guint) guessers[i].refused;
    }
  seconds = (double) (g_get_monotonic_time () - start) / G_USEC_PER_SEC;
  /* Both buckets' bursts, then their rates. */
  bound = SC_AUTH_CLEAN_BURST + SC_AUTH_SUSPECT_BURST +
          seconds * (1000.0 / SC_AUTH_CLEAN_INTERVAL_MS +
                     1000.0 / SC_AUTH_SUSPECT_INTERVAL_MS);
  g_test_message ("%u guesses answered in %.1f s from %u addresses "
                  "(%.1f guesses/s; bound %.0f), %u refused unchecked; "
                  "%u logins from other addresses, slowest %" G_GINT64_FORMAT
                  " ms",
                  guesses, seconds, GUESS_ADDRESSES, guesses / seconds, bound,
                  refused, logins, slowest_login_ms);
  g_assert_cmpfloat (guesses, <=, bound);
  g_assert_cmpuint (logins, >=, 5);
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
  ADD ("/server/auth/success-delayed-too", test_success_delayed_too);
  ADD ("/server/auth/concurrent-per-address", test_concurrent_per_address);
  ADD ("/server/auth/reset-during-delay", test_reset_during_delay);
  ADD ("/server/auth/guess-rate", test_guess_rate);
  g_test_add_func ("/server/auth/compare", test_compare);
  g_test_add_func ("/server/auth/delays", test_delays);
  return g_test_run ();
}
