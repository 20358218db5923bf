/* test-server-replay.c: every fuzz seed and every past crash input, sent
 * through a real server connection, the path fuzz-server exercises.
 *
 * Each file is written to a fresh connection, which is then half-closed;
 * whatever the server answers is read until it closes its side.  Then a
 * well-behaved client must still be served.  An input that once crashed
 * the fuzz-server target becomes a regression test by being saved in
 * tests/fuzz/crashes/.
 */
#include "config.h"

#include <sys/socket.h>
#include <unistd.h>

#include "sc-socket.h"
#include "sc-test-peer.h"
#include "sc-test-server.h"

typedef ScTestServer Fixture;

/* The files' paths live as long as the test program. */
static GPtrArray *paths;

/* The test data is the file's path, not server options. */
static void
setup (Fixture *fixture, gconstpointer data)
{
  sc_test_server_setup (fixture, NULL);
}

static void
assert_still_served (Fixture *fixture)
{
  g_autoptr (ScTestPeer) peer = sc_test_peer_connect (fixture->port);
  g_autoptr (ScMessage) hello = sc_test_peer_hello (peer, "after");
  g_autoptr (ScMessage) name =
    sc_test_peer_request (peer, sc_message_new (SC_MSG_GET_NAME, 0));

  g_assert_cmpuint (name->status, ==, SC_STATUS_OK);
}

static void
test_replay (Fixture *fixture, gconstpointer data)
{
  const char *path = data;
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  gsize length;
  int fd;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);
  fd = sc_socket_connect ("127.0.0.1", fixture->port, 2000, &error);
  g_assert_no_error (error);
  /* The server may close mid-way through a bad input: a failed send is
   * part of the test, not an error. */
  sc_socket_send_all (fd, contents, length, NULL);
  shutdown (fd, SHUT_WR);
  g_assert_true (sc_test_drain_until_closed (fd, 5000));
  close (fd);
  assert_still_served (fixture);
}

/* Registers one replay subtest per sample in the directory that
 * @variable names; returns how many were added. */
static guint
add_directory (const char *variable, const char *kind)
{
  const char *directory = g_getenv (variable);
  g_autoptr (GPtrArray) names = NULL;

  /* A missing corpus fails /server/replay/corpus-found. */
  if (directory == NULL ||
      (names = sc_test_sample_names (directory, NULL)) == NULL)
    return 0;
  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);
      g_autofree char *test_path =
        g_strdup_printf ("/server/replay/%s/%s", kind, file);
      char *path = g_build_filename (directory, file, NULL);

      g_ptr_array_add (paths, path);
      g_test_add_vtable (test_path, sizeof (Fixture), path,
                         (GTestFixtureFunc) setup,
                         (GTestFixtureFunc) test_replay,
                         (GTestFixtureFunc) sc_test_server_teardown);
    }
  return names->len;
}

static void
test_corpus_found (gconstpointer data)
{
  g_assert_cmpuint (GPOINTER_TO_UINT (data), >, 0);
}

int
main (int argc, char *argv[])
{
  guint n_corpus;
  int status;

  sc_test_init (&argc, &argv);
  paths = g_ptr_array_new_with_free_func (g_free);
  n_corpus = add_directory ("SC_FUZZ_CORPUS", "corpus");
  add_directory ("SC_FUZZ_CRASHES", "crashes");
  g_test_add_data_func ("/server/replay/corpus-found",
                        GUINT_TO_POINTER (n_corpus), test_corpus_found);
  status = g_test_run ();
  g_ptr_array_unref (paths);
  return status;
}
