/* test-fuzz-replay.c: replays the fuzz seed corpus and every saved crash
 * input through sc_fuzz_frames(), one subtest per file, so that a crash
 * once found stays fixed and the seeds stay valid frames.
 *
 * The directories come from SC_FUZZ_CORPUS and SC_FUZZ_CRASHES, which
 * tests/meson.build points at the source tree.
 */
#include "config.h"

#include "sc-fuzz.h"
#include "sc-test-util.h"

static guint corpus_files;

static void
test_replay (gconstpointer data)
{
  const char *path = data;
  g_autofree char *basename = g_path_get_basename (path);
  g_autofree char *contents = NULL;
  g_autoptr (GError) error = NULL;
  gsize length = 0;
  guint decoded;

  g_assert_true (g_file_get_contents (path, &contents, &length, &error));
  g_assert_no_error (error);

  decoded = sc_fuzz_frames ((const guint8 *) contents, length);
  g_test_message ("%s: %" G_GSIZE_FORMAT " bytes, %u frames decoded", basename,
                  length, decoded);

  /* Seeds named for a message type hold one valid frame of that type;
   * multi-frame seeds hold several valid frames before anything else;
   * malformed seeds hold one frame the reader or the decoder refuses, so
   * none of them may decode. */
  if (g_str_has_prefix (basename, "msg-"))
    g_assert_cmpuint (decoded, ==, 1);
  else if (g_str_has_prefix (basename, "multi-"))
    g_assert_cmpuint (decoded, >=, 1);
  else if (g_str_has_prefix (basename, "bad-"))
    g_assert_cmpuint (decoded, ==, 0);
}

static void
test_corpus_not_empty (void)
{
  g_assert_cmpuint (corpus_files, >, 0);
}

/* Registers one replay subtest per sample in @directory, in name order
 * so that TAP output is stable.  Returns how many were added. */
static guint
add_directory (const char *directory, const char *kind, gboolean required)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GPtrArray) names = sc_test_sample_names (directory, &error);

  if (names == NULL)
    {
      /* A missing corpus fails below; missing crashes are no crashes. */
      if (required)
        g_test_message ("cannot open %s: %s", directory, error->message);
      return 0;
    }
  for (guint i = 0; i < names->len; i++)
    {
      const char *file = g_ptr_array_index (names, i);
      g_autofree char *test_path =
        g_strdup_printf ("/fuzz/replay/%s/%s", kind, file);

      g_test_add_data_func_full (test_path,
                                 g_build_filename (directory, file, NULL),
                                 test_replay, g_free);
    }
  return names->len;
}

static char *
directory_from_env (const char *variable, const char *fallback)
{
  const char *value = g_getenv (variable);

  /* Outside meson test, fall back on G_TEST_SRCDIR or the executable's
   * own directory. */
  if (value != NULL && *value != '\0')
    return g_strdup (value);
  return g_test_build_filename (G_TEST_DIST, "fuzz", fallback, NULL);
}

int
main (int argc, char *argv[])
{
  g_autofree char *corpus = NULL;
  g_autofree char *crashes = NULL;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  corpus = directory_from_env ("SC_FUZZ_CORPUS", "corpus");
  crashes = directory_from_env ("SC_FUZZ_CRASHES", "crashes");

  g_test_add_func ("/fuzz/replay/corpus-not-empty", test_corpus_not_empty);
  corpus_files = add_directory (corpus, "corpus", TRUE);
  add_directory (crashes, "crashes", FALSE);

  return g_test_run ();
}
